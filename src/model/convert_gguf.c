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

enum mw_status mw_convert_gguf_begin(const mw_model *m, const char *path, enum mw_type type,
                                     mw_gguf_writer **out, mw_err *err) {
    mw_gguf_writer *w = NULL;
    enum mw_status s = mw_gguf_writer_create(path, &w, err);
    if (s) return s;
    s = mw_model_format(m) == MW_FORMAT_GGUF ? metadata_from_gguf(m, w, err)
                                             : metadata_from_folder(m, w, err);
    if (!s) s = mw_gguf_writer_set_u32(w, "general.file_type", file_type_of(type), err);
    if (s) {
        mw_gguf_writer_free(w);
        return s;
    }
    *out = w;
    return MW_OK;
}
