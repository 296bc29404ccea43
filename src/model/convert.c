#include "model/convert.h"

#include "core/err.h"
#include "core/mapfile.h"

#include <stdlib.h>
#include <string.h>

/* About 16 MB of f32 per chunk */
#define CHUNK_FLOATS (4u << 20)

void mw_convert_buf_free(mw_convert_buf *b) {
    free(b->out);
    free(b->f32);
    memset(b, 0, sizeof *b);
}

static bool reserve(void **p, uint64_t *cap, uint64_t need) {
    if (need <= *cap) return true;
    void *q = realloc(*p, need ? need : 1);
    if (!q) return false;
    *p = q;
    *cap = need;
    return true;
}

/* Rows per chunk: a multiple of `align`, about CHUNK_FLOATS values. */
static int64_t chunk_rows(int64_t row_len, int64_t n_rows, int64_t align) {
    int64_t rows = row_len > 0 ? (int64_t)CHUNK_FLOATS / row_len : n_rows;
    rows -= rows % align;
    if (rows < align) rows = align;
    return rows < n_rows ? rows : n_rows;
}

static enum mw_status load_rows(const mw_model *m, int64_t i, const mw_tensor *t,
                                enum mw_layout_dir layout, int64_t first, int64_t n, float *dst,
                                mw_err *err) {
    if (layout == MW_KEEP_LAYOUT) {
        uint64_t row_bytes = 0;
        mw_type_row_bytes(t->type, (uint64_t)t->ne[0], &row_bytes);
        const uint8_t *src = (const uint8_t *)t->data + (uint64_t)first * row_bytes;
        return mw_dequantize(t->type, src, dst, (uint64_t)n * (uint64_t)t->ne[0], err);
    }
    enum mw_status s = mw_model_tensor_rows_f32(m, i, first, n, dst, err);
    if (!s && layout == MW_HF_LAYOUT)
        s = mw_layout_gguf_to_hf(mw_model_arch(m), mw_model_hparams(m), t, first, n, dst, err);
    return s;
}

enum mw_status mw_convert_stream(const mw_model *m, int64_t i, const mw_tensor *raw,
                                 const float *src, enum mw_layout_dir layout, enum mw_type type,
                                 mw_sink_fn sink, void *ctx, mw_convert_buf *b, mw_err *err) {
    const mw_tensor *t = layout == MW_KEEP_LAYOUT ? raw : mw_model_tensor_at(m, i);
    if (src && layout == MW_KEEP_LAYOUT)
        return mw_fail(err, MW_ERR_ARG, "values for '%s' need a layout", t->name);
    int64_t row_len = t->ne[0];
    int64_t n_rows = row_len ? (int64_t)(t->n_elems / (uint64_t)row_len) : 0;
    int64_t align = layout == MW_KEEP_LAYOUT ? 1 : mw_model_row_align(m, i);
    uint64_t row_bytes = 0;
    mw_type_row_bytes(t->type, (uint64_t)row_len, &row_bytes);
    /* a reordered bias is one row that must be converted whole */
    int64_t step = t->n_dims == 1 ? n_rows : chunk_rows(row_len, n_rows, align);
    /* an empty tensor still has to be marked written */
    enum mw_status s = n_rows == 0 ? sink(ctx, NULL, 0, err) : MW_OK;
    for (int64_t first = 0; first < n_rows && !s; first += step) {
        int64_t n = n_rows - first < step ? n_rows - first : step;
        uint64_t n_vals = (uint64_t)n * (uint64_t)row_len, out_bytes = 0;
        if (!mw_type_row_bytes(type, n_vals, &out_bytes) ||
            !reserve((void **)&b->f32, &b->f32_cap, n_vals * sizeof(float)) ||
            !reserve(&b->out, &b->out_cap, out_bytes))
            return mw_fail(err, MW_ERR_NOMEM, "out of memory converting tensor '%s'", t->name);
        if (src) {
            memcpy(b->f32, src + (uint64_t)first * (uint64_t)row_len, n_vals * sizeof(float));
            if (layout == MW_HF_LAYOUT)
                s = mw_layout_gguf_to_hf(mw_model_arch(m), mw_model_hparams(m), t, first, n, b->f32,
                                         err);
        } else {
            s = load_rows(m, i, t, layout, first, n, b->f32, err);
            mw_map_release((const uint8_t *)t->data + (uint64_t)first * row_bytes,
                           (uint64_t)n * row_bytes);
        }
        if (s) break;
        if (!(s = mw_quantize(type, b->f32, b->out, n_vals, err)))
            s = sink(ctx, b->out, out_bytes, err);
    }
    if (s) return mw_fail_context(err, s, "converting tensor '%s'", t->name);
    return MW_OK;
}
