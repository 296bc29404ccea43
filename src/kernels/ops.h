/* Element-wise and row-wise operations of a transformer block, in f32. The
 * row functions are single-threaded: callers share rows among threads, so
 * that one parallel region covers a whole phase of the block. Each result is
 * computed in an order that depends on the row only. */
#ifndef MW_KERNELS_OPS_H
#define MW_KERNELS_OPS_H

#include <stdbool.h>
#include <stdint.h>

/* exp(x) in f32, 8 values at a time in the loops below (glibc's expf is
 * not vectorized): x = n ln2 + r with |r| <= ln2 / 2, exp(r) by Cephes'
 * degree-6 polynomial, 2^n put into the exponent bits. Within 2 ulp of exp
 * on [-87, 88] (test_forward checks it); 0 below -87 (and for -inf), exp(88)
 * above 88 (no overflow to inf); NaN gives NaN. This is the same
 * computation, one value at a time. */
float mw_expf(float x);

/* y = x / sqrt(mean(x^2) + eps) * w over n values (w may be NULL: no
 * scale); y may be x. The mean is summed in double, in 8 interleaved lanes. */
void mw_rmsnorm_row(const float *x, float *y, const float *w, int64_t n, float eps);

/* mw_rmsnorm_row on `rows` rows `stride` floats apart, rows shared among
 * threads when there are many. */
void mw_rmsnorm_rows(const float *x, float *y, const float *w, int64_t rows, int64_t n, float eps,
                     int64_t stride);

/* Rotary position embedding in place on rows of n_heads heads of hd values;
 * row t has position pos0 + t. neox: pairs (i, i + hd/2) (Hugging Face's
 * rotate-half); otherwise adjacent pairs (2i, 2i+1) (llama.cpp's llama layout).
 * theta_i = pos / scale * base^(-2i/hd) with scale >= 1 a linear
 * position-interpolation factor. The plain definition; the forward pass uses
 * the tables below, which give the same values. */
void mw_rope_rows(float *x, int64_t rows, int64_t stride, int64_t n_heads, int64_t hd, int64_t pos0,
                  double base, double scale, bool neox);

/* cos and sin of the RoPE angles of positions 0 .. T-1, computed once per
 * window length instead of pow, sin and cos per element. */
typedef struct mw_rope_table {
    int64_t T, hd;
    double base, scale;
    float *cs; /* [T][hd/2] cos theta */
    float *sn; /* [T][hd/2] sin theta */
} mw_rope_table;

/* false when out of memory (the table is then empty). */
bool mw_rope_table_init(mw_rope_table *t, int64_t T, int64_t hd, double base, double scale);
void mw_rope_table_free(mw_rope_table *t);

/* Rotates the n_heads heads (hd = t->hd values each, contiguous) of one row
 * at position pos < t->T. */
void mw_rope_row(float *x, int64_t n_heads, const mw_rope_table *t, int64_t pos, bool neox);

/* max of x[0 .. n), n >= 1 */
float mw_max(const float *x, int64_t n);

/* sum of exp(x[i] - m) over n values, in double (8 interleaved lanes); the
 * terms are stored in y unless y is NULL (y may be x). */
double mw_exp_sum(const float *x, float *y, int64_t n, float m);

/* x[i] = exp(x[i] - max) / sum, over n values; returns log(sum) + max. */
double mw_softmax(float *x, int64_t n);

/* out[i] = act(gate[i]) * up[i] over n values; out may be gate. */
void mw_swiglu_row(float *out, const float *gate, const float *up, int64_t n);
void mw_geglu_tanh_row(float *out, const float *gate, const float *up, int64_t n);

/* gate[i] = act(gate[i]) * up[i] over n values, rows shared among threads. */
void mw_swiglu(float *gate, const float *up, int64_t n);
void mw_geglu_tanh(float *gate, const float *up, int64_t n);

#endif
