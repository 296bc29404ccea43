/* Entry points: the backend chosen at build time, and the reference loops. */
#include "kernels/gemm.h"

/* Defined by gemm_blas.c when the build selects a BLAS library. */
void mw_gemm_blas(bool nn, int64_t M, int64_t N, int64_t K, const float *A, int64_t lda,
                  const float *B, int64_t ldb, float *C, int64_t ldc, bool accumulate);

#if defined(MW_GEMM_OPENBLAS) || defined(MW_GEMM_BLIS)
#define GEMM_NT(...) mw_gemm_blas(false, __VA_ARGS__)
#define GEMM_NN(...) mw_gemm_blas(true, __VA_ARGS__)
#else
#define GEMM_NT mw_gemm_nt_own
#define GEMM_NN mw_gemm_nn_own
#endif

const char *mw_gemm_backend(void) {
#if defined(MW_GEMM_OPENBLAS)
    return "openblas";
#elif defined(MW_GEMM_BLIS)
    return "blis";
#else
    return "own";
#endif
}

void mw_gemm_nt(int64_t M, int64_t N, int64_t K, const float *A, int64_t lda, const float *B,
                int64_t ldb, float *C, int64_t ldc, bool accumulate) {
    GEMM_NT(M, N, K, A, lda, B, ldb, C, ldc, accumulate);
}

void mw_gemm_nn(int64_t M, int64_t N, int64_t K, const float *A, int64_t lda, const float *B,
                int64_t ldb, float *C, int64_t ldc, bool accumulate) {
    GEMM_NN(M, N, K, A, lda, B, ldb, C, ldc, accumulate);
}

void mw_gemm_nt_ref(int64_t M, int64_t N, int64_t K, const float *A, int64_t lda, const float *B,
                    int64_t ldb, float *C, int64_t ldc, bool accumulate) {
    for (int64_t i = 0; i < M; i++) {
        const float *a = A + i * lda;
        for (int64_t j = 0; j < N; j++) {
            const float *b = B + j * ldb;
            float sum = 0.0f;
            for (int64_t k = 0; k < K; k++)
                sum += a[k] * b[k];
            C[i * ldc + j] = accumulate ? C[i * ldc + j] + sum : sum;
        }
    }
}

void mw_gemm_nn_ref(int64_t M, int64_t N, int64_t K, const float *A, int64_t lda, const float *B,
                    int64_t ldb, float *C, int64_t ldc, bool accumulate) {
    for (int64_t i = 0; i < M; i++) {
        const float *a = A + i * lda;
        for (int64_t j = 0; j < N; j++) {
            float sum = 0.0f;
            for (int64_t k = 0; k < K; k++)
                sum += a[k] * B[k * ldb + j];
            C[i * ldc + j] = accumulate ? C[i * ldc + j] + sum : sum;
        }
    }
}
