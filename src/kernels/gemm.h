/* Matrix products of the forward pass. */
#ifndef MW_KERNELS_GEMM_H
#define MW_KERNELS_GEMM_H

#include <stdbool.h>
#include <stdint.h>

/* C[M][N] (+)= A[M][K] . B[N][K]^T, row-major with leading dimensions. */
void mw_gemm_nt(int64_t M, int64_t N, int64_t K, const float *A, int64_t lda, const float *B,
                int64_t ldb, float *C, int64_t ldc, bool accumulate);
/* C[M][N] (+)= A[M][K] . B[K][N] */
void mw_gemm_nn(int64_t M, int64_t N, int64_t K, const float *A, int64_t lda, const float *B,
                int64_t ldb, float *C, int64_t ldc, bool accumulate);

#endif
