/* Writing a model tensor by tensor, with some tensors' values supplied by
 * the caller (pruned weights), as GGUF or as a Hugging Face folder. */
#ifndef MW_MODEL_MODEL_WRITER_H
#define MW_MODEL_MODEL_WRITER_H

#include "model/model.h"

typedef struct mw_model_writer mw_model_writer;

enum mw_writer_order {
    MW_ORDER_SOURCE, /* as the source file holds them (GGUF -> GGUF keeps bytes in place) */
    MW_ORDER_BLOCKS, /* token embedding, then block by block, then the rest */
};

/* Opens `out` (GGUF when it ends in .gguf, else a folder) and declares every
 * tensor of m: matrices in `type`, vectors in F32. Nothing appears at `out`
 * before mw_model_writer_finish. */
enum mw_status mw_model_writer_create(const mw_model *m, const char *out, enum mw_type type,
                                      uint64_t max_shard_bytes, enum mw_writer_order order,
                                      mw_model_writer **w, mw_err *err);

/* Model tensor index of the next tensor to write, -1 when all are written. */
int64_t mw_model_writer_next(const mw_model_writer *w);
/* Block of the next tensor (-1 outside blocks, INT64_MAX when done). */
int64_t mw_model_writer_next_block(const mw_model_writer *w);

/* Writes the next tensor from `values` (the whole tensor in f32, GGUF layout)
 * or, when values is NULL, from the model file. */
enum mw_status mw_model_writer_put(mw_model_writer *w, const float *values, mw_err *err);

/* Completes the output (every tensor must have been written) and frees w. */
enum mw_status mw_model_writer_finish(mw_model_writer *w, mw_err *err);
/* Abandons the output: nothing is left at `out`. */
void mw_model_writer_free(mw_model_writer *w);

#endif
