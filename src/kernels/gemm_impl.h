/* Inside of the own gemm: what one vector path provides to the driver
 * (gemm_own.c). Each path is the template gemm_tile.h compiled for one
 * vector width (gemm_v128.c, gemm_v256.c, gemm_v512.c). */
#ifndef MW_KERNELS_GEMM_IMPL_H
#define MW_KERNELS_GEMM_IMPL_H

#include <stdbool.h>
#include <stdint.h>

struct mw_gemm_impl {
    const char *name;
    int vw;             /* floats per vector */
    int mr, nr;         /* a register tile of C is mr x nr */
    int kc, mc;         /* cache blocks: kc of K (at most), mc rows of A */
    bool fused;         /* multiply-adds rounded once (FMA) rather than twice */
    int dot_mi, dot_nj; /* largest block of the direct (small M) nt kernel */

    /* c[mr][nr] (row stride ldc) = (add_c ? c : 0) + s, where each element
     * of s is the chain s = s + a * b over the kc steps in order, from 0
     * (one multiply-add per step). pa holds kc groups of mr floats, pb kc
     * groups of nr floats. */
    void (*tile)(int64_t kc, const float *pa, const float *pb, float *c, int64_t ldc, bool add_c);
    /* Packs rows (<= mr) rows of a (row stride lda), kc columns, into kc
     * groups of mr floats; missing rows are zero. */
    void (*pack_a)(const float *a, int64_t lda, int64_t rows, int64_t kc, float *dst);
    /* Same for rows (<= nr) rows of an [N][K] matrix, into groups of nr. */
    void (*pack_b_nt)(const float *b, int64_t ldb, int64_t rows, int64_t kc, float *dst);
    /* kc rows of cols (<= nr) columns of a [K][N] matrix, into groups of nr. */
    void (*pack_b_nn)(const float *b, int64_t ldb, int64_t cols, int64_t kc, float *dst);
    /* Direct nt product of mi (<= dot_mi) rows of a with nj (<= dot_nj) rows
     * of b, each element a vector dot product over K (no packing). */
    void (*dot)(int64_t K, const float *a, int64_t lda, int mi, const float *b, int64_t ldb, int nj,
                float *c, int64_t ldc, bool load_c);
};

extern const struct mw_gemm_impl mw_gemm_impl_v128;
#if defined(__x86_64__)
extern const struct mw_gemm_impl mw_gemm_impl_v256;
extern const struct mw_gemm_impl mw_gemm_impl_v512;
#endif

/* Products with M up to this use impl->dot (nt only): packing B costs as
 * much as the product itself when each of its elements is used so few
 * times. Measured on Zen 3 (docs/gemm.md): direct wins up to 8, the packed
 * path (whose 6-row tiles waste a third at M = 8) from 9. */
#define MW_GEMM_DIRECT_M 8

/* The k block the driver uses for K: at most impl->kc, all of the same
 * size but the last. An element of C computed by tiles is the sum, in
 * order, of (C if accumulating and) one tile chain per k block. */
int64_t mw_gemm_k_block(const struct mw_gemm_impl *impl, int64_t K);

/* The driver with an explicit path (tests use it with extra instances of
 * the template). nn selects mw_gemm_nn's layout of B. */
void mw_gemm_own_run(const struct mw_gemm_impl *impl, bool nn, int64_t M, int64_t N, int64_t K,
                     const float *A, int64_t lda, const float *B, int64_t ldb, float *C,
                     int64_t ldc, bool accumulate);

#endif
