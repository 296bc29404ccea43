/* Outputs being written and mw_remove_partial_outputs: what a signal handler
 * removes (temporary files, then their folders), what it leaves (finished
 * outputs, forgotten slots, a resumable run's state), and a full table. */
#include "check.h"

#include "core/outfile.h"
#include "core/pending.h"
#include "mwanda.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static bool exists(const char *path) {
    struct stat sb;
    return stat(path, &sb) == 0;
}

static void touch(const char *path) {
    FILE *f = fopen(path, "w");
    if (f) fclose(f);
}

int main(void) {
    char dir[] = "/tmp/mw-pending-XXXXXX", path[4096];
    if (!mkdtemp(dir)) return 1;
    mw_err err = {{0}};

    /* an output being written and a state file: only the output goes */
    snprintf(path, sizeof path, "%s/out.gguf", dir);
    mw_outfile out, state;
    CHECK(mw_outfile_open(&out, path, MW_OUTFILE_OUTPUT, &err) == MW_OK, "%s", err.msg);
    snprintf(path, sizeof path, "%s/state.bin", dir);
    CHECK(mw_outfile_open(&state, path, MW_OUTFILE_STATE, &err) == MW_OK, "%s", err.msg);
    CHECK(mw_outfile_write(&out, "abc", 3, &err) == MW_OK);
    char out_tmp[4096], state_tmp[4096];
    snprintf(out_tmp, sizeof out_tmp, "%s", out.tmp_path);
    snprintf(state_tmp, sizeof state_tmp, "%s", state.tmp_path);
    mw_remove_partial_outputs();
    CHECK(!exists(out_tmp), "%s", out_tmp);
    CHECK(exists(state_tmp), "%s", state_tmp);
    /* the write then fails, and the destination never appears */
    CHECK(mw_outfile_commit(&out, &err) != MW_OK);
    snprintf(path, sizeof path, "%s/out.gguf", dir);
    CHECK(!exists(path));
    CHECK(mw_outfile_commit(&state, &err) == MW_OK, "%s", err.msg);

    /* a committed output is forgotten: a later signal leaves it alone, and
     * an abort after the commit drops no other output's slot */
    CHECK(mw_outfile_open(&out, path, MW_OUTFILE_OUTPUT, &err) == MW_OK, "%s", err.msg);
    CHECK(mw_outfile_commit(&out, &err) == MW_OK, "%s", err.msg);
    mw_outfile_abort(&out);
    char other[4096];
    snprintf(other, sizeof other, "%s/other.gguf", dir);
    mw_outfile o2;
    CHECK(mw_outfile_open(&o2, other, MW_OUTFILE_OUTPUT, &err) == MW_OK, "%s", err.msg);
    mw_outfile_abort(&out);
    snprintf(out_tmp, sizeof out_tmp, "%s", o2.tmp_path);
    mw_remove_partial_outputs();
    CHECK(exists(path), "a finished output was removed");
    CHECK(!exists(out_tmp), "a second abort dropped another output's slot");
    mw_outfile_abort(&o2);

    /* a temporary folder with files in it: files first, then the folder,
     * whatever order they were recorded in */
    char sub[512], f1[4096], f2[4096];
    snprintf(sub, sizeof sub, "%s/model.tmp-x", dir);
    snprintf(f1, sizeof f1, "%s/a.safetensors", sub);
    snprintf(f2, sizeof f2, "%s/config.json", sub);
    CHECK(mkdir(sub, 0700) == 0);
    touch(f1);
    touch(f2);
    int s1 = mw_pending_add(f1), sd = mw_pending_add(sub), s2 = mw_pending_add(f2);
    CHECK(s1 >= 0 && sd >= 0 && s2 >= 0);
    mw_remove_partial_outputs();
    CHECK(!exists(f1) && !exists(f2) && !exists(sub));
    mw_pending_drop(s1);
    mw_pending_drop(sd);
    mw_pending_drop(s2);

    /* a dropped slot is not removed; a full table says so, and drop(-1) is
     * harmless */
    snprintf(f1, sizeof f1, "%s/kept", dir);
    touch(f1);
    mw_pending_drop(mw_pending_add(f1));
    int slots[100], n = 0;
    while (n < 100 && (slots[n] = mw_pending_add(f1)) >= 0)
        n++;
    CHECK(n == MW_PENDING_SLOTS, "%d slots", n);
    for (int i = 0; i < n; i++)
        mw_pending_drop(slots[i]);
    mw_pending_drop(-1);
    mw_remove_partial_outputs();
    CHECK(exists(f1));
    char *longer = malloc(5000);
    memset(longer, 'a', 4999);
    longer[4999] = 0;
    CHECK(mw_pending_add(longer) == -1, "a path longer than a slot");
    free(longer);

    unlink(f1);
    snprintf(path, sizeof path, "%s/out.gguf", dir);
    unlink(path);
    snprintf(path, sizeof path, "%s/state.bin", dir);
    unlink(path);
    CHECK(rmdir(dir) == 0, "%s is not empty", dir);
    return check_exit();
}
