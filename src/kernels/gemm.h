/* Single-precision matrix products for the forward pass.
 *
 * All matrices are row-major with explicit leading dimensions (the distance,
 * in floats, between the starts of two rows; at least the row length).
 *
 *   mw_gemm_nt: C[M][N] (+)= A[M][K] * B[N][K]^T   (B as stored by GGUF and
 *               PyTorch: one row of K inputs per output; every linear layer,
 *               and the attention scores Q * K^T)
 *   mw_gemm_nn: C[M][N] (+)= A[M][K] * B[K][N]     (attention output P * V)
 *
 * accumulate = false overwrites C (its old contents, even NaN, are ignored);
 * accumulate = true adds the product to C.
 *
 * Threads: the calls use omp_get_max_threads() threads (one when called
 * inside a parallel region). Each element of C is computed by one thread in
 * an order that does not depend on the number of threads, so results are
 * identical bit for bit whatever the thread count, for every backend the
 * tests accept.
 *
 * The backend is chosen when the library is built (CMake MW_GEMM=own,
 * openblas or blis); the own kernels are always built, under mw_gemm_*_own.
 * None of these functions fails: if the own kernel cannot allocate its
 * packing buffers it falls back to the reference loop. */
#ifndef MW_KERNELS_GEMM_H
#define MW_KERNELS_GEMM_H

#include <stdbool.h>
#include <stdint.h>

void mw_gemm_nt(int64_t M, int64_t N, int64_t K, const float *A, int64_t lda, const float *B,
                int64_t ldb, float *C, int64_t ldc, bool accumulate);
void mw_gemm_nn(int64_t M, int64_t N, int64_t K, const float *A, int64_t lda, const float *B,
                int64_t ldb, float *C, int64_t ldc, bool accumulate);

/* The backend behind mw_gemm_nt/nn: "own", "openblas" or "blis". */
const char *mw_gemm_backend(void);

/* The own kernels, whatever the backend. */
void mw_gemm_nt_own(int64_t M, int64_t N, int64_t K, const float *A, int64_t lda, const float *B,
                    int64_t ldb, float *C, int64_t ldc, bool accumulate);
void mw_gemm_nn_own(int64_t M, int64_t N, int64_t K, const float *A, int64_t lda, const float *B,
                    int64_t ldb, float *C, int64_t ldc, bool accumulate);

/* Plain loops, single-threaded, float accumulation in index order: the
 * readable definition, kept for tests and comparisons. */
void mw_gemm_nt_ref(int64_t M, int64_t N, int64_t K, const float *A, int64_t lda, const float *B,
                    int64_t ldb, float *C, int64_t ldc, bool accumulate);
void mw_gemm_nn_ref(int64_t M, int64_t N, int64_t K, const float *A, int64_t lda, const float *B,
                    int64_t ldb, float *C, int64_t ldc, bool accumulate);

/* A single-threaded product, as a BLAS library provides (nn: B is [K][N]). */
typedef void (*mw_gemm_fn)(bool nn, int64_t M, int64_t N, int64_t K, const float *A, int64_t lda,
                           const float *B, int64_t ldb, float *C, int64_t ldc, bool accumulate);

/* Runs `one` on a grid of blocks of C that depends on M and N only, the
 * blocks shared dynamically among the threads: the result is then the same
 * whatever the thread count (if `one` is deterministic), which the BLAS
 * libraries' own threading is not (test_gemm). How the BLAS backends are
 * threaded. */
void mw_gemm_grid(mw_gemm_fn one, bool nn, int64_t M, int64_t N, int64_t K, const float *A,
                  int64_t lda, const float *B, int64_t ldb, float *C, int64_t ldc, bool accumulate);

/* Vector paths of the own kernel. AUTO (the default) takes the widest one
 * the CPU runs; the others exist so that tests and benchmarks can run each
 * path the CPU supports. */
enum mw_gemm_path {
    MW_GEMM_PATH_AUTO = 0,
    MW_GEMM_PATH_V128, /* SSE, or 128-bit FMA when the build targets it */
    MW_GEMM_PATH_V256, /* AVX2 + FMA */
    MW_GEMM_PATH_V512, /* AVX-512F */
    MW_GEMM_PATH_COUNT
};

/* Whether this build has the path and this CPU can run it. */
bool mw_gemm_path_supported(enum mw_gemm_path path);
/* Selects the path of later own calls, process-wide. Returns false,
 * changing nothing, if unsupported. */
bool mw_gemm_set_path(enum mw_gemm_path path);
/* The path AUTO resolves to, or the one set. */
enum mw_gemm_path mw_gemm_get_path(void);
const char *mw_gemm_path_name(enum mw_gemm_path path);

#endif
