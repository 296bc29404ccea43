/* Template: one vector path of the own gemm (see gemm_impl.h for what each
 * function promises). Written once with GCC/Clang vector extensions so that
 * the 128-, 256- and 512-bit paths are the same code: the tests can then
 * run the 512-bit tiling on a CPU without AVX-512 (the compiler splits the
 * vectors), and a mistake cannot hide in one width.
 *
 * Define before including (once per translation unit):
 *   TILE_VW     floats per vector: 4, 8 or 16
 *   TILE_MR     rows of a register tile of C (broadcast operand)
 *   TILE_NV     vectors per tile row (nr = TILE_NV * TILE_VW)
 *   TILE_KC, TILE_MC   cache blocking (gemm_impl.h)
 *   TILE_NAME   identifier of the struct mw_gemm_impl to define
 *   TILE_LABEL  its name string */
#include "kernels/gemm_impl.h"

#include <string.h>
#if defined(__x86_64__)
#include <immintrin.h>
#endif

#define VW TILE_VW
#define MR TILE_MR
#define NV TILE_NV
#define NR (TILE_NV * TILE_VW)
/* The direct kernel's block: dot_mi rows of A times dot_nj rows of B. Eight
 * accumulators and four B vectors fit the 16 registers of SSE and AVX2. */
#define DOT_MI 2
#define DOT_NJ 4

typedef float vf __attribute__((vector_size(VW * sizeof(float))));

/* Multiply-add rounded once where the target has FMA for this width. The
 * intrinsics make that independent of -ffp-contract; the fallback is
 * rounded twice, as the project compiles with -ffp-contract=off. */
#if VW == 16 && defined(__AVX512F__)
#define VFMA(acc, a, b) ((vf)_mm512_fmadd_ps((__m512)(a), (__m512)(b), (__m512)(acc)))
#define TILE_FUSED      true
#elif VW == 8 && defined(__FMA__)
#define VFMA(acc, a, b) ((vf)_mm256_fmadd_ps((__m256)(a), (__m256)(b), (__m256)(acc)))
#define TILE_FUSED      true
#elif VW == 4 && defined(__FMA__)
#define VFMA(acc, a, b) ((vf)_mm_fmadd_ps((__m128)(a), (__m128)(b), (__m128)(acc)))
#define TILE_FUSED      true
#else
#define VFMA(acc, a, b) ((acc) + (a) * (b))
#define TILE_FUSED      false
#endif

/* Unaligned loads and stores; macros rather than functions keep vector
 * types out of function signatures (-Wpsabi). Intrinsics where the width
 * is native, memcpy (no alignment or aliasing assumption) elsewhere. */
#if VW == 16 && defined(__AVX512F__)
#define VLOAD(v, p)  ((v) = (vf)_mm512_loadu_ps(p))
#define VSTORE(p, v) _mm512_storeu_ps((p), (__m512)(v))
#elif VW == 8 && defined(__AVX__)
#define VLOAD(v, p)  ((v) = (vf)_mm256_loadu_ps(p))
#define VSTORE(p, v) _mm256_storeu_ps((p), (__m256)(v))
#elif VW == 4 && defined(__SSE__)
#define VLOAD(v, p)  ((v) = (vf)_mm_loadu_ps(p))
#define VSTORE(p, v) _mm_storeu_ps((p), (__m128)(v))
#else
#define VLOAD(v, p)  memcpy(&(v), (p), sizeof(vf))
#define VSTORE(p, v) memcpy((p), &(v), sizeof(vf))
#endif

/* Every lane set to s. Intrinsics where the width is native (compilers
 * make a poor job of the generic loop); never 0 + s, which would turn -0
 * into +0 and break the equality with a scalar multiply-add chain. */
#if VW == 16 && defined(__AVX512F__)
#define VBCAST(v, s) ((v) = (vf)_mm512_set1_ps(s))
#elif VW == 8 && defined(__AVX__)
#define VBCAST(v, s) ((v) = (vf)_mm256_set1_ps(s))
#elif VW == 4 && defined(__SSE__)
#define VBCAST(v, s) ((v) = (vf)_mm_set1_ps(s))
#else
#define VBCAST(v, s)                                                                               \
    do {                                                                                           \
        float s_ = (s);                                                                            \
        for (int l_ = 0; l_ < VW; l_++)                                                            \
            (v)[l_] = s_;                                                                          \
    } while (0)
#endif

/* The register tile: sums over the kc steps from zero, then adds C (or
 * overwrites it). C is touched only after the loop, so its lines, usually
 * out in L3, have the whole loop to arrive after the prefetch. */
static inline __attribute__((always_inline)) void tile_body(const bool add_c, int64_t kc,
                                                            const float *restrict pa,
                                                            const float *restrict pb,
                                                            float *restrict c, int64_t ldc) {
    vf acc[MR][NV];
    for (int i = 0; i < MR; i++) {
        __builtin_prefetch(c + i * ldc, 1);
        __builtin_prefetch(c + i * ldc + NR - 1, 1);
        for (int v = 0; v < NV; v++)
            acc[i][v] = (vf){0};
    }
    for (int64_t k = 0; k < kc; k++) {
        vf b[NV];
        for (int v = 0; v < NV; v++)
            VLOAD(b[v], pb + v * VW);
        for (int i = 0; i < MR; i++) {
            vf a;
            VBCAST(a, pa[i]);
            for (int v = 0; v < NV; v++)
                acc[i][v] = VFMA(acc[i][v], a, b[v]);
        }
        pa += MR;
        pb += NR;
    }
    for (int i = 0; i < MR; i++)
        for (int v = 0; v < NV; v++) {
            vf out = acc[i][v];
            if (add_c) {
                vf old;
                VLOAD(old, c + i * ldc + v * VW);
                out = old + out;
            }
            VSTORE(c + i * ldc + v * VW, out);
        }
}

static void tile_kernel(int64_t kc, const float *restrict pa, const float *restrict pb,
                        float *restrict c, int64_t ldc, bool add_c) {
    if (add_c)
        tile_body(true, kc, pa, pb, c, ldc);
    else
        tile_body(false, kc, pa, pb, c, ldc);
}

/* Packing transposes `rows` rows of kc floats (row stride ld) into kc
 * groups of `width` floats (dst[k * width + r]); rows missing up to width
 * are zero. */

/* Row by row: reads stay sequential, the scattered writes land in a block
 * small enough for L1. About 2 cycles a float. */
static void pack_rows_scalar(const float *restrict src, int64_t ld, int64_t rows, int64_t k0,
                             int64_t kc, float *restrict dst, int width) {
    for (int64_t r = 0; r < rows; r++) {
        const float *s = src + r * ld;
        float *d = dst + r;
        for (int64_t k = k0; k < kc; k++)
            d[k * width] = s[k];
    }
}

#if defined(__AVX__)
/* 8 x 8 blocks transposed in registers, a quarter of a cycle a float: the
 * packing of B is then small next to the product even for M = 16. */
static inline void transpose8(__m256 r[8]) {
    __m256 t[8], u[8];
    for (int i = 0; i < 4; i++) {
        t[2 * i] = _mm256_unpacklo_ps(r[2 * i], r[2 * i + 1]);
        t[2 * i + 1] = _mm256_unpackhi_ps(r[2 * i], r[2 * i + 1]);
    }
    for (int h = 0; h < 2; h++) { /* rows 0-3, then 4-7 */
        __m256 *v = t + 4 * h, *w = u + 4 * h;
        w[0] = _mm256_shuffle_ps(v[0], v[2], 0x44);
        w[1] = _mm256_shuffle_ps(v[0], v[2], 0xEE);
        w[2] = _mm256_shuffle_ps(v[1], v[3], 0x44);
        w[3] = _mm256_shuffle_ps(v[1], v[3], 0xEE);
    }
    for (int i = 0; i < 4; i++) {
        r[i] = _mm256_permute2f128_ps(u[i], u[i + 4], 0x20);
        r[i + 4] = _mm256_permute2f128_ps(u[i], u[i + 4], 0x31);
    }
}

/* The first `lanes` floats of v; the widths used (nr 16 or 32, mr 6 or 12)
 * need 8, 6 and 4. */
static inline void store_lanes(float *d, __m256 v, int lanes) {
    __m128 lo = _mm256_castps256_ps128(v);
    switch (lanes) {
    case 8:
        _mm256_storeu_ps(d, v);
        break;
    case 6:
        _mm_storeu_ps(d, lo);
        _mm_storel_pi((__m64 *)(d + 4), _mm256_extractf128_ps(v, 1));
        break;
    case 4:
        _mm_storeu_ps(d, lo);
        break;
    default: {
        float tmp[8];
        _mm256_storeu_ps(tmp, v);
        for (int l = 0; l < lanes; l++)
            d[l] = tmp[l];
    }
    }
}

static void pack_rows(const float *restrict src, int64_t ld, int64_t rows, int64_t kc,
                      float *restrict dst, int width) {
    if (rows < width) memset(dst, 0, (size_t)(kc * width) * sizeof(float));
    int64_t k8 = kc / 8 * 8;
    for (int64_t r0 = 0; r0 < rows; r0 += 8) {
        int n = rows - r0 < 8 ? (int)(rows - r0) : 8;
        int lanes = width - r0 < 8 ? (int)(width - r0) : 8; /* floats stored per k */
        for (int64_t k = 0; k < k8; k += 8) {
            __m256 v[8];
            for (int i = 0; i < 8; i++)
                v[i] = i < n ? _mm256_loadu_ps(src + (r0 + i) * ld + k) : _mm256_setzero_ps();
            transpose8(v);
            float *d = dst + k * width + r0;
            for (int i = 0; i < 8; i++, d += width)
                store_lanes(d, v[i], lanes);
        }
    }
    pack_rows_scalar(src, ld, rows, k8, kc, dst, width);
}
#else
static void pack_rows(const float *restrict src, int64_t ld, int64_t rows, int64_t kc,
                      float *restrict dst, int width) {
    if (rows < width) memset(dst, 0, (size_t)(kc * width) * sizeof(float));
    pack_rows_scalar(src, ld, rows, 0, kc, dst, width);
}
#endif

static void pack_a(const float *a, int64_t lda, int64_t rows, int64_t kc, float *dst) {
    pack_rows(a, lda, rows, kc, dst, MR);
}

static void pack_b_nt(const float *b, int64_t ldb, int64_t rows, int64_t kc, float *dst) {
    pack_rows(b, ldb, rows, kc, dst, NR);
}

static void pack_b_nn(const float *restrict b, int64_t ldb, int64_t cols, int64_t kc,
                      float *restrict dst) {
    if (cols == NR) { /* whole vectors: a memcpy call per row cost 5% of a product */
        for (int64_t k = 0; k < kc; k++)
            for (int v = 0; v < NV; v++) {
                vf t;
                VLOAD(t, b + k * ldb + v * VW);
                VSTORE(dst + k * NR + v * VW, t);
            }
        return;
    }
    for (int64_t k = 0; k < kc; k++) {
        memcpy(dst + k * NR, b + k * ldb, (size_t)cols * sizeof(float));
        memset(dst + k * NR + cols, 0, (size_t)(NR - cols) * sizeof(float));
    }
}

/* Lanes summed pairwise in a fixed order. */
static inline float hsum(const float *lanes) {
    float s[VW];
    memcpy(s, lanes, sizeof s);
    for (int w = VW / 2; w >= 1; w /= 2)
        for (int l = 0; l < w; l++)
            s[l] = s[l] + s[l + w];
    return s[0];
}

/* MI x NJ dot products over K. Each accumulator sees the same operations
 * whatever MI and NJ, so an element's value does not depend on the block it
 * falls in. The last K % VW floats go through zero-padded copies. */
static inline __attribute__((always_inline)) void
dot_block(const int MI, const int NJ, int64_t K, const float *restrict a, int64_t lda,
          const float *restrict b, int64_t ldb, float *restrict c, int64_t ldc, bool load_c) {
    vf acc[DOT_MI][DOT_NJ];
    for (int i = 0; i < MI; i++)
        for (int j = 0; j < NJ; j++)
            acc[i][j] = (vf){0};
    int64_t k = 0;
    for (; k + VW <= K; k += VW) {
        vf bv[DOT_NJ];
        for (int j = 0; j < NJ; j++)
            VLOAD(bv[j], b + j * ldb + k);
        for (int i = 0; i < MI; i++) {
            vf av;
            VLOAD(av, a + i * lda + k);
            for (int j = 0; j < NJ; j++)
                acc[i][j] = VFMA(acc[i][j], av, bv[j]);
        }
    }
    if (k < K) {
        size_t tail = (size_t)(K - k) * sizeof(float);
        float pad[DOT_MI + DOT_NJ][VW] = {{0}};
        for (int j = 0; j < NJ; j++)
            memcpy(pad[DOT_MI + j], b + j * ldb + k, tail);
        for (int i = 0; i < MI; i++)
            memcpy(pad[i], a + i * lda + k, tail);
        for (int i = 0; i < MI; i++) {
            vf av, bv;
            VLOAD(av, pad[i]);
            for (int j = 0; j < NJ; j++) {
                VLOAD(bv, pad[DOT_MI + j]);
                acc[i][j] = VFMA(acc[i][j], av, bv);
            }
        }
    }
    for (int i = 0; i < MI; i++)
        for (int j = 0; j < NJ; j++) {
            float lanes[VW];
            vf t = acc[i][j]; /* a copy: taking acc's address would keep it in memory */
            VSTORE(lanes, t);
            float s = hsum(lanes);
            c[i * ldc + j] = load_c ? c[i * ldc + j] + s : s;
        }
}

static void dot(int64_t K, const float *a, int64_t lda, int mi, const float *b, int64_t ldb, int nj,
                float *c, int64_t ldc, bool load_c) {
    /* one specialised copy per block shape, so accumulators stay in registers */
#define DOT_CASE(MI, NJ)                                                                           \
    case (MI)*8 + (NJ):                                                                            \
        dot_block(MI, NJ, K, a, lda, b, ldb, c, ldc, load_c);                                      \
        break
    switch (mi * 8 + nj) {
        DOT_CASE(1, 1);
        DOT_CASE(1, 2);
        DOT_CASE(1, 3);
        DOT_CASE(1, 4);
        DOT_CASE(2, 1);
        DOT_CASE(2, 2);
        DOT_CASE(2, 3);
        DOT_CASE(2, 4);
    default:
        break;
    }
#undef DOT_CASE
}

const struct mw_gemm_impl TILE_NAME = {
    .name = TILE_LABEL,
    .vw = VW,
    .mr = MR,
    .nr = NR,
    .kc = TILE_KC,
    .mc = TILE_MC,
    .fused = TILE_FUSED,
    .dot_mi = DOT_MI,
    .dot_nj = DOT_NJ,
    .tile = tile_kernel,
    .pack_a = pack_a,
    .pack_b_nt = pack_b_nt,
    .pack_b_nn = pack_b_nn,
    .dot = dot,
};
