/* mw-gemm-bench: the own gemm against OpenBLAS and BLIS on the shapes of
 * the forward pass, in one process, repetitions interleaved (each round
 * runs every backend once, in a rotating order) so that a busy moment of
 * the machine hurts all of them alike; reports medians. Backends: own
 * (mw_gemm_*_own), openblas and blis as MW_GEMM uses them (one thread per
 * call on mw_gemm_grid's blocks), openblas-mt and blis-mt (the libraries'
 * own threading, not deterministic); each library only if installed.
 *
 *   mw-gemm-bench [--reps N] [--threads T] [--quick] [--only BACKEND]
 *                 [--path v128|v256|v512] [--shape M,N,K[,nn]]...
 *
 * Peak: measured with a loop of independent vector FMAs on every thread
 * (the widest vectors the CPU has), i.e. cores x clock x FLOP per cycle as
 * the machine delivers them, turbo included: the best of runs before,
 * between and after the shapes, so that a moment when other programs held
 * the cores does not count. The table is printed at the end; progress goes
 * to stderr. */
#include "kernels/gemm.h"

#include <dlfcn.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#if defined(__x86_64__)
#include <immintrin.h>
#endif
#if defined(BENCH_OPENBLAS)
#include <cblas.h>
#endif
#if defined(BENCH_BLIS)
#include <blis.h>
#endif

struct shape {
    const char *what;
    int64_t M, N, K;
    bool nn;
};

static const struct shape all_shapes[] = {
    {"gemma3-270m q", 512, 1024, 640, false},
    {"gemma3-270m k,v", 512, 256, 640, false},
    {"gemma3-270m gate,up", 512, 2048, 640, false},
    {"gemma3-270m down", 512, 640, 2048, false},
    {"gemma3-270m q M=256", 256, 1024, 640, false},
    {"gemma3-270m head", 256, 262144, 640, false},
    {"gemma3 attn QK^T", 512, 512, 256, false},
    {"gemma3 attn PV", 512, 256, 512, true},
    {"smollm2 q,o", 512, 576, 576, false},
    {"smollm2 k,v", 512, 192, 576, false},
    {"smollm2 up", 512, 1536, 576, false},
    {"smollm2 down", 512, 576, 1536, false},
    {"smollm2 head", 256, 49152, 576, false},
    {"smollm2 attn QK^T", 512, 512, 64, false},
    {"smollm2 attn PV", 512, 64, 512, true},
    {"7b q", 512, 4096, 4096, false},
    {"7b up", 512, 11008, 4096, false},
    {"7b down", 512, 4096, 11008, false},
    {"M=1 gate", 1, 2048, 640, false},
    {"M=4 gate", 4, 2048, 640, false},
    {"M=8 gate", 8, 2048, 640, false},
    {"M=16 gate", 16, 2048, 640, false},
    {"M=1 7b q", 1, 4096, 4096, false},
    {"M=16 7b q", 16, 4096, 4096, false},
};

static const struct shape quick_shapes[] = {
    {"gemma3-270m q", 512, 1024, 640, false}, {"gemma3-270m down", 512, 640, 2048, false},
    {"smollm2 k,v", 512, 192, 576, false},    {"gemma3 attn PV", 512, 256, 512, true},
    {"M=1 gate", 1, 2048, 640, false},        {"M=16 gate", 16, 2048, 640, false},
};

/* ------------------------------------------------------------------------ */
/* Backends                                                                 */
/* ------------------------------------------------------------------------ */

static int bench_threads;

static void own(const struct shape *s, const float *A, const float *B, float *C) {
    if (s->nn)
        mw_gemm_nn_own(s->M, s->N, s->K, A, s->K, B, s->N, C, s->N, false);
    else
        mw_gemm_nt_own(s->M, s->N, s->K, A, s->K, B, s->K, C, s->N, false);
}

/* The libraries as the MW_GEMM backends use them (gemm_blas.c): one thread
 * each, on mw_gemm_grid's blocks, in our OpenMP threads; "-mt": their own
 * threading, which gives results that depend on the thread count. */
#if defined(BENCH_OPENBLAS)
static void openblas_one(bool nn, int64_t M, int64_t N, int64_t K, const float *A, int64_t lda,
                         const float *B, int64_t ldb, float *C, int64_t ldc, bool accumulate) {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, nn ? CblasNoTrans : CblasTrans, (blasint)M, (blasint)N,
                (blasint)K, 1.0f, A, (blasint)lda, B, (blasint)ldb, accumulate ? 1.0f : 0.0f, C,
                (blasint)ldc);
}

static void openblas(const struct shape *s, const float *A, const float *B, float *C) {
    openblas_set_num_threads(1);
    mw_gemm_grid(openblas_one, s->nn, s->M, s->N, s->K, A, s->K, B, s->nn ? s->N : s->K, C, s->N,
                 false);
}

static void openblas_mt(const struct shape *s, const float *A, const float *B, float *C) {
    openblas_set_num_threads(bench_threads);
    openblas_one(s->nn, s->M, s->N, s->K, A, s->K, B, s->nn ? s->N : s->K, C, s->N, false);
}
#endif

#if defined(BENCH_BLIS)
static void blis_call(int threads, bool nn, int64_t M, int64_t N, int64_t K, const float *A,
                      int64_t lda, const float *B, int64_t ldb, float *C, int64_t ldc,
                      bool accumulate) {
    float one = 1.0f, beta = accumulate ? 1.0f : 0.0f;
    rntm_t rntm = BLIS_RNTM_INITIALIZER;
    bli_rntm_set_num_threads(threads, &rntm);
    bli_sgemm_ex(BLIS_NO_TRANSPOSE, nn ? BLIS_NO_TRANSPOSE : BLIS_TRANSPOSE, M, N, K, &one,
                 (float *)A, lda, 1, (float *)B, ldb, 1, &beta, C, ldc, 1, NULL, &rntm);
}

static void blis_one(bool nn, int64_t M, int64_t N, int64_t K, const float *A, int64_t lda,
                     const float *B, int64_t ldb, float *C, int64_t ldc, bool accumulate) {
    blis_call(1, nn, M, N, K, A, lda, B, ldb, C, ldc, accumulate);
}

static void blis(const struct shape *s, const float *A, const float *B, float *C) {
    mw_gemm_grid(blis_one, s->nn, s->M, s->N, s->K, A, s->K, B, s->nn ? s->N : s->K, C, s->N,
                 false);
}

static void blis_mt(const struct shape *s, const float *A, const float *B, float *C) {
    blis_call(bench_threads, s->nn, s->M, s->N, s->K, A, s->K, B, s->nn ? s->N : s->K, C, s->N,
              false);
}
#endif

struct backend {
    const char *name;
    void (*run)(const struct shape *, const float *, const float *, float *);
};

#define MAX_BACKENDS 5
static struct backend backends[MAX_BACKENDS];
static int nbackends;

static void add_backends(const char *only) {
    struct backend all[] = {
        {"own", own},
#if defined(BENCH_OPENBLAS)
        {"openblas", openblas},
#endif
#if defined(BENCH_BLIS)
        {"blis", blis},
#endif
#if defined(BENCH_OPENBLAS)
        {"openblas-mt", openblas_mt},
#endif
#if defined(BENCH_BLIS)
        {"blis-mt", blis_mt},
#endif
    };
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        if (!only || strcmp(only, all[i].name) == 0) backends[nbackends++] = all[i];
}

/* ------------------------------------------------------------------------ */
/* Timing                                                                   */
/* ------------------------------------------------------------------------ */

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n) {
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* Seconds of one call, over `calls` back-to-back calls. */
static double time_calls(const struct backend *b, const struct shape *s, const float *A,
                         const float *B, float *C, int calls) {
    double t0 = now();
    for (int i = 0; i < calls; i++)
        b->run(s, A, B, C);
    return (now() - t0) / calls;
}

/* Largest relative difference of two results, over the largest element. */
static double rel_diff(const float *x, const float *y, size_t n) {
    double d = 0, m = 0;
    for (size_t i = 0; i < n; i++) {
        d = fmax(d, fabs((double)x[i] - y[i]));
        m = fmax(m, fabs((double)y[i]));
    }
    return m > 0 ? d / m : d;
}

static float *random_floats(size_t n, unsigned seed) {
    float *p = malloc(n * sizeof(float));
    if (!p) return NULL;
    uint64_t x = 0x9e3779b97f4a7c15u ^ seed;
    for (size_t i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        p[i] = (float)((int64_t)(x >> 40) - (1 << 23)) / (float)(1 << 23);
    }
    return p;
}

/* ------------------------------------------------------------------------ */
/* Peak                                                                     */
/* ------------------------------------------------------------------------ */

#define PEAK_CHAINS 12 /* > FMA latency x FMA units, so the units never wait */

#if defined(__x86_64__)
__attribute__((target("avx2,fma"))) static float fma_loop_256(long iters) {
    __m256 acc[PEAK_CHAINS], m = _mm256_set1_ps(0.999999f), a = _mm256_set1_ps(1e-6f);
    for (int r = 0; r < PEAK_CHAINS; r++)
        acc[r] = _mm256_set1_ps((float)r);
    for (long i = 0; i < iters; i++)
        for (int r = 0; r < PEAK_CHAINS; r++)
            acc[r] = _mm256_fmadd_ps(acc[r], m, a);
    float out[8], sum = 0;
    for (int r = 0; r < PEAK_CHAINS; r++) {
        _mm256_storeu_ps(out, acc[r]);
        sum += out[0];
    }
    return sum;
}

__attribute__((target("avx512f"))) static float fma_loop_512(long iters) {
    __m512 acc[PEAK_CHAINS], m = _mm512_set1_ps(0.999999f), a = _mm512_set1_ps(1e-6f);
    for (int r = 0; r < PEAK_CHAINS; r++)
        acc[r] = _mm512_set1_ps((float)r);
    for (long i = 0; i < iters; i++)
        for (int r = 0; r < PEAK_CHAINS; r++)
            acc[r] = _mm512_fmadd_ps(acc[r], m, a);
    float out[16], sum = 0;
    for (int r = 0; r < PEAK_CHAINS; r++) {
        _mm512_storeu_ps(out, acc[r]);
        sum += out[0];
    }
    return sum;
}
#endif

/* FLOP/s of independent FMAs on `threads` threads, best of `runs` runs of
 * ~0.05 s; 0 where there is no vector FMA to measure. */
static double measure_peak(int threads, int runs, const char **how) {
    int width = 0;
#if defined(__x86_64__)
    if (__builtin_cpu_supports("avx512f"))
        width = 16;
    else if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        width = 8;
#endif
    *how = width == 16 ? "AVX-512 FMA" : width == 8 ? "AVX2 FMA" : "none";
    if (!width) return 0;
    long iters = 20 * 1000 * 1000;
    double best = 0;
    volatile float sink = 0;
    for (int run = 0; run < runs; run++) {
        double t0 = now();
#pragma omp parallel num_threads(threads)
        {
#if defined(__x86_64__)
            float s = width == 16 ? fma_loop_512(iters) : fma_loop_256(iters);
#pragma omp atomic
            sink += s;
#endif
        }
        double t = now() - t0;
        best = fmax(best, 2.0 * width * PEAK_CHAINS * (double)iters * threads / t);
    }
    (void)sink;
    return best;
}

/* ------------------------------------------------------------------------ */
/* One shape                                                                */
/* ------------------------------------------------------------------------ */

/* Times one shape; its table row, but for the peak column, goes to row.
 * Returns the best backend's GFLOP/s. */
static double bench_shape(const struct shape *s, int reps, char *row, size_t size) {
    size_t na = (size_t)(s->M * s->K), nb = (size_t)(s->N * s->K), nc = (size_t)(s->M * s->N);
    float *A = random_floats(na, 1), *B = random_floats(nb, 2), *C[MAX_BACKENDS] = {NULL};
    for (int b = 0; b < nbackends; b++)
        C[b] = calloc(nc, sizeof(float));
    bool ok = A && B;
    for (int b = 0; b < nbackends; b++)
        ok = ok && C[b];
    double best = 0;
    if (!ok) {
        snprintf(row, size, "| %s | out of memory |", s->what);
        goto done;
    }
    double flop = 2.0 * (double)s->M * (double)s->N * (double)s->K;
    /* warm-up call, which also sizes a sample to >= 50 ms */
    int calls[MAX_BACKENDS];
    for (int b = 0; b < nbackends; b++) {
        double t = time_calls(&backends[b], s, A, B, C[b], 1);
        calls[b] = t >= 0.05 ? 1 : (int)(0.05 / fmax(t, 1e-7)) + 1;
    }
    double samples[MAX_BACKENDS][64], gf[MAX_BACKENDS];
    if (reps > 64) reps = 64;
    for (int r = 0; r < reps; r++)
        for (int i = 0; i < nbackends; i++) {
            int b = (r + i) % nbackends; /* rotating order */
            samples[b][r] = time_calls(&backends[b], s, A, B, C[b], calls[b]);
        }
    for (int b = 0; b < nbackends; b++) {
        gf[b] = flop / median(samples[b], reps) * 1e-9;
        best = fmax(best, gf[b]);
    }
    size_t used =
        (size_t)snprintf(row, size, "| %-20s | %6lld | %6lld | %5lld |%s", s->what, (long long)s->M,
                         (long long)s->N, (long long)s->K, s->nn ? " nn" : " nt");
    for (int b = 0; b < nbackends && used < size; b++) {
        double diff = b ? rel_diff(C[b], C[0], nc) : 0;
        used += (size_t)snprintf(row + used, size - used, " %6.1f %4.2f%s |", gf[b], gf[b] / best,
                                 diff > 1e-4 ? " DIFFERS" : "");
    }
done:
    free(A);
    free(B);
    for (int b = 0; b < nbackends; b++)
        free(C[b]);
    return best;
}

/* ------------------------------------------------------------------------ */
/* Main                                                                     */
/* ------------------------------------------------------------------------ */

static void print_setup(double peak, const char *how) {
    printf("threads %d, own path %s", bench_threads, mw_gemm_path_name(mw_gemm_get_path()));
#if defined(BENCH_OPENBLAS)
    Dl_info info;
    void *sym = (void *)cblas_sgemm; /* which library answers cblas_sgemm */
    printf(", cblas_sgemm from %s",
           dladdr(sym, &info) && info.dli_fname ? strrchr(info.dli_fname, '/') + 1 : "?");
    printf(" (%s)", openblas_get_config());
#endif
#if defined(BENCH_BLIS)
    printf(", BLIS %s", bli_info_get_version_str());
#endif
    if (peak > 0)
        printf("\npeak %.1f GFLOP/s (%s, %d threads; the best of FMA loops run before, between "
               "and after the shapes)\n",
               peak * 1e-9, how, bench_threads);
    else
        printf("\npeak not measured\n");
    printf("\n| shape | M | N | K | |");
    for (int b = 0; b < nbackends; b++)
        printf(" %s GFLOP/s, /best |", backends[b].name);
    printf(" best/peak |\n|---|--:|--:|--:|---|");
    for (int b = 0; b < nbackends; b++)
        printf("--:|");
    printf("--:|\n");
}

static bool parse_shape(const char *arg, struct shape *s) {
    long long m, n, k;
    char layout[3] = "nt";
    int got = sscanf(arg, "%lld,%lld,%lld,%2s", &m, &n, &k, layout);
    if (got < 3 || m < 1 || n < 1 || k < 1) return false;
    *s = (struct shape){"custom", m, n, k, strcmp(layout, "nn") == 0};
    return true;
}

int main(int argc, char **argv) {
    int reps = 7;
    bench_threads = 2;
    const char *only = NULL;
    struct shape custom[16];
    int ncustom = 0;
    const struct shape *shapes = all_shapes;
    size_t nshapes = sizeof all_shapes / sizeof all_shapes[0];
    for (int i = 1; i < argc; i++) {
        const char *next = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(argv[i], "--reps") && next) {
            reps = atoi(argv[++i]);
        } else if (!strcmp(argv[i], "--threads") && next) {
            bench_threads = atoi(argv[++i]);
        } else if (!strcmp(argv[i], "--only") && next) {
            only = argv[++i];
        } else if (!strcmp(argv[i], "--quick")) {
            shapes = quick_shapes;
            nshapes = sizeof quick_shapes / sizeof quick_shapes[0];
        } else if (!strcmp(argv[i], "--path") && next) {
            enum mw_gemm_path p = MW_GEMM_PATH_AUTO;
            for (int q = 0; q < MW_GEMM_PATH_COUNT; q++)
                if (!strcmp(next, mw_gemm_path_name((enum mw_gemm_path)q))) p = q;
            if (!mw_gemm_set_path(p)) fprintf(stderr, "path %s not supported\n", next);
            i++;
        } else if (!strcmp(argv[i], "--shape") && next && ncustom < 16 &&
                   parse_shape(next, &custom[ncustom])) {
            ncustom++;
            i++;
        } else {
            fprintf(stderr,
                    "usage: %s [--reps N] [--threads T] [--quick] [--only BACKEND] "
                    "[--path v128|v256|v512] [--shape M,N,K[,nn]]...\n",
                    argv[0]);
            return 2;
        }
    }
    if (ncustom) {
        shapes = custom;
        nshapes = (size_t)ncustom;
    }
    if (reps < 1 || bench_threads < 1) return 2;
    omp_set_num_threads(bench_threads);
    add_backends(only);
    /* the peak is what the cores deliver when the machine is quietest: a
     * maximum over the whole run, so the table is printed at the end */
    const char *how;
    double peak = measure_peak(bench_threads, 5, &how);
    static char rows[64][512];
    double best[64];
    if (nshapes > 64) nshapes = 64;
    for (size_t i = 0; i < nshapes; i++) {
        fprintf(stderr, "%zu/%zu %s\n", i + 1, nshapes, shapes[i].what);
        peak = fmax(peak, measure_peak(bench_threads, 1, &how));
        best[i] = bench_shape(&shapes[i], reps, rows[i], sizeof rows[i]);
    }
    peak = fmax(peak, measure_peak(bench_threads, 5, &how));
    print_setup(peak, how);
    for (size_t i = 0; i < nshapes; i++)
        if (peak > 0 && best[i] > 0)
            printf("%s %3.0f%% |\n", rows[i], 100 * best[i] * 1e9 / peak);
        else
            printf("%s - |\n", rows[i]);
    return 0;
}
