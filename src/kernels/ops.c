#include "kernels/ops.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Floats in GCC/Clang vector extensions (as gemm_tile.h): 8 in an AVX
 * register, else 4 in an SSE one (a vector wider than the target's changes
 * the ABI). Written out because loops with float comparisons do not
 * vectorize on their own under the default -ftrapping-math. Each lane gets
 * the same operations whatever the width. */
#ifdef __AVX__
#define VW 8
#else
#define VW 4
#endif
typedef float fv __attribute__((vector_size(VW * 4)));
typedef int32_t iv __attribute__((vector_size(VW * 4)));
typedef uint32_t uv __attribute__((vector_size(VW * 4)));

static inline fv loadv(const float *p) {
    fv v;
    memcpy(&v, p, sizeof v);
    return v;
}

static inline void storev(float *p, fv v) {
    memcpy(p, &v, sizeof v);
}

/* lanes of a where mask (all ones or zeros per lane), else lanes of b */
static inline fv selectv(iv mask, fv a, fv b) {
    return (fv)(((iv)a & mask) | ((iv)b & ~mask));
}

static inline fv expv(fv x) {
    const fv zero = {0}, shifter = zero + 12582912.0f; /* 1.5 * 2^23: rounds to integers */
    fv xc = selectv(x < -87.0f, zero - 87.0f, x);
    xc = selectv(xc > 88.0f, zero + 88.0f, xc);
    fv t = xc * 1.44269504088896341f + shifter;
    fv n = t - shifter;
    fv r = xc - n * 0.693359375f;
    r = r - n * -2.12194440e-4f;
    fv p = zero + 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * (r * r) + r + 1.0f;
    /* the low mantissa bits of t hold n (plus 2^22): n + 127 is the exponent
     * field of 2^n */
    uv bits = ((uv)t - 0x4B400000u + 127u) << 23;
    return selectv(x < -87.0f, zero, p * (fv)bits);
}

float mw_expf(float x) {
    fv v = {x};
    return expv(v)[0];
}

/* Lanes of the sums below: independent accumulators that the compiler keeps
 * in vector registers (a single running sum would be one long dependency
 * chain, as the order of floating-point additions may not change). */
#define LANES 8

void mw_rmsnorm_row(const float *x, float *y, const float *w, int64_t n, float eps) {
    double acc[LANES] = {0};
    int64_t i = 0;
    for (; i + LANES <= n; i += LANES)
        for (int j = 0; j < LANES; j++)
            acc[j] += (double)x[i + j] * x[i + j];
    for (int j = 0; i < n; i++, j++)
        acc[j] += (double)x[i] * x[i];
    double sum = 0;
    for (int j = 0; j < LANES; j++)
        sum += acc[j];
    float scale = 1.0f / sqrtf((float)(sum / (double)n) + eps);
    if (w)
        for (i = 0; i < n; i++)
            y[i] = x[i] * scale * w[i];
    else
        for (i = 0; i < n; i++)
            y[i] = x[i] * scale;
}

void mw_rmsnorm_rows(const float *x, float *y, const float *w, int64_t rows, int64_t n, float eps,
                     int64_t stride) {
#pragma omp parallel for schedule(static) if (rows > 64)
    for (int64_t r = 0; r < rows; r++)
        mw_rmsnorm_row(x + r * stride, y + r * stride, w, n, eps);
}

/* The angle of pair i at position pos, as both RoPE paths compute it. */
static double rope_theta(int64_t pos, int64_t i, int64_t hd, double base, double scale) {
    return (double)pos / scale * pow(base, -2.0 * (double)i / (double)hd);
}

static void rotate(float *x, int64_t n_heads, int64_t hd, const float *cs, const float *sn,
                   bool neox) {
    int64_t half = hd / 2;
    for (int64_t h = 0; h < n_heads; h++) {
        float *v = x + h * hd;
        if (neox)
            for (int64_t i = 0; i < half; i++) {
                float x0 = v[i], x1 = v[i + half];
                v[i] = x0 * cs[i] - x1 * sn[i];
                v[i + half] = x0 * sn[i] + x1 * cs[i];
            }
        else
            for (int64_t i = 0; i < half; i++) {
                float x0 = v[2 * i], x1 = v[2 * i + 1];
                v[2 * i] = x0 * cs[i] - x1 * sn[i];
                v[2 * i + 1] = x0 * sn[i] + x1 * cs[i];
            }
    }
}

void mw_rope_rows(float *x, int64_t rows, int64_t stride, int64_t n_heads, int64_t hd, int64_t pos0,
                  double base, double scale, bool neox) {
    int64_t half = hd / 2;
    for (int64_t r = 0; r < rows; r++)
        for (int64_t h = 0; h < n_heads; h++)
            for (int64_t i = 0; i < half; i++) {
                double theta = rope_theta(pos0 + r, i, hd, base, scale);
                float cs = (float)cos(theta), sn = (float)sin(theta);
                float *v = x + r * stride + h * hd;
                int64_t a = neox ? i : 2 * i, b = neox ? i + half : 2 * i + 1;
                float x0 = v[a], x1 = v[b];
                v[a] = x0 * cs - x1 * sn;
                v[b] = x0 * sn + x1 * cs;
            }
}

bool mw_rope_table_init(mw_rope_table *t, int64_t T, int64_t hd, double base, double scale) {
    int64_t half = hd / 2;
    *t = (mw_rope_table){.T = T, .hd = hd, .base = base, .scale = scale};
    t->cs = malloc((size_t)(T * half) * sizeof(float) + 1);
    t->sn = malloc((size_t)(T * half) * sizeof(float) + 1);
    if (!t->cs || !t->sn) {
        mw_rope_table_free(t);
        return false;
    }
    for (int64_t p = 0; p < T; p++)
        for (int64_t i = 0; i < half; i++) {
            double theta = rope_theta(p, i, hd, base, scale);
            t->cs[p * half + i] = (float)cos(theta);
            t->sn[p * half + i] = (float)sin(theta);
        }
    return true;
}

void mw_rope_table_free(mw_rope_table *t) {
    free(t->cs);
    free(t->sn);
    *t = (mw_rope_table){0};
}

void mw_rope_row(float *x, int64_t n_heads, const mw_rope_table *t, int64_t pos, bool neox) {
    int64_t half = t->hd / 2;
    rotate(x, n_heads, t->hd, t->cs + pos * half, t->sn + pos * half, neox);
}

float mw_max(const float *x, int64_t n) {
    float acc[LANES];
    for (int j = 0; j < LANES; j++)
        acc[j] = x[0];
    int64_t i = 0;
    for (; i + LANES <= n; i += LANES)
        for (int j = 0; j < LANES; j++)
            acc[j] = x[i + j] > acc[j] ? x[i + j] : acc[j];
    for (; i < n; i++)
        acc[0] = x[i] > acc[0] ? x[i] : acc[0];
    float m = acc[0];
    for (int j = 1; j < LANES; j++)
        m = acc[j] > m ? acc[j] : m;
    return m;
}

/* Blocks of terms computed before they are summed in lanes of double. */
#define EXP_BLOCK 256

double mw_exp_sum(const float *x, float *y, int64_t n, float m) {
    double acc[LANES] = {0};
    float e[EXP_BLOCK];
    for (int64_t i0 = 0; i0 < n; i0 += EXP_BLOCK) {
        int64_t c = n - i0 < EXP_BLOCK ? n - i0 : EXP_BLOCK, i = 0;
        float *out = y ? y + i0 : e;
        for (; i + VW <= c; i += VW)
            storev(out + i, expv(loadv(x + i0 + i) - m));
        if (i < c) {
            float buf[VW] = {0};
            memcpy(buf, x + i0 + i, (size_t)(c - i) * sizeof(float));
            storev(buf, expv(loadv(buf) - m));
            memcpy(out + i, buf, (size_t)(c - i) * sizeof(float));
        }
        for (i = 0; i + LANES <= c; i += LANES)
            for (int j = 0; j < LANES; j++)
                acc[j] += out[i + j];
        for (int j = 0; i < c; i++, j++)
            acc[j] += out[i];
    }
    double sum = 0;
    for (int j = 0; j < LANES; j++)
        sum += acc[j];
    return sum;
}

double mw_softmax(float *x, int64_t n) {
    float mx = mw_max(x, n);
    double sum = mw_exp_sum(x, x, n, mx);
    float inv = (float)(1.0 / sum);
    for (int64_t i = 0; i < n; i++)
        x[i] *= inv;
    return log(sum) + mx;
}

static inline fv silu_mulv(fv g, fv u) {
    return g / (1.0f + expv(-g)) * u;
}

/* 0.5 g (1 + tanh(v)) = g / (1 + exp(-2v)): one exp instead of tanhf */
static inline fv gelu_tanh_mulv(fv g, fv u) {
    const float c2 = 2 * 0.7978845608028654f; /* 2 sqrt(2 / pi) */
    return g / (1.0f + expv(-c2 * (g + 0.044715f * g * g * g))) * u;
}

/* out[i] = f(gate[i], up[i]), VW at a time; the tail through padded vectors */
#define GLU_LOOP(f)                                                                                \
    do {                                                                                           \
        int64_t i = 0;                                                                             \
        for (; i + VW <= n; i += VW)                                                               \
            storev(out + i, f(loadv(gate + i), loadv(up + i)));                                    \
        if (i < n) {                                                                               \
            float g[VW] = {0}, u[VW] = {0};                                                        \
            memcpy(g, gate + i, (size_t)(n - i) * sizeof(float));                                  \
            memcpy(u, up + i, (size_t)(n - i) * sizeof(float));                                    \
            storev(g, f(loadv(g), loadv(u)));                                                      \
            memcpy(out + i, g, (size_t)(n - i) * sizeof(float));                                   \
        }                                                                                          \
    } while (0)

void mw_swiglu_row(float *out, const float *gate, const float *up, int64_t n) {
    GLU_LOOP(silu_mulv);
}

void mw_geglu_tanh_row(float *out, const float *gate, const float *up, int64_t n) {
    GLU_LOOP(gelu_tanh_mulv);
}

/* Rows of the element-wise activations, for the parallel wrappers. */
#define ACT_ROW 4096

void mw_swiglu(float *gate, const float *up, int64_t n) {
#pragma omp parallel for schedule(static) if (n > 65536)
    for (int64_t i = 0; i < n; i += ACT_ROW)
        mw_swiglu_row(gate + i, gate + i, up + i, n - i < ACT_ROW ? n - i : ACT_ROW);
}

void mw_geglu_tanh(float *gate, const float *up, int64_t n) {
#pragma omp parallel for schedule(static) if (n > 65536)
    for (int64_t i = 0; i < n; i += ACT_ROW)
        mw_geglu_tanh_row(gate + i, gate + i, up + i, n - i < ACT_ROW ? n - i : ACT_ROW);
}
