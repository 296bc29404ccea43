/* Model conversion between GGUF files and Hugging Face folders. */
#ifndef MW_MODEL_CONVERT_H
#define MW_MODEL_CONVERT_H

#include "model/model.h"

/* safetensors metadata entry holding the GGUF keys a folder has no other
 * place for (JSON object of mw_kv_to_json values) */
#define MW_SAVED_KV_KEY "mwanda.gguf_metadata"

/* The type a tensor is written in when the target type is `target`. */
enum mw_type mw_convert_tensor_type(const mw_tensor *t, enum mw_type target);

/* Scratch buffers reused across tensors. */
typedef struct mw_convert_buf {
    float *f32;
    uint64_t f32_cap; /* floats */
    void *out;        /* f32 itself when the output type is F32 */
    uint64_t out_cap; /* bytes */
} mw_convert_buf;
void mw_convert_buf_free(mw_convert_buf *b);

/* Loads model tensor i in GGUF layout and stores it in `type` at b->out. */
enum mw_status mw_convert_load(const mw_model *m, int64_t i, enum mw_type type, mw_convert_buf *b,
                               mw_err *err);

enum mw_status mw_convert_to_gguf(const mw_model *m, const char *path, enum mw_type type,
                                  mw_progress_fn progress, void *user, mw_err *err);
enum mw_status mw_convert_to_hf(const mw_model *m, const char *dir, enum mw_type type,
                                uint64_t max_shard_bytes, mw_progress_fn progress, void *user,
                                mw_err *err);

#endif
