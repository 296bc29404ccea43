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
static enum mw_status permute_rows(float *data, int64_t n_rows, int64_t row_len, int64_t hd,
                                   bool to_gguf, mw_err *err) {
    if (hd <= 0 || hd % 2 != 0 || n_rows % hd != 0)
        return mw_fail(err, MW_ERR_SHAPE, "cannot reorder %lld rows in heads of %lld",
                       (long long)n_rows, (long long)hd);
    int64_t half = hd / 2;
    size_t head_bytes = (size_t)(hd * row_len) * sizeof(float);
    float *tmp = malloc(head_bytes);
    if (!tmp) return mw_fail(err, MW_ERR_NOMEM, "out of memory");
    for (int64_t h = 0; h < n_rows / hd; h++) {
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

int64_t mw_layout_row_align(const mw_arch *a, const mw_hparams *hp, const mw_tensor *t) {
    if (a->permute_qk && mw_arch_qk_kind(t->name) && t->n_dims >= 2) return hp->head_dim;
    return 1;
}

static enum mw_status convert(const mw_arch *a, const mw_hparams *hp, const mw_tensor *t,
                              int64_t first, int64_t n_rows, float *data, bool to_gguf,
                              mw_err *err) {
    if (a->permute_qk && mw_arch_qk_kind(t->name)) {
        /* a bias is one row whose values are reordered like matrix rows */
        bool is_bias = t->n_dims == 1;
        int64_t align = is_bias ? 1 : hp->head_dim;
        if (first % align != 0 || n_rows % align != 0)
            return mw_fail(err, MW_ERR_ARG, "tensor '%s': rows [%lld, +%lld) split a head", t->name,
                           (long long)first, (long long)n_rows);
        enum mw_status s = permute_rows(data, is_bias ? t->ne[0] : n_rows, is_bias ? 1 : t->ne[0],
                                        hp->head_dim, to_gguf, err);
        if (s) return mw_fail_context(err, s, "tensor '%s'", t->name);
    }
    if (a->norm_plus_one && mw_arch_is_norm(t->name)) {
        float shift = to_gguf ? 1.0f : -1.0f;
        uint64_t n = (uint64_t)n_rows * (uint64_t)t->ne[0];
        for (uint64_t i = 0; i < n; i++)
            data[i] += shift;
    }
    return MW_OK;
}

enum mw_status mw_layout_hf_to_gguf(const mw_arch *a, const mw_hparams *hp, const mw_tensor *t,
                                    int64_t first, int64_t n_rows, float *data, mw_err *err) {
    return convert(a, hp, t, first, n_rows, data, true, err);
}

enum mw_status mw_layout_gguf_to_hf(const mw_arch *a, const mw_hparams *hp, const mw_tensor *t,
                                    int64_t first, int64_t n_rows, float *data, mw_err *err) {
    return convert(a, hp, t, first, n_rows, data, false, err);
}
