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
    float *f32;       /* one chunk of rows in f32 */
    uint64_t f32_cap; /* floats */
    void *out;        /* the chunk in the output type */
    uint64_t out_cap; /* bytes */
} mw_convert_buf;
void mw_convert_buf_free(mw_convert_buf *b);

/* Where converted bytes go: a writer's write_tensor_part. */
typedef enum mw_status (*mw_sink_fn)(void *sink, const void *data, uint64_t n_bytes, mw_err *err);

enum mw_layout_dir { MW_KEEP_LAYOUT, MW_GGUF_LAYOUT, MW_HF_LAYOUT };

/* Streams one tensor, converted to `type`, to sink in chunks of whole rows,
 * so memory stays bounded whatever the tensor's size. With MW_GGUF_LAYOUT
 * or MW_HF_LAYOUT the rows come from model tensor i in that layout; with
 * MW_KEEP_LAYOUT from the file tensor `raw` exactly as stored. With `src`
 * (the whole of model tensor i in f32, GGUF layout) the values come from
 * there instead of the file; layout then says where they go. */
enum mw_status mw_convert_stream(const mw_model *m, int64_t i, const mw_tensor *raw,
                                 const float *src, enum mw_layout_dir layout, enum mw_type type,
                                 mw_sink_fn sink, void *ctx, mw_convert_buf *b, mw_err *err);

/* The metadata half of a conversion: the output opened, keys and extra
 * files written, no tensor declared yet. */
enum mw_status mw_convert_gguf_begin(const mw_model *m, const char *path, enum mw_type type,
                                     mw_gguf_writer **out, mw_err *err);
enum mw_status mw_convert_hf_begin(const mw_model *m, const char *dir, enum mw_type type,
                                   uint64_t max_shard_bytes, mw_st_writer **out, mw_err *err);

/* Position of a tensor in llama.cpp's writing order: the token embedding,
 * then block by block, then the rest. */
int64_t mw_convert_order_key(const mw_model *m, const char *gguf_name);
/* Block of a GGUF tensor name (blk.N....), or -1. */
int64_t mw_convert_block_of(const char *gguf_name);

#endif
