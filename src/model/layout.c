/* The two places where llama.cpp's tensors differ from Hugging Face's beyond
 * their names: the row order of llama q/k projections, and Gemma's RMSNorm
 * weights, stored as w in HF and as 1 + w in GGUF. */
#include "model/model.h"

#include "core/err.h"

#include <stdlib.h>
#include <string.h>

/* Within each head of hd rows, HF keeps the first halves of the rotated pairs
 * then the second halves; llama.cpp interleaves them. GGUF row h*hd + 2j + i
 * is HF row h*hd + i*hd/2 + j. */
static enum mw_status permute_rows(float *data, int64_t n_rows, int64_t row_len, int64_t n_heads,
                                   bool to_gguf, mw_err *err) {
    if (n_heads <= 0 || n_rows % n_heads != 0 || (n_rows / n_heads) % 2 != 0)
        return mw_fail(err, MW_ERR_SHAPE, "cannot reorder %lld rows into %lld heads",
                       (long long)n_rows, (long long)n_heads);
    int64_t hd = n_rows / n_heads, half = hd / 2;
    size_t head_bytes = (size_t)(hd * row_len) * sizeof(float);
    float *tmp = malloc(head_bytes);
    if (!tmp) return mw_fail(err, MW_ERR_NOMEM, "out of memory");
    for (int64_t h = 0; h < n_heads; h++) {
        float *head = data + h * hd * row_len;
        memcpy(tmp, head, head_bytes);
        for (int64_t i = 0; i < 2; i++)
            for (int64_t j = 0; j < half; j++) {
                int64_t g = 2 * j + i, f = i * half + j;
                int64_t dst = to_gguf ? g : f, src = to_gguf ? f : g;
                memcpy(head + dst * row_len, tmp + src * row_len, (size_t)row_len * sizeof(float));
            }
    }
    free(tmp);
    return MW_OK;
}

static enum mw_status convert(const mw_arch *a, const mw_hparams *hp, const mw_tensor *t,
                              float *data, bool to_gguf, mw_err *err) {
    int qk = mw_arch_qk_kind(t->name);
    if (a->permute_qk && qk) {
        int64_t rows = (int64_t)(t->n_elems / (uint64_t)t->ne[0]);
        int64_t heads = qk == 1 ? hp->n_head : hp->n_head_kv;
        bool is_bias = t->n_dims == 1;
        enum mw_status s = permute_rows(data, is_bias ? t->ne[0] : rows, is_bias ? 1 : t->ne[0],
                                        heads, to_gguf, err);
        if (s) return mw_fail_context(err, s, "tensor '%s'", t->name);
    }
    if (a->norm_plus_one && mw_arch_is_norm(t->name)) {
        float shift = to_gguf ? 1.0f : -1.0f;
        for (uint64_t i = 0; i < t->n_elems; i++)
            data[i] += shift;
    }
    return MW_OK;
}

enum mw_status mw_layout_hf_to_gguf(const mw_arch *a, const mw_hparams *hp, const mw_tensor *t,
                                    float *data, mw_err *err) {
    return convert(a, hp, t, data, true, err);
}

enum mw_status mw_layout_gguf_to_hf(const mw_arch *a, const mw_hparams *hp, const mw_tensor *t,
                                    float *data, mw_err *err) {
    return convert(a, hp, t, data, false, err);
}
