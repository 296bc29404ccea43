/* Entry points: the backend chosen at build time, and the reference loops. */
#include "kernels/gemm.h"

#include <omp.h>

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

/* Units of the grid aimed at: enough for dynamic sharing between a few
 * threads, few enough that each call to the library is large. */
#define GRID_UNITS 8
/* Below this many multiply-adds the grid runs on one thread. */
#define GRID_MIN_WORK (1 << 19)

static int64_t min64(int64_t a, int64_t b) {
    return a < b ? a : b;
}
static int64_t max64(int64_t a, int64_t b) {
    return a > b ? a : b;
}
static int64_t ceil_div(int64_t a, int64_t b) {
    return (a + b - 1) / b;
}
static int64_t round_up(int64_t a, int64_t b) {
    return ceil_div(a, b) * b;
}

void mw_gemm_grid(mw_gemm_fn one, bool nn, int64_t M, int64_t N, int64_t K, const float *A,
                  int64_t lda, const float *B, int64_t ldb, float *C, int64_t ldc,
                  bool accumulate) {
    if (M <= 0 || N <= 0) return;
    /* column chunks of 64..512 (multiples of 16); row groups only when N
     * gives too few chunks */
    int64_t w = min64(max64(round_up(ceil_div(N, GRID_UNITS), 16), 64), 512);
    int64_t chunks = ceil_div(N, w), groups = 1;
    if (chunks < GRID_UNITS) groups = min64(ceil_div(GRID_UNITS, chunks), ceil_div(M, 16));
    int64_t h = round_up(ceil_div(M, groups), 16);
    groups = ceil_div(M, h);
    int nt = omp_in_parallel() || M * N * K < GRID_MIN_WORK ? 1 : omp_get_max_threads();
#pragma omp parallel for num_threads(nt) if (nt > 1) schedule(dynamic, 1)
    for (int64_t u = 0; u < chunks * groups; u++) {
        int64_t j0 = u / groups * w, i0 = u % groups * h;
        one(nn, min64(h, M - i0), min64(w, N - j0), K, A + i0 * lda, lda,
            nn ? B + j0 : B + j0 * ldb, ldb, C + i0 * ldc + j0, ldc, accumulate);
    }
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
