/* mw_gemm_nt/nn through a BLAS library, when the build selects one
 * (MW_GEMM=openblas or blis; otherwise this file is empty).
 *
 * Threads: the library gets omp_get_max_threads() threads, one inside a
 * parallel region, like the own kernel. BLIS (Debian's OpenMP build) runs
 * its threads in the same OpenMP runtime as ours. OpenBLAS (Debian's
 * pthreads build) has its own pool, whose threads spin for a while after
 * each call and then compete with ours (docs/gemm.md).
 *
 * BLIS is called through its native API rather than its CBLAS layer: the
 * thread count then goes with the call (rntm_t) instead of being global,
 * and the symbols cannot be confused with OpenBLAS's cblas_sgemm when a
 * program (bench/gemm.c) links both. */
#include "kernels/gemm.h"

#include <omp.h>
#include <string.h>

void mw_gemm_blas(bool nn, int64_t M, int64_t N, int64_t K, const float *A, int64_t lda,
                  const float *B, int64_t ldb, float *C, int64_t ldc, bool accumulate);

#if defined(MW_GEMM_OPENBLAS) || defined(MW_GEMM_BLIS)

#if defined(MW_GEMM_OPENBLAS)
#include <cblas.h>
#include <stdatomic.h>
#else
#include <blis.h>
#endif

static int blas_threads(void) {
    return omp_in_parallel() ? 1 : omp_get_max_threads();
}

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

void mw_gemm_blas(bool nn, int64_t M, int64_t N, int64_t K, const float *A, int64_t lda,
                  const float *B, int64_t ldb, float *C, int64_t ldc, bool accumulate) {
    if (trivial(M, N, K, C, ldc, accumulate)) return;
    float one = 1.0f, beta = accumulate ? 1.0f : 0.0f; /* beta 0: C is not read */
#if defined(MW_GEMM_OPENBLAS)
    /* the thread count is global to OpenBLAS; set it only when it changes */
    static atomic_int current;
    int nt = blas_threads();
    if (atomic_exchange(&current, nt) != nt) openblas_set_num_threads(nt);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, nn ? CblasNoTrans : CblasTrans, (blasint)M, (blasint)N,
                (blasint)K, one, A, (blasint)lda, B, (blasint)ldb, beta, C, (blasint)ldc);
#else
    rntm_t rntm = BLIS_RNTM_INITIALIZER;
    bli_rntm_set_num_threads(blas_threads(), &rntm);
    /* row-major: row stride = leading dimension, column stride = 1; nt
     * reads B [N][K] as transposed */
    bli_sgemm_ex(BLIS_NO_TRANSPOSE, nn ? BLIS_NO_TRANSPOSE : BLIS_TRANSPOSE, M, N, K, &one,
                 (float *)A, lda, 1, (float *)B, ldb, 1, &beta, C, ldc, 1, NULL, &rntm);
#endif
}

#endif
