/* Writing a model as a Hugging Face folder: config.json, tokenizer files and
 * safetensors shards, from a GGUF file or another folder. */
#include "model/convert.h"

#include "core/err.h"
#include "io/hf_tokenizer.h"
#include "model/kv_json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Tokenizer arrays are rebuilt from the tokenizer files; the file type is
 * the new one. Everything else travels in the safetensors metadata. */
static bool kv_travels(const char *key) {
    static const char *const SKIP[] = {"tokenizer.ggml.tokens",     "tokenizer.ggml.scores",
                                       "tokenizer.ggml.token_type", "tokenizer.ggml.merges",
                                       "general.file_type",         "general.quantization_version"};
    for (size_t i = 0; i < sizeof SKIP / sizeof SKIP[0]; i++)
        if (strcmp(key, SKIP[i]) == 0) return false;
    return true;
}

static enum mw_status save_gguf_kv(const mw_gguf *g, mw_st_writer *w, mw_err *err) {
    json_t *obj = json_object();
    for (int64_t i = 0; i < mw_gguf_n_kv(g); i++) {
        const mw_gguf_kv *kv = mw_gguf_kv_at(g, i);
        if (!kv_travels(kv->key)) continue;
        json_t *v = mw_kv_to_json(kv);
        if (v) json_object_set_new(obj, kv->key, v);
    }
    char *text = json_dumps(obj, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(obj);
    if (!text) return mw_fail(err, MW_ERR_NOMEM, "out of memory");
    enum mw_status s = mw_st_writer_set_metadata(w, MW_SAVED_KV_KEY, text, err);
    free(text);
    return s;
}

static enum mw_status add_json_file(mw_st_writer *w, const char *name, json_t *obj, mw_err *err) {
    char *text = json_dumps(obj, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    if (!text) return mw_fail(err, MW_ERR_NOMEM, "out of memory");
    size_t n = strlen(text);
    enum mw_status s = mw_st_writer_add_file(w, name, text, n, err);
    free(text);
    return s;
}

static int64_t token_id(const mw_gguf *g, const char *key) {
    int64_t v;
    return mw_gguf_kv_int(mw_gguf_find_kv(g, key), &v) ? v : -1;
}

static enum mw_status files_from_gguf(const mw_model *m, enum mw_type type, mw_st_writer *w,
                                      mw_err *err) {
    const mw_gguf *g = mw_model_gguf(m);
    json_t *config =
        mw_hparams_to_config(mw_model_hparams(m), type, token_id(g, "tokenizer.ggml.bos_token_id"),
                             token_id(g, "tokenizer.ggml.eos_token_id"));
    if (!config) return mw_fail(err, MW_ERR_UNSUPPORTED, "no config.json for this architecture");
    enum mw_status s = add_json_file(w, "config.json", config, err);
    json_decref(config);
    if (s || (s = save_gguf_kv(g, w, err))) return s;
    mw_hf_file *files = NULL;
    size_t n_files = 0;
    /* a GGUF without a tokenizer converts to a folder without tokenizer files */
    if (!mw_gguf_find_kv(g, "tokenizer.ggml.model")) return MW_OK;
    if ((s = mw_hf_tokenizer_from_gguf(g, &files, &n_files, err))) return s;
    for (size_t i = 0; i < n_files && !s; i++)
        s = mw_st_writer_add_file(w, files[i].name, files[i].data, files[i].size, err);
    mw_hf_files_free(files, n_files);
    return s;
}

static enum mw_status copy_file(mw_st_writer *w, const char *dir, const char *name, mw_err *err) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "rb");
    if (!f) return MW_OK; /* optional files */
    char *data = NULL;
    size_t n = 0, cap = 0;
    enum mw_status s = MW_OK;
    for (;;) {
        if (n == cap) {
            cap = cap ? 2 * cap : 65536;
            char *d = realloc(data, cap);
            if (!d) {
                s = mw_fail(err, MW_ERR_NOMEM, "out of memory reading %s", path);
                break;
            }
            data = d;
        }
        size_t k = fread(data + n, 1, cap - n, f);
        n += k;
        if (k == 0) break;
    }
    if (!s && ferror(f)) s = mw_fail(err, MW_ERR_IO, "cannot read %s", path);
    fclose(f);
    if (!s) s = mw_st_writer_add_file(w, name, data, n, err);
    free(data);
    return s;
}

static const char *const TOKENIZER_FILES[] = {"tokenizer.json",
                                              "tokenizer_config.json",
                                              "tokenizer.model",
                                              "special_tokens_map.json",
                                              "generation_config.json",
                                              "chat_template.jinja",
                                              NULL};

static enum mw_status files_from_folder(const mw_model *m, enum mw_type type, mw_st_writer *w,
                                        mw_err *err) {
    json_t *config = json_deep_copy(mw_model_config(m));
    if (!config) return mw_fail(err, MW_ERR_NOMEM, "out of memory");
    json_object_set_new(config, "torch_dtype",
                        json_string(type == MW_TYPE_F16    ? "float16"
                                    : type == MW_TYPE_BF16 ? "bfloat16"
                                                           : "float32"));
    enum mw_status s = add_json_file(w, "config.json", config, err);
    json_decref(config);
    const char *saved = mw_st_metadata(mw_model_st(m), MW_SAVED_KV_KEY);
    if (!s && saved) s = mw_st_writer_set_metadata(w, MW_SAVED_KV_KEY, saved, err);
    for (int i = 0; !s && TOKENIZER_FILES[i]; i++)
        s = copy_file(w, mw_model_dir(m), TOKENIZER_FILES[i], err);
    return s;
}

enum mw_status mw_convert_hf_begin(const mw_model *m, const char *dir, enum mw_type type,
                                   uint64_t max_shard_bytes, mw_st_writer **out, mw_err *err) {
    mw_st_writer *w = NULL;
    enum mw_status s = mw_st_writer_create(dir, max_shard_bytes, &w, err);
    if (s) return s;
    s = mw_model_format(m) == MW_FORMAT_GGUF ? files_from_gguf(m, type, w, err)
                                             : files_from_folder(m, type, w, err);
    if (s) {
        mw_st_writer_free(w);
        return s;
    }
    *out = w;
    return MW_OK;
}
