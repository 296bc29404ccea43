/* Plain loops until the tuned kernels land. */
#include "kernels/gemm.h"

void mw_gemm_nt(int64_t M, int64_t N, int64_t K, const float *A, int64_t lda, const float *B,
                int64_t ldb, float *C, int64_t ldc, bool accumulate) {
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < M; i++)
        for (int64_t j = 0; j < N; j++) {
            float s = 0;
            for (int64_t k = 0; k < K; k++)
                s += A[i * lda + k] * B[j * ldb + k];
            C[i * ldc + j] = accumulate ? C[i * ldc + j] + s : s;
        }
}

void mw_gemm_nn(int64_t M, int64_t N, int64_t K, const float *A, int64_t lda, const float *B,
                int64_t ldb, float *C, int64_t ldc, bool accumulate) {
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < M; i++) {
        float *c = C + i * ldc;
        if (!accumulate)
            for (int64_t j = 0; j < N; j++)
                c[j] = 0;
        for (int64_t k = 0; k < K; k++) {
            float a = A[i * lda + k];
            for (int64_t j = 0; j < N; j++)
                c[j] += a * B[k * ldb + j];
        }
    }
}
