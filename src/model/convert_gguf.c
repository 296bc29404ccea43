/* Writing a model as GGUF, from a GGUF file or a Hugging Face folder. One
 * tensor is held in f32 at a time. */
#include "model/convert.h"

#include "core/err.h"
#include "io/hf_tokenizer.h"
#include "model/kv_json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* llama_ftype values for general.file_type */
static uint32_t file_type_of(enum mw_type t) {
    return t == MW_TYPE_F16 ? 1 : t == MW_TYPE_BF16 ? 32 : 0;
}

enum mw_type mw_convert_tensor_type(const mw_tensor *t, enum mw_type target) {
    /* vectors (norms, biases) stay f32, as llama.cpp keeps them */
    return t->n_dims >= 2 && t->ne[1] > 1 ? target : MW_TYPE_F32;
}

/* Keys a folder keeps in its safetensors metadata for the way back. */
static enum mw_status restore_saved_kv(const mw_model *m, mw_gguf_writer *w, mw_err *err) {
    const char *saved = mw_st_metadata(mw_model_st(m), MW_SAVED_KV_KEY);
    if (!saved) return MW_OK;
    json_error_t je;
    json_t *obj = json_loads(saved, JSON_REJECT_DUPLICATES, &je);
    if (!json_is_object(obj)) {
        json_decref(obj);
        return mw_fail(err, MW_ERR_FORMAT, "%s: metadata '%s' is not a JSON object",
                       mw_model_dir(m), MW_SAVED_KV_KEY);
    }
    const char *key;
    json_t *v;
    enum mw_status s = MW_OK;
    json_object_foreach(obj, key, v) {
        if ((s = mw_kv_from_json(key, v, w, err))) break;
    }
    json_decref(obj);
    return s;
}

static void folder_name(const char *dir, char *out, size_t size) {
    size_t n = strlen(dir);
    while (n > 1 && dir[n - 1] == '/')
        n--;
    size_t b = n;
    while (b > 0 && dir[b - 1] != '/')
        b--;
    snprintf(out, size, "%.*s", (int)(n - b), dir + b);
}

static enum mw_status metadata_from_folder(const mw_model *m, mw_gguf_writer *w, mw_err *err) {
    /* the folder's name, unless the saved keys of an earlier GGUF give one */
    char name[256];
    folder_name(mw_model_dir(m), name, sizeof name);
    enum mw_status s = mw_gguf_writer_set_str(w, "general.name", name, err);
    if (s || (s = restore_saved_kv(m, w, err))) return s;
    if ((s = mw_hparams_to_gguf(mw_model_hparams(m), w, err))) return s;
    /* a folder without tokenizer files converts to a GGUF without a tokenizer */
    if (strcmp(mw_hf_tokenizer_kind(mw_model_dir(m)), "none") == 0) return MW_OK;
    return mw_hf_tokenizer_to_gguf(mw_model_dir(m), mw_model_hparams(m)->arch, w, err);
}

static enum mw_status metadata_from_gguf(const mw_model *m, mw_gguf_writer *w, mw_err *err) {
    const mw_gguf *g = mw_model_gguf(m);
    for (int64_t i = 0; i < mw_gguf_n_kv(g); i++) {
        const mw_gguf_kv *kv = mw_gguf_kv_at(g, i);
        /* a dequantized file has no quantization version */
        if (strcmp(kv->key, "general.quantization_version") == 0) continue;
        enum mw_status s = mw_gguf_writer_set_kv(w, kv, err);
        if (s) return s;
    }
    return MW_OK;
}

/* Block tensors in the order llama.cpp's converter writes them. */
static int64_t order_key(const mw_model *m, const mw_tensor *t) {
    const char *n = t->name;
    if (strcmp(n, "token_embd.weight") == 0) return -1;
    if (strncmp(n, "blk.", 4) != 0)
        return strcmp(n, "output_norm.weight") == 0 ? INT64_MAX - 1 : INT64_MAX;
    long blk = strtol(n + 4, NULL, 10);
    const char *rest = strchr(n + 4, '.') + 1;
    int64_t pos = 0;
    for (const mw_name_pair *p = mw_model_arch(m)->blk; p->gguf; p++, pos++) {
        size_t k = strlen(p->gguf);
        if (strncmp(rest, p->gguf, k) == 0 && rest[k] == '.') break;
    }
    return (int64_t)blk * 1000 + pos * 2 + (strstr(rest, ".bias") != NULL);
}

static const mw_model *sort_model;
static int cmp_order(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    int64_t kx = order_key(sort_model, mw_model_tensor_at(sort_model, x));
    int64_t ky = order_key(sort_model, mw_model_tensor_at(sort_model, y));
    return kx < ky ? -1 : kx > ky ? 1 : (x > y) - (x < y);
}

static enum mw_status tensor_order(const mw_model *m, int64_t **out, mw_err *err) {
    int64_t n = mw_model_n_tensors(m);
    int64_t *order = malloc((size_t)(n ? n : 1) * sizeof *order);
    if (!order) return mw_fail(err, MW_ERR_NOMEM, "out of memory");
    for (int64_t i = 0; i < n; i++)
        order[i] = i;
    if (mw_model_format(m) == MW_FORMAT_SAFETENSORS) {
        sort_model = m; /* qsort has no context argument in C17 */
        qsort(order, (size_t)n, sizeof *order, cmp_order);
        sort_model = NULL;
    }
    *out = order;
    return MW_OK;
}

static enum mw_status gguf_sink(void *w, const void *data, uint64_t n, mw_err *err) {
    return mw_gguf_writer_write_tensor_part(w, data, n, err);
}

static enum mw_status write_tensors(const mw_model *m, mw_gguf_writer *w, const int64_t *order,
                                    enum mw_type type, mw_progress_fn progress, void *user,
                                    mw_err *err) {
    int64_t n = mw_model_n_tensors(m);
    enum mw_status s = MW_OK;
    mw_convert_buf buf = {0};
    for (int64_t k = 0; k < n && !s; k++) {
        const mw_tensor *t = mw_model_tensor_at(m, order[k]);
        s = mw_convert_stream(m, order[k], NULL, MW_GGUF_LAYOUT, mw_convert_tensor_type(t, type),
                              gguf_sink, w, &buf, err);
        if (progress) progress(user, t->name, k + 1, n);
    }
    mw_convert_buf_free(&buf);
    return s;
}

enum mw_status mw_convert_to_gguf(const mw_model *m, const char *path, enum mw_type type,
                                  mw_progress_fn progress, void *user, mw_err *err) {
    mw_gguf_writer *w = NULL;
    int64_t *order = NULL;
    enum mw_status s = mw_gguf_writer_create(path, &w, err);
    if (s) return s;
    s = mw_model_format(m) == MW_FORMAT_GGUF ? metadata_from_gguf(m, w, err)
                                             : metadata_from_folder(m, w, err);
    if (!s) s = mw_gguf_writer_set_u32(w, "general.file_type", file_type_of(type), err);
    if (!s) s = tensor_order(m, &order, err);
    for (int64_t k = 0; !s && k < mw_model_n_tensors(m); k++) {
        const mw_tensor *t = mw_model_tensor_at(m, order[k]);
        s = mw_gguf_writer_add_tensor(w, t->name, mw_convert_tensor_type(t, type), t->n_dims, t->ne,
                                      err);
    }
    if (!s) s = write_tensors(m, w, order, type, progress, user, err);
    free(order);
    if (s) {
        mw_gguf_writer_free(w);
        return s;
    }
    return mw_gguf_writer_finish(w, err);
}
