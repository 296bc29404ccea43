/* Test driver for the tokenizer conversion:
 *   mw-tok-tool to-hf MODEL.gguf OUTDIR      tokenizer files of a GGUF into OUTDIR
 *   mw-tok-tool to-gguf DIR ARCH OUT.gguf    a GGUF with only the tokenizer entries
 *   mw-tok-tool kind DIR                     the folder's tokenizer kind */
#include "io/hf_tokenizer.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

static int fail(enum mw_status s, const mw_err *err) {
    fprintf(stderr, "mw-tok-tool: %s (%s)\n", err->msg, mw_strerror(s));
    return 1;
}

static int to_hf(const char *gguf_path, const char *dir) {
    mw_err err = {{0}};
    mw_gguf *g = NULL;
    mw_hf_file *files = NULL;
    size_t n = 0;
    enum mw_status s = mw_gguf_open(gguf_path, &g, &err);
    if (!s) s = mw_hf_tokenizer_from_gguf(g, &files, &n, &err);
    mw_gguf_close(g);
    if (s) return fail(s, &err);
    if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
        perror(dir);
        mw_hf_files_free(files, n);
        return 1;
    }
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, files[i].name);
        FILE *f = fopen(path, "wb");
        if (!f || fwrite(files[i].data, 1, files[i].size, f) != files[i].size) rc = 1;
        if (f && fclose(f) != 0) rc = 1;
        if (rc) perror(path);
    }
    mw_hf_files_free(files, n);
    return rc;
}

static int to_gguf(const char *dir, const char *arch, const char *out) {
    mw_err err = {{0}};
    mw_gguf_writer *w = NULL;
    enum mw_status s = mw_gguf_writer_create(out, &w, &err);
    if (!s) s = mw_gguf_writer_set_str(w, "general.architecture", arch, &err);
    if (!s) s = mw_hf_tokenizer_to_gguf(dir, arch, w, &err);
    if (!s) {
        s = mw_gguf_writer_finish(w, &err);
        w = NULL;
    }
    mw_gguf_writer_free(w);
    return s ? fail(s, &err) : 0;
}

int main(int argc, char **argv) {
    if (argc == 4 && strcmp(argv[1], "to-hf") == 0) return to_hf(argv[2], argv[3]);
    if (argc == 5 && strcmp(argv[1], "to-gguf") == 0) return to_gguf(argv[2], argv[3], argv[4]);
    if (argc == 3 && strcmp(argv[1], "kind") == 0) {
        printf("%s\n", mw_hf_tokenizer_kind(argv[2]));
        return 0;
    }
    fprintf(stderr, "usage: mw-tok-tool to-hf MODEL.gguf OUTDIR | to-gguf DIR ARCH OUT.gguf | "
                    "kind DIR\n");
    return 2;
}
