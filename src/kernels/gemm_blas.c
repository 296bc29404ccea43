/* mw_gemm_nt/nn through a BLAS library, when the build selects one
 * (MW_GEMM=openblas or blis; otherwise this file is empty).
 *
 * Threads: the libraries' own threading gives results that change with
 * the thread count (test_gemm), so the library runs single-threaded on the
 * fixed grid of mw_gemm_grid, inside our OpenMP threads. That also keeps
 * OpenBLAS's pthreads pool (Debian's default build), whose threads spin
 * after each call, from competing with ours.
 *
 * BLIS is called through its native API rather than its CBLAS layer: the
 * thread count then goes with the call (rntm_t) instead of being global,
 * and the symbols cannot be confused with OpenBLAS's cblas_sgemm when a
 * program (bench/gemm.c) links both. */
#include "kernels/gemm.h"

#include <string.h>

void mw_gemm_blas(bool nn, int64_t M, int64_t N, int64_t K, const float *A, int64_t lda,
                  const float *B, int64_t ldb, float *C, int64_t ldc, bool accumulate);

#if defined(MW_GEMM_OPENBLAS) || defined(MW_GEMM_BLIS)

#if defined(MW_GEMM_OPENBLAS)
#include <cblas.h>
#include <stdatomic.h>
#include <stdbool.h>
#else
#include <blis.h>
#endif

/* Sizes the libraries would reject (K = 0 with a leading dimension of 0)
 * or do not need. Returns true if nothing is left to do. */
static bool trivial(int64_t M, int64_t N, int64_t K, float *C, int64_t ldc, bool accumulate) {
    if (M <= 0 || N <= 0) return true;
    if (K > 0) return false;
    if (!accumulate)
        for (int64_t i = 0; i < M; i++)
            memset(C + i * ldc, 0, (size_t)N * sizeof(float));
    return true;
}

/* One single-threaded call of the library. */
static void one_call(bool nn, int64_t M, int64_t N, int64_t K, const float *A, int64_t lda,
                     const float *B, int64_t ldb, float *C, int64_t ldc, bool accumulate) {
    float one = 1.0f, beta = accumulate ? 1.0f : 0.0f; /* beta 0: C is not read */
#if defined(MW_GEMM_OPENBLAS)
    cblas_sgemm(CblasRowMajor, CblasNoTrans, nn ? CblasNoTrans : CblasTrans, (blasint)M, (blasint)N,
                (blasint)K, one, A, (blasint)lda, B, (blasint)ldb, beta, C, (blasint)ldc);
#else
    rntm_t rntm = BLIS_RNTM_INITIALIZER;
    bli_rntm_set_num_threads(1, &rntm);
    /* row-major: row stride = leading dimension, column stride = 1; nt
     * reads B [N][K] as transposed */
    bli_sgemm_ex(BLIS_NO_TRANSPOSE, nn ? BLIS_NO_TRANSPOSE : BLIS_TRANSPOSE, M, N, K, &one,
                 (float *)A, lda, 1, (float *)B, ldb, 1, &beta, C, ldc, 1, NULL, &rntm);
#endif
}

void mw_gemm_blas(bool nn, int64_t M, int64_t N, int64_t K, const float *A, int64_t lda,
                  const float *B, int64_t ldb, float *C, int64_t ldc, bool accumulate) {
    if (trivial(M, N, K, C, ldc, accumulate)) return;
#if defined(MW_GEMM_OPENBLAS)
    /* the thread count is global to OpenBLAS: one, set once */
    static atomic_bool single;
    if (!atomic_exchange(&single, true)) openblas_set_num_threads(1);
#endif
    mw_gemm_grid(one_call, nn, M, N, K, A, lda, B, ldb, C, ldc, accumulate);
}

#endif
