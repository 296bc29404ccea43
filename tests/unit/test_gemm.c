/* Tests of the matrix products (src/kernels): every vector path the CPU
 * runs, the 512-bit tiling compiled for whatever this CPU has, the build's
 * backend and the reference loops, against
 *  - a double-precision reference, within a rounding-error bound, and
 *  - for the packed own kernel, bit for bit against the scalar loop it
 *    promises (gemm_impl.h): per k block a chain s = s + a[k] * b[k] from
 *    0, added to C block after block;
 * and the same bits with 1, 2 and 3 threads. */
#include "check.h"
#include "kernels/gemm.h"
#include "kernels/gemm_impl.h"

#include <float.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The 512-bit path's tiling (gemm_v512.c's parameters), compiled here with
 * this file's flags: split into narrower vectors on CPUs without AVX-512. */
#define TILE_VW    16
#define TILE_MR    12
#define TILE_NV    2
#define TILE_KC    512
#define TILE_MC    48
#define TILE_NAME  test_impl_v512_logic
#define TILE_LABEL "v512-logic"
#include "kernels/gemm_tile.h"

static uint64_t rng_state = 0x9e3779b97f4a7c15u;
static float rnd_unit(void) { /* uniform in [-1, 1) */
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (float)((int64_t)(rng_state >> 40) - (1 << 23)) / (float)(1 << 23);
}

/* Padding between rows holds this: a kernel that reads it computes NaN, one
 * that writes it is caught by the check of C's padding. */
static const float PAD = 12345.5f;

/* One problem: inputs with padded rows, and everything the products of
 * the paths are compared with. */
struct problem {
    bool nn, accumulate;
    int64_t M, N, K, lda, ldb, ldc;
    float *A, *B, *C0;   /* C0: C before the call */
    double *ref, *scale; /* double result; sum |a||b| + |c0| per element */
    struct {             /* the tiles' scalar loops met so far */
        int64_t kcb;
        bool fused; /* s = fmaf(a, b, s) rather than s + a * b */
        float *c;
    } chains[8];
    int nchains;
};

static float *padded(int64_t rows, int64_t cols, int64_t ld, bool random) {
    float *p = malloc((size_t)(rows * ld) * sizeof(float));
    for (int64_t i = 0; i < rows * ld; i++)
        p[i] = PAD;
    for (int64_t i = 0; i < rows; i++)
        for (int64_t j = 0; j < cols; j++)
            p[i * ld + j] = random ? rnd_unit() : NAN;
    return p;
}

static float b_at(const struct problem *p, int64_t j, int64_t k) {
    return p->nn ? p->B[k * p->ldb + j] : p->B[j * p->ldb + k];
}

static void references(struct problem *p) {
    size_t n = (size_t)(p->M * p->N);
    p->ref = malloc(n * sizeof(double));
    p->scale = malloc(n * sizeof(double));
    for (int64_t i = 0; i < p->M; i++)
        for (int64_t j = 0; j < p->N; j++) {
            double c0 = p->accumulate ? p->C0[i * p->ldc + j] : 0.0;
            double sum = c0, scale = fabs(c0);
            for (int64_t k = 0; k < p->K; k++) {
                double ab = (double)p->A[i * p->lda + k] * b_at(p, j, k);
                sum += ab;
                scale += fabs(ab);
            }
            p->ref[(size_t)(i * p->N + j)] = sum;
            p->scale[(size_t)(i * p->N + j)] = scale;
        }
}

/* What the tiles promise for k blocks of kcb (gemm_impl.h), computed once
 * per problem and block size. */
static const float *chain(struct problem *p, int64_t kcb, bool fused) {
    for (int i = 0; i < p->nchains; i++)
        if (p->chains[i].kcb == kcb && p->chains[i].fused == fused) return p->chains[i].c;
    if (p->nchains == 8) return NULL;
    float *out = malloc((size_t)(p->M * p->N) * sizeof(float));
    for (int64_t i = 0; i < p->M; i++)
        for (int64_t j = 0; j < p->N; j++) {
            float c = p->accumulate ? p->C0[i * p->ldc + j] : 0.0f;
            for (int64_t k0 = 0; k0 < p->K; k0 += kcb) {
                float s = 0.0f;
                for (int64_t k = k0; k < k0 + kcb && k < p->K; k++) {
                    float a = p->A[i * p->lda + k], b = b_at(p, j, k);
                    s = fused ? fmaf(a, b, s) : s + a * b; /* -ffp-contract=off */
                }
                c = (k0 == 0 && !p->accumulate) ? s : c + s;
            }
            out[i * p->N + j] = c;
        }
    p->chains[p->nchains].kcb = kcb;
    p->chains[p->nchains].fused = fused;
    p->chains[p->nchains++].c = out;
    return out;
}

static struct problem make(bool nn, int64_t M, int64_t N, int64_t K, bool accumulate) {
    struct problem p = {.nn = nn, .accumulate = accumulate, .M = M, .N = N, .K = K};
    p.lda = K + 3;
    p.ldb = (nn ? N : K) + 5;
    p.ldc = N + 7;
    p.A = padded(M, K, p.lda, true);
    p.B = nn ? padded(K, N, p.ldb, true) : padded(N, K, p.ldb, true);
    /* C is NaN when it must be ignored */
    p.C0 = padded(M, N, p.ldc, accumulate);
    references(&p);
    return p;
}

static void release(struct problem *p) {
    free(p->A);
    free(p->B);
    free(p->C0);
    free(p->ref);
    free(p->scale);
    for (int i = 0; i < p->nchains; i++)
        free(p->chains[i].c);
}

typedef void (*gemm_fn)(int64_t, int64_t, int64_t, const float *, int64_t, const float *, int64_t,
                        float *, int64_t, bool);

/* mw_gemm_grid's blocking around the reference loop: the BLAS backends'
 * threading, tested in every build. */
static void ref_one(bool nn, int64_t M, int64_t N, int64_t K, const float *A, int64_t lda,
                    const float *B, int64_t ldb, float *C, int64_t ldc, bool accumulate) {
    (nn ? mw_gemm_nn_ref : mw_gemm_nt_ref)(M, N, K, A, lda, B, ldb, C, ldc, accumulate);
}

static void grid_nt(int64_t M, int64_t N, int64_t K, const float *A, int64_t lda, const float *B,
                    int64_t ldb, float *C, int64_t ldc, bool accumulate) {
    mw_gemm_grid(ref_one, false, M, N, K, A, lda, B, ldb, C, ldc, accumulate);
}

static void grid_nn(int64_t M, int64_t N, int64_t K, const float *A, int64_t lda, const float *B,
                    int64_t ldb, float *C, int64_t ldc, bool accumulate) {
    mw_gemm_grid(ref_one, true, M, N, K, A, lda, B, ldb, C, ldc, accumulate);
}

/* What is being tested: a public function, or the driver with an impl. */
struct subject {
    const char *name;
    gemm_fn nt, nn;
    const struct mw_gemm_impl *impl;
};

static float *run(const struct subject *s, const struct problem *p) {
    float *C = malloc((size_t)(p->M * p->ldc) * sizeof(float));
    memcpy(C, p->C0, (size_t)(p->M * p->ldc) * sizeof(float));
    if (s->impl)
        mw_gemm_own_run(s->impl, p->nn, p->M, p->N, p->K, p->A, p->lda, p->B, p->ldb, C, p->ldc,
                        p->accumulate);
    else
        (p->nn ? s->nn : s->nt)(p->M, p->N, p->K, p->A, p->lda, p->B, p->ldb, C, p->ldc,
                                p->accumulate);
    return C;
}

/* Rounding error bound: each element is a sum of K products and c0, in
 * some order; every product and every addition is rounded at most once
 * (eps/2 relative), and an error made at step k is carried through at most
 * K - k further additions, so |error| <= (K + 1) * eps/2 * (1 + O(K eps))
 * * (sum |a||b| + |c0|), whatever the order or blocking (Higham, Accuracy
 * and Stability of Numerical Algorithms, 3.1). (K + 2) * eps covers that
 * with room for the second-order term. */
static double bound(const struct problem *p) {
    return (double)(p->K + 2) * FLT_EPSILON;
}

static void compare(const struct subject *s, struct problem *p, const float *C) {
    double maxrel = 0.0;
    int64_t bad = 0, diff_chain = 0, pad_touched = 0;
    const float *exact = NULL;
    /* the packed own kernel promises its scalar loop exactly */
    if (s->impl && (p->nn || p->M > MW_GEMM_DIRECT_M))
        exact = chain(p, mw_gemm_k_block(s->impl, p->K), s->impl->fused);
    for (int64_t i = 0; i < p->M; i++) {
        for (int64_t j = 0; j < p->N; j++) {
            size_t e = (size_t)(i * p->N + j);
            float got = C[i * p->ldc + j];
            double rel = fabs(got - p->ref[e]) / (p->scale[e] > 0 ? p->scale[e] : 1.0);
            if (!(rel <= bound(p))) bad++;
            if (rel > maxrel || isnan(rel)) maxrel = rel;
            if (exact && memcmp(&got, &exact[e], sizeof got) != 0) diff_chain++;
        }
        for (int64_t j = p->N; j < p->ldc; j++)
            if (C[i * p->ldc + j] != PAD) pad_touched++;
    }
    printf("  %-12s %s M=%-4lld N=%-5lld K=%-4lld acc=%d  maxrel = %.3g (bound %.3g)%s\n", s->name,
           p->nn ? "nn" : "nt", (long long)p->M, (long long)p->N, (long long)p->K, p->accumulate,
           maxrel, bound(p), exact ? "  scalar loop: exact" : "");
    CHECK(bad == 0, "%s: %lld elements beyond the bound", s->name, (long long)bad);
    CHECK(diff_chain == 0, "%s: %lld elements differ from the scalar loop", s->name,
          (long long)diff_chain);
    CHECK(pad_touched == 0, "%s: %lld padding floats of C written", s->name,
          (long long)pad_touched);
}

/* Same bits with 1, 2 and 3 threads. */
static void check_threads(const struct subject *s, const struct problem *p) {
    int saved = omp_get_max_threads();
    omp_set_num_threads(1);
    float *one = run(s, p);
    for (int t = 2; t <= 3; t++) {
        omp_set_num_threads(t);
        float *more = run(s, p);
        bool same = memcmp(one, more, (size_t)(p->M * p->ldc) * sizeof(float)) == 0;
        CHECK(same, "%s %s M=%lld N=%lld K=%lld: %d threads differ from 1", s->name,
              p->nn ? "nn" : "nt", (long long)p->M, (long long)p->N, (long long)p->K, t);
        free(more);
    }
    omp_set_num_threads(saved);
    free(one);
}

static const int64_t shapes[][3] = {
    /* M, N, K: edges of every tile and block size, the direct path (M <= 8),
     * a split of M (N small), N over nc, K over kc */
    {1, 1, 1},      {1, 7, 3},       {3, 17, 31},    {7, 33, 65},     {8, 31, 17},
    {17, 65, 127},  {31, 127, 257},  {33, 255, 640}, {65, 257, 1000}, {127, 33, 7},
    {255, 17, 65},  {257, 1000, 33}, {640, 65, 255}, {9, 4133, 17},   {8, 100, 33},
    {1, 1000, 640}, {6, 257, 255},   {12, 32, 128},  {13, 64, 0},
};

/* Shapes big enough for every subject to use several threads. */
static const int64_t thread_shapes[][3] = {
    {33, 255, 640}, {640, 65, 255}, {3, 1000, 640}, {255, 17, 650}, {100, 4133, 40},
};

static void test_subjects(const struct subject *subjects, int count) {
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        for (int layout = 0; layout < 2; layout++)
            for (int acc = 0; acc < 2; acc++) {
                struct problem p = make(layout, shapes[s][0], shapes[s][1], shapes[s][2], acc);
                for (int i = 0; i < count; i++) {
                    float *C = run(&subjects[i], &p);
                    compare(&subjects[i], &p, C);
                    free(C);
                }
                release(&p);
            }
    for (size_t s = 0; s < sizeof thread_shapes / sizeof thread_shapes[0]; s++)
        for (int layout = 0; layout < 2; layout++) {
            const int64_t *d = thread_shapes[s];
            struct problem p = make(layout, d[0], d[1], d[2], layout == 1);
            for (int i = 0; i < count; i++)
                check_threads(&subjects[i], &p);
            release(&p);
        }
}

/* Small blocks so that every loop of the driver runs several times. */
static struct mw_gemm_impl stressed(const struct mw_gemm_impl *im) {
    struct mw_gemm_impl s = *im;
    s.kc = 5;
    s.mc = 2 * im->mr;
    return s;
}

int main(void) {
    enum { MAX_SUBJECTS = 16 };
    struct subject subjects[MAX_SUBJECTS];
    static struct mw_gemm_impl stress[MAX_SUBJECTS];
    static char names[MAX_SUBJECTS][32];
    int n = 0;
    const struct mw_gemm_impl *impls[] = {
        &mw_gemm_impl_v128,
#if defined(__x86_64__)
        &mw_gemm_impl_v256,
        &mw_gemm_impl_v512,
#endif
    };
    for (int path = MW_GEMM_PATH_V128; path < MW_GEMM_PATH_COUNT; path++) {
        bool ok = mw_gemm_path_supported((enum mw_gemm_path)path);
        const struct mw_gemm_impl *im = impls[path - MW_GEMM_PATH_V128];
        printf("path %s: %s\n", mw_gemm_path_name((enum mw_gemm_path)path),
               !ok         ? "not supported by this CPU or build"
               : im->fused ? "tested (fused multiply-add)"
                           : "tested (multiply and add rounded apart)");
        if (!ok) continue;
        subjects[n++] = (struct subject){im->name, NULL, NULL, im};
        stress[n] = stressed(im);
        snprintf(names[n], sizeof names[n], "%s-small", im->name);
        subjects[n] = (struct subject){names[n], NULL, NULL, &stress[n]};
        n++;
    }
    subjects[n++] = (struct subject){test_impl_v512_logic.name, NULL, NULL, &test_impl_v512_logic};
    stress[n] = stressed(&test_impl_v512_logic);
    subjects[n] = (struct subject){"v512-logic-small", NULL, NULL, &stress[n]};
    n++;
    subjects[n++] = (struct subject){"own", mw_gemm_nt_own, mw_gemm_nn_own, NULL};
    if (strcmp(mw_gemm_backend(), "own") != 0)
        subjects[n++] = (struct subject){mw_gemm_backend(), mw_gemm_nt, mw_gemm_nn, NULL};
    subjects[n++] = (struct subject){"ref", mw_gemm_nt_ref, mw_gemm_nn_ref, NULL};
    subjects[n++] = (struct subject){"grid(ref)", grid_nt, grid_nn, NULL};
    printf("backend %s, own path %s\n", mw_gemm_backend(), mw_gemm_path_name(mw_gemm_get_path()));
    test_subjects(subjects, n);
    if (g_failures) printf("%d g_failures\n", g_failures);
    return g_failures ? 1 : 0;
}
