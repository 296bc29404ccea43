/* Tokenizer conversion between GGUF and Hugging Face folders: the entry points. */
#include "io/hf_tokenizer.h"

#include "core/err.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define MAX_MODEL_FILE (256u << 20)

void mw_hf_files_free(mw_hf_file *files, size_t n_files) {
    for (size_t i = 0; files && i < n_files; i++)
        free(files[i].data);
    free(files);
}

static void take(mw_hf_file *f, const char *name, mw_buf *b) {
    snprintf(f->name, sizeof f->name, "%s", name);
    f->data = b->data;
    f->size = b->len;
    *b = (mw_buf){0};
}

enum mw_status mw_hf_tokenizer_from_gguf(const mw_gguf *g, mw_hf_file **files, size_t *n_files,
                                         mw_err *err) {
    mw_vocab v;
    mw_buf b = {0};
    *files = NULL;
    *n_files = 0;
    enum mw_status s = mw_vocab_from_gguf(g, &v, err);
    if (s) return s;
    mw_hf_file *f = calloc(3, sizeof *f);
    size_t n = 0;
    if (!f) {
        s = mw_fail(err, MW_ERR_NOMEM, "out of memory");
        goto fail;
    }
    if ((s = mw_tokenizer_json_build(&v, &b, err))) goto fail;
    take(&f[n++], "tokenizer.json", &b);
    if ((s = mw_tokenizer_config_build(&v, g, &b, err))) goto fail;
    take(&f[n++], "tokenizer_config.json", &b);
    if (v.spm) {
        if ((s = mw_spm_write(&v, &b, err))) goto fail;
        take(&f[n++], "tokenizer.model", &b);
    }
    mw_vocab_free(&v);
    *files = f;
    *n_files = n;
    return MW_OK;
fail:
    free(b.data);
    mw_hf_files_free(f, n);
    mw_vocab_free(&v);
    return s;
}

static bool is_file(const char *dir, const char *name, char *path, size_t cap) {
    struct stat st;
    snprintf(path, cap, "%s/%s", dir, name);
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* An optional JSON file of the folder: NULL when absent. */
static enum mw_status load_optional(const char *dir, const char *name, json_t **out, mw_err *err) {
    char path[4096];
    *out = NULL;
    if (!is_file(dir, name, path, sizeof path)) return MW_OK;
    return mw_tok_json_load(path, out, err);
}

static enum mw_status read_file(const char *path, mw_buf *b, mw_err *err) {
    FILE *f = fopen(path, "rb");
    if (!f) return mw_fail(err, MW_ERR_IO, "cannot open %s", path);
    char chunk[65536];
    size_t n;
    while (!b->oom && b->len <= MAX_MODEL_FILE && (n = fread(chunk, 1, sizeof chunk, f)) > 0)
        mw_buf_put(b, chunk, n);
    bool bad = ferror(f);
    fclose(f);
    if (b->oom) return mw_fail(err, MW_ERR_NOMEM, "out of memory");
    if (bad) return mw_fail(err, MW_ERR_IO, "cannot read %s", path);
    if (b->len > MAX_MODEL_FILE) return mw_fail(err, MW_ERR_FORMAT, "%s is too large", path);
    return MW_OK;
}

/* config.json's vocab_size above the tokenizer's size: llama.cpp fills the gap with
 * "[PADn]" unused tokens. */
static enum mw_status pad_vocab(mw_vocab *v, const json_t *config, float score, mw_err *err) {
    const json_t *n = json_object_get(config, "vocab_size");
    if (!n) n = json_object_get(json_object_get(config, "text_config"), "vocab_size");
    /* a real when the file held a number too large for int64 somewhere */
    double d = json_number_value(n);
    if (!json_is_number(n) || d <= (double)v->n) return MW_OK;
    if (d > MW_TOK_MAX_TOKENS || d != floor(d))
        return mw_fail(err, MW_ERR_FORMAT, "config.json: vocab_size is not a usable size");
    int64_t total = (int64_t)d;
    char **tok = realloc(v->tok, (size_t)total * sizeof *tok);
    if (tok) v->tok = tok;
    int32_t *type = realloc(v->type, (size_t)total * sizeof *type);
    if (type) v->type = type;
    float *sc = v->score ? realloc(v->score, (size_t)total * sizeof *sc) : NULL;
    if (sc) v->score = sc;
    if (!tok || !type || (v->score && !sc)) return mw_fail(err, MW_ERR_NOMEM, "out of memory");
    for (; v->n < total; v->n++) {
        char pad[40];
        snprintf(pad, sizeof pad, "[PAD%lld]", (long long)v->n);
        if (!(v->tok[v->n] = strdup(pad))) return mw_fail(err, MW_ERR_NOMEM, "out of memory");
        v->type[v->n] = MW_TOK_UNUSED;
        if (v->score) v->score[v->n] = score;
    }
    return MW_OK;
}

static enum mw_status read_spm(const char *path, const char *arch, const json_t *config,
                               const json_t *tconfig, const json_t *added, mw_vocab *v,
                               mw_err *err) {
    mw_buf b = {0};
    mw_spm_info info;
    enum mw_status s = read_file(path, &b, err);
    if (!s) s = mw_spm_parse(b.data, b.len, v, &info, err);
    free(b.data);
    if (s) return s;
    if (info.model_type != 2)
        return mw_fail(err, MW_ERR_UNSUPPORTED,
                       "tokenizer.model: only BPE SentencePiece models are supported (this one "
                       "has model type %d, 1 = Unigram)",
                       (int)info.model_type);
    /* llama.cpp reads user-defined pieces as normal ones unless tokenizer_config.json
     * lists them */
    for (int64_t i = 0; i < v->n; i++)
        if (v->type[i] == MW_TOK_USER_DEFINED) v->type[i] = MW_TOK_NORMAL;
    if ((s = pad_vocab(v, config, -10000.0f, err)) ||
        (s = mw_spm_apply_added(v, tconfig, added, err)))
        return s;
    snprintf(v->pre, sizeof v->pre, "default");
    /* llama.cpp's Gemma converters say no space prefix; so does the model itself when it
     * turns the dummy prefix off */
    if (strncmp(arch, "gemma", 5) == 0 || !info.add_dummy_prefix) v->add_space_prefix = 0;
    return MW_OK;
}

/* A SentencePiece-style tokenizer.json adds the space prefix with a Prepend normalizer. */
static bool prepends_space(const json_t *norm) {
    const char *type = json_string_value(json_object_get(norm, "type"));
    const char *p = json_string_value(json_object_get(norm, "prepend"));
    if (type && strcmp(type, "Prepend") == 0 && p && strcmp(p, "\xe2\x96\x81") == 0) return true;
    const json_t *e;
    size_t i;
    json_array_foreach(json_object_get(norm, "normalizers"), i,
                       e) if (prepends_space(e)) return true;
    return false;
}

static enum mw_status resolve_pre(mw_vocab *v, const char *arch, mw_err *err) {
    if (v->pre[0]) return MW_OK;
    if (strncmp(arch, "qwen2", 5) == 0 || strncmp(arch, "qwen3", 5) == 0)
        snprintf(v->pre, sizeof v->pre, "qwen2");
    else if (strcmp(arch, "llama") == 0)
        snprintf(v->pre, sizeof v->pre, "llama-bpe");
    else
        return mw_fail(err, MW_ERR_UNSUPPORTED,
                       "tokenizer.json: the pre-tokenizer is not one llama.cpp knows by name "
                       "(set \"mwanda.gguf.pre\" in tokenizer_config.json)");
    return MW_OK;
}

typedef struct hf_files {
    json_t *tok_json, *tconfig, *config, *added;
} hf_files;

static enum mw_status read_vocab(const char *dir, const char *arch, hf_files *h, mw_vocab *v,
                                 mw_err *err) {
    char path[4096];
    enum mw_status s;
    if (is_file(dir, "tokenizer.model", path, sizeof path)) {
        if ((s = load_optional(dir, "added_tokens.json", &h->added, err)) ||
            (s = read_spm(path, arch, h->config, h->tconfig, h->added, v, err)))
            return s;
        return load_optional(dir, "tokenizer.json", &h->tok_json, err);
    }
    if (!is_file(dir, "tokenizer.json", path, sizeof path))
        return mw_fail(err, MW_ERR_NOT_FOUND, "%s has no tokenizer.model or tokenizer.json", dir);
    if ((s = mw_tokenizer_json_read(path, arch, v, &h->tok_json, err)) ||
        (s = pad_vocab(v, h->config, -1000.0f, err)))
        return s;
    if (v->spm) v->add_space_prefix = prepends_space(json_object_get(h->tok_json, "normalizer"));
    return MW_OK;
}

enum mw_status mw_hf_tokenizer_to_gguf(const char *dir, const char *arch, mw_gguf_writer *w,
                                       mw_err *err) {
    hf_files h = {0};
    mw_vocab v;
    mw_vocab_init(&v);
    if (!arch) arch = "";
    enum mw_status s;
    if ((s = load_optional(dir, "tokenizer_config.json", &h.tconfig, err)) ||
        (s = load_optional(dir, "config.json", &h.config, err)) ||
        (s = read_vocab(dir, arch, &h, &v, err)) ||
        (s = mw_hf_read_specials(&v, dir, h.tok_json, h.tconfig, h.config, err)))
        goto fail;
    if (!v.spm && (s = resolve_pre(&v, arch, err))) goto fail;
    s = mw_vocab_to_gguf(&v, w, err);
fail:
    json_decref(h.tok_json);
    json_decref(h.tconfig);
    json_decref(h.config);
    json_decref(h.added);
    mw_vocab_free(&v);
    return s;
}

const char *mw_hf_tokenizer_kind(const char *dir) {
    char path[4096];
    if (is_file(dir, "tokenizer.model", path, sizeof path))
        return "SentencePiece BPE (tokenizer.model)";
    if (!is_file(dir, "tokenizer.json", path, sizeof path)) return "none";
    json_t *j;
    if (mw_tok_json_load(path, &j, NULL)) return "unreadable (tokenizer.json)";
    const json_t *model = json_object_get(j, "model");
    const char *type = json_string_value(json_object_get(model, "type"));
    const char *kind = "unsupported (tokenizer.json)";
    if (type && strcmp(type, "BPE") == 0)
        kind = json_is_true(json_object_get(model, "byte_fallback"))
                   ? "SentencePiece-style BPE (tokenizer.json)"
                   : "byte-level BPE (tokenizer.json)";
    json_decref(j);
    return kind;
}
