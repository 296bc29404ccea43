#include "model/convert.h"

#include "core/err.h"

#include <stdlib.h>
#include <string.h>

void mw_convert_buf_free(mw_convert_buf *b) {
    if (b->out != b->f32) free(b->out);
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

enum mw_status mw_convert_load(const mw_model *m, int64_t i, enum mw_type type, mw_convert_buf *b,
                               mw_err *err) {
    const mw_tensor *t = mw_model_tensor_at(m, i);
    uint64_t n = t->n_elems, out_bytes;
    if (n > UINT64_MAX / sizeof(float) || !mw_type_row_bytes(type, n, &out_bytes))
        return mw_fail(err, MW_ERR_SHAPE, "tensor '%s' is too large", t->name);
    if (b->out == b->f32) b->out = NULL, b->out_cap = 0;
    if (!reserve((void **)&b->f32, &b->f32_cap, n * sizeof(float)))
        return mw_fail(err, MW_ERR_NOMEM, "out of memory for tensor '%s' (%llu values)", t->name,
                       (unsigned long long)n);
    enum mw_status s = mw_model_tensor_f32(m, i, b->f32, err);
    if (s) return s;
    if (type == MW_TYPE_F32) {
        free(b->out);
        b->out = b->f32;
        b->out_cap = 0;
        return MW_OK;
    }
    if (!reserve(&b->out, &b->out_cap, out_bytes))
        return mw_fail(err, MW_ERR_NOMEM, "out of memory for tensor '%s'", t->name);
    return mw_quantize(type, b->f32, b->out, n, err);
}

static bool ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

enum mw_status mw_model_convert(const mw_model *m, const char *out_path, enum mw_type type,
                                uint64_t max_shard_bytes, mw_progress_fn progress, void *user,
                                mw_err *err) {
    if (type != MW_TYPE_F32 && type != MW_TYPE_F16 && type != MW_TYPE_BF16)
        return mw_fail(err, MW_ERR_ARG, "output type must be f32, f16 or bf16");
    if (ends_with(out_path, ".gguf"))
        return mw_convert_to_gguf(m, out_path, type, progress, user, err);
    return mw_convert_to_hf(m, out_path, type, max_shard_bytes, progress, user, err);
}
