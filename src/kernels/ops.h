/* Element-wise and row-wise operations of a transformer block, in f32. Each
 * processes independent rows, so callers parallelize over rows. */
#ifndef MW_KERNELS_OPS_H
#define MW_KERNELS_OPS_H

#include <stdbool.h>
#include <stdint.h>

/* y[r] = x[r] / sqrt(mean(x[r]^2) + eps) * w, for `rows` rows of n values
 * (w may be NULL: no scale). y may be x. The mean is summed in double. */
void mw_rmsnorm_rows(const float *x, float *y, const float *w, int64_t rows, int64_t n, float eps,
                     int64_t stride);

/* Rotary position embedding in place on rows of n_heads heads of hd values;
 * row t has position pos0 + t. neox: pairs (i, i + hd/2) (Hugging Face's
 * rotate-half); otherwise adjacent pairs (2i, 2i+1) (llama.cpp's llama layout).
 * theta_i = pos / (base^(2i/hd) * scale) with scale >= 1 a linear
 * position-interpolation factor. */
void mw_rope_rows(float *x, int64_t rows, int64_t stride, int64_t n_heads, int64_t hd, int64_t pos0,
                  double base, double scale, bool neox);

/* x[i] = exp(x[i] - max) / sum, over n values; returns log(sum) + max. */
double mw_softmax(float *x, int64_t n);

/* gate[i] = act(gate[i]) * up[i] over n values. */
void mw_swiglu(float *gate, const float *up, int64_t n);
void mw_geglu_tanh(float *gate, const float *up, int64_t n);

#endif
