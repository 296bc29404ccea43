/* The own gemm: cache blocking, packing and threading around the register
 * tiles of gemm_tile.h (the loop nest of Goto and van de Geijn, "Anatomy of
 * high-performance matrix multiplication", and of BLIS).
 *
 * Determinism: every element of C gets the same operations whatever tile
 * it falls in (partial tiles at the edges run the same tile on a padded
 * copy) and whichever thread computes it: per k block (a size fixed by K
 * and the path), a multiply-add chain from 0 in k order, added to C in
 * block order. Threads split C into disjoint parts and never split K.
 *
 * Why C is added after each block rather than loaded into the
 * accumulators first: the load would come before the first multiply-add,
 * and waiting for C's lines cost 10% (perf, Zen 3); after the loop they
 * have had the whole loop to arrive. */
#include "kernels/gemm.h"
#include "kernels/gemm_impl.h"

#include <omp.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

/* Below this many multiply-adds per thread, starting a team costs more than
 * it saves. */
#define MIN_WORK_PER_THREAD (1 << 18)

/* Largest tile of any path (edge tiles go through a buffer this size). */
#define MAX_TILE (16 * 64)

struct prob {
    bool nn;
    int64_t M, N, K;
    const float *A;
    int64_t lda;
    const float *B;
    int64_t ldb;
    float *C;
    int64_t ldc;
    bool accumulate;
};

static inline int64_t min64(int64_t a, int64_t b) {
    return a < b ? a : b;
}
static inline int64_t max64(int64_t a, int64_t b) {
    return a > b ? a : b;
}
static inline int64_t ceil_div(int64_t a, int64_t b) {
    return (a + b - 1) / b;
}

/* ------------------------------------------------------------------------ */
/* Path selection                                                           */
/* ------------------------------------------------------------------------ */

static atomic_int chosen_path; /* MW_GEMM_PATH_AUTO until resolved or set */

bool mw_gemm_path_supported(enum mw_gemm_path path) {
    switch (path) {
    case MW_GEMM_PATH_AUTO:
    case MW_GEMM_PATH_V128:
        return true;
#if defined(__x86_64__)
    case MW_GEMM_PATH_V256:
        return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    case MW_GEMM_PATH_V512:
        return __builtin_cpu_supports("avx512f");
#endif
    default:
        return false;
    }
}

static enum mw_gemm_path best_path(void) {
    for (int p = MW_GEMM_PATH_COUNT - 1; p > MW_GEMM_PATH_V128; p--)
        if (mw_gemm_path_supported((enum mw_gemm_path)p)) return (enum mw_gemm_path)p;
    return MW_GEMM_PATH_V128;
}

bool mw_gemm_set_path(enum mw_gemm_path path) {
    if (!mw_gemm_path_supported(path)) return false;
    atomic_store(&chosen_path, path == MW_GEMM_PATH_AUTO ? best_path() : path);
    return true;
}

enum mw_gemm_path mw_gemm_get_path(void) {
    int p = atomic_load(&chosen_path);
    if (p == MW_GEMM_PATH_AUTO) {
        p = best_path();
        atomic_store(&chosen_path, p);
    }
    return (enum mw_gemm_path)p;
}

const char *mw_gemm_path_name(enum mw_gemm_path path) {
    static const char *const names[] = {"auto", "v128", "v256", "v512"};
    return path >= 0 && path < MW_GEMM_PATH_COUNT ? names[path] : "?";
}

static const struct mw_gemm_impl *current_impl(void) {
    switch (mw_gemm_get_path()) {
#if defined(__x86_64__)
    case MW_GEMM_PATH_V512:
        return &mw_gemm_impl_v512;
    case MW_GEMM_PATH_V256:
        return &mw_gemm_impl_v256;
#endif
    default:
        return &mw_gemm_impl_v128;
    }
}

/* ------------------------------------------------------------------------ */
/* Packed path                                                              */
/* ------------------------------------------------------------------------ */

/* kc x nb block of B (columns j0.. of C), as ceil(nb / nr) slivers. */
static void pack_b_block(const struct mw_gemm_impl *im, const struct prob *p, int64_t j0,
                         int64_t nb, int64_t k0, int64_t kb, float *pb) {
    for (int64_t q = 0; q < nb; q += im->nr) {
        int64_t cols = min64(im->nr, nb - q);
        if (p->nn)
            im->pack_b_nn(p->B + k0 * p->ldb + j0 + q, p->ldb, cols, kb, pb + q * kb);
        else
            im->pack_b_nt(p->B + (j0 + q) * p->ldb + k0, p->ldb, cols, kb, pb + q * kb);
    }
}

/* A tile that sticks out of C: same arithmetic on a padded copy. */
static void edge_tile(const struct mw_gemm_impl *im, int64_t kb, const float *pa, const float *pb,
                      float *c, int64_t ldc, int64_t rows, int64_t cols, bool add_c) {
    _Alignas(64) float tmp[MAX_TILE];
    int nr = im->nr;
    memset(tmp, 0, (size_t)(im->mr * nr) * sizeof(float));
    if (add_c)
        for (int64_t i = 0; i < rows; i++)
            memcpy(tmp + i * nr, c + i * ldc, (size_t)cols * sizeof(float));
    im->tile(kb, pa, pb, tmp, nr, add_c);
    for (int64_t i = 0; i < rows; i++)
        memcpy(c + i * ldc, tmp + i * nr, (size_t)cols * sizeof(float));
}

/* All tiles of an mb x nb block of C over one kc block: the B sliver of
 * the outer loop stays in L1 (or L2 for the largest kc) while the A
 * slivers stream from L2. */
static void macro_kernel(const struct mw_gemm_impl *im, const struct prob *p, int64_t i0,
                         int64_t mb, int64_t j0, int64_t nb, int64_t kb, bool add_c,
                         const float *pa, const float *pb) {
    for (int64_t jr = 0; jr < nb; jr += im->nr) {
        int64_t cols = min64(im->nr, nb - jr);
        for (int64_t ir = 0; ir < mb; ir += im->mr) {
            int64_t rows = min64(im->mr, mb - ir);
            float *c = p->C + (i0 + ir) * p->ldc + j0 + jr;
            if (rows == im->mr && cols == im->nr)
                im->tile(kb, pa + ir * kb, pb + jr * kb, c, p->ldc, add_c);
            else
                edge_tile(im, kb, pa + ir * kb, pb + jr * kb, c, p->ldc, rows, cols, add_c);
        }
    }
}

/* k blocks of equal size (but for rounding), no larger than the path's kc:
 * a short last block would cost a pass over C for little work. The size
 * depends on K and the path only, so results do too. */
int64_t mw_gemm_k_block(const struct mw_gemm_impl *im, int64_t K) {
    return K > 0 ? ceil_div(K, ceil_div(K, im->kc)) : 1;
}

/* ------------------------------------------------------------------------ */
/* Threads and buffers                                                      */
/* ------------------------------------------------------------------------ */

/* Floats of packed A at most (32 MiB; a 512-token window of a 7B model's
 * K = 11008 needs 22): longer windows are done in several row blocks. */
#define A_BUDGET (8 << 20)
/* Column chunks of a work unit: at most 256 wide (its packed B then stays
 * in L2 or L3 next to an mc x kc block of A in L2), at least 64, so that
 * an A block fetched into L2 serves several B slivers; narrow C is then
 * split by rows too. */
#define MAX_CHUNK 256
#define MIN_CHUNK 64
/* Work units per thread aimed at: enough for a thread that the system
 * deschedules to be covered by the others. */
#define UNITS_PER_THREAD 4

/* How the team shares one packed product. The team packs A (all of K, for
 * up to a_rows rows) together; then each member takes work units, one at a
 * time as it gets through them: a unit is a w-wide column chunk of C
 * (times a group of rows when C is too narrow to give every thread several
 * chunks), over all of K, whose B the member packs block by block. Two
 * synchronisations per call: waiting between them costs a whole time
 * slice when a core is shared with another program. Dynamic assignment
 * keeps results identical, as an element's arithmetic does not depend on
 * who computes it. */
struct plan {
    int64_t kcb, nkb; /* k block and number of k blocks */
    int64_t w;        /* columns per unit, a multiple of nr */
    int64_t mrows;    /* rows per unit, a multiple of mr */
    int64_t a_rows;   /* rows of A packed at once, a multiple of mr unless all of M */
    size_t a_floats;  /* shared packed-A region */
    size_t b_floats;  /* per-member packed-B region */
};

static size_t round16(int64_t floats) {
    return (size_t)(floats + 15) / 16 * 16;
}

static struct plan make_plan(const struct mw_gemm_impl *im, const struct prob *p, int nt) {
    struct plan pl;
    int64_t want = (int64_t)nt * UNITS_PER_THREAD;
    pl.kcb = mw_gemm_k_block(im, p->K);
    pl.nkb = ceil_div(p->K, pl.kcb);
    int64_t fit = A_BUDGET / (pl.nkb * pl.kcb) / im->mr * im->mr;
    pl.a_rows = min64(p->M, fit > im->mr ? fit : im->mr);
    /* slivers of B per unit: enough units, within MIN_CHUNK..MAX_CHUNK */
    int64_t slivers = ceil_div(p->N, im->nr);
    int64_t per_unit = max64(ceil_div(slivers, want), ceil_div(MIN_CHUNK, im->nr));
    per_unit = min64(min64(per_unit, max64(MAX_CHUNK / im->nr, 1)), slivers);
    pl.w = per_unit * im->nr;
    int64_t chunks = ceil_div(p->N, pl.w), groups = 1;
    if (chunks < want) groups = min64(ceil_div(want, chunks), ceil_div(pl.a_rows, im->mc));
    pl.mrows = ceil_div(ceil_div(pl.a_rows, groups), im->mr) * im->mr;
    pl.a_floats = round16(ceil_div(pl.a_rows, im->mr) * im->mr * pl.kcb * pl.nkb);
    pl.b_floats = round16(pl.w * pl.kcb);
    return pl;
}

/* Packing buffers of the calling thread, kept between calls: allocating
 * megabytes per call costs page faults on every call. */
static _Thread_local float *scratch_buf;
static _Thread_local size_t scratch_floats;

static float *scratch(size_t floats) {
    if (floats <= scratch_floats) return scratch_buf;
    free(scratch_buf);
    scratch_buf = aligned_alloc(64, floats * sizeof(float)); /* floats: a multiple of 16 */
    scratch_floats = scratch_buf ? floats : 0;
    return scratch_buf;
}

/* Rows [i0, i0 + rows) of A, every k block, shared among the team: block q
 * at pa + q * stride, its slivers of mr rows one after the other. */
static void pack_a_rows(const struct mw_gemm_impl *im, const struct prob *p, const struct plan *pl,
                        int64_t i0, int64_t rows, int64_t stride, float *pa) {
    int64_t slivers = ceil_div(rows, im->mr);
#pragma omp for schedule(static)
    for (int64_t t = 0; t < slivers * pl->nkb; t++) {
        int64_t q = t / slivers, s = t % slivers, k0 = q * pl->kcb;
        int64_t kb = min64(pl->kcb, p->K - k0);
        im->pack_a(p->A + (i0 + s * im->mr) * p->lda + k0, p->lda, min64(im->mr, rows - s * im->mr),
                   kb, pa + q * stride + s * im->mr * kb);
    }
}

/* One unit: rows [r0, r1) of the block of rows at i0, columns
 * [j0, j0 + nb), all of K. */
static void run_unit(const struct mw_gemm_impl *im, const struct prob *p, const struct plan *pl,
                     int64_t i0, int64_t r0, int64_t r1, int64_t j0, int64_t nb, int64_t stride,
                     const float *pa, float *pb, int64_t *packed_j0) {
    for (int64_t q = 0; q < pl->nkb; q++) {
        int64_t k0 = q * pl->kcb, kb = min64(pl->kcb, p->K - k0);
        bool add_c = p->accumulate || q > 0;
        /* with one k block, a member that takes the next row group of the
         * same chunk still has its B */
        if (pl->nkb > 1 || *packed_j0 != j0) pack_b_block(im, p, j0, nb, k0, kb, pb);
        *packed_j0 = j0;
        for (int64_t ic = r0; ic < r1; ic += im->mc)
            macro_kernel(im, p, i0 + ic, min64(im->mc, r1 - ic), j0, nb, kb, add_c,
                         pa + q * stride + ic * kb, pb);
    }
}

/* The team's loop nest (see struct plan); run by every member. */
static void team_work(const struct mw_gemm_impl *im, const struct prob *p, const struct plan *pl,
                      float *pa, float *pb) {
    int64_t packed_j0 = -1; /* the chunk of B in pb */
    for (int64_t i0 = 0; i0 < p->M; i0 += pl->a_rows) {
        int64_t rows = min64(pl->a_rows, p->M - i0);
        int64_t stride = ceil_div(rows, im->mr) * im->mr * pl->kcb;
        pack_a_rows(im, p, pl, i0, rows, stride, pa);
        int64_t chunks = ceil_div(p->N, pl->w), groups = ceil_div(rows, pl->mrows);
#pragma omp for schedule(dynamic, 1)
        for (int64_t u = 0; u < chunks * groups; u++) {
            int64_t j0 = u / groups * pl->w, r0 = u % groups * pl->mrows;
            run_unit(im, p, pl, i0, r0, min64(r0 + pl->mrows, rows), j0, min64(pl->w, p->N - j0),
                     stride, pa, pb, &packed_j0);
        }
    }
}

static void run_packed(const struct mw_gemm_impl *im, const struct prob *p, int nt) {
    struct plan pl = make_plan(im, p, nt);
    float *buf = scratch(pl.a_floats + pl.b_floats * (size_t)nt);
    if (!buf) {
        /* out of memory: still correct, just slow */
        (p->nn ? mw_gemm_nn_ref : mw_gemm_nt_ref)(p->M, p->N, p->K, p->A, p->lda, p->B, p->ldb,
                                                  p->C, p->ldc, p->accumulate);
        return;
    }
#pragma omp parallel num_threads(nt) if (nt > 1)
    team_work(im, p, &pl, buf, buf + pl.a_floats + pl.b_floats * (size_t)omp_get_thread_num());
}

/* ------------------------------------------------------------------------ */
/* Direct path (small M, nt)                                                */
/* ------------------------------------------------------------------------ */

/* Rows of B per work unit of the direct path. */
#define DIRECT_CHUNK 64

static void run_direct(const struct mw_gemm_impl *im, const struct prob *p, int nt) {
    int64_t chunks = ceil_div(p->N, DIRECT_CHUNK);
#pragma omp parallel for num_threads(nt) if (nt > 1) schedule(dynamic, 1)
    for (int64_t u = 0; u < chunks; u++) {
        int64_t n1 = min64(p->N, (u + 1) * DIRECT_CHUNK);
        for (int64_t j = u * DIRECT_CHUNK; j < n1; j += im->dot_nj) {
            int nj = (int)min64(im->dot_nj, n1 - j);
            for (int64_t i = 0; i < p->M; i += im->dot_mi) {
                int mi = (int)min64(im->dot_mi, p->M - i);
                im->dot(p->K, p->A + i * p->lda, p->lda, mi, p->B + j * p->ldb, p->ldb, nj,
                        p->C + i * p->ldc + j, p->ldc, p->accumulate);
            }
        }
    }
}

static int team_size(const struct prob *p) {
    if (omp_in_parallel()) return 1;
    int64_t n = omp_get_max_threads();
    int64_t by_work = (p->M * p->N * p->K) / MIN_WORK_PER_THREAD;
    n = min64(n, by_work > 0 ? by_work : 1);
    return (int)n;
}

void mw_gemm_own_run(const struct mw_gemm_impl *im, bool nn, int64_t M, int64_t N, int64_t K,
                     const float *A, int64_t lda, const float *B, int64_t ldb, float *C,
                     int64_t ldc, bool accumulate) {
    if (M <= 0 || N <= 0) return;
    if (K <= 0) {
        if (!accumulate)
            for (int64_t i = 0; i < M; i++)
                memset(C + i * ldc, 0, (size_t)N * sizeof(float));
        return;
    }
    struct prob p = {nn, M, N, K, A, lda, B, ldb, C, ldc, accumulate};
    int nt = team_size(&p);
    if (!nn && M <= MW_GEMM_DIRECT_M)
        run_direct(im, &p, nt);
    else
        run_packed(im, &p, nt);
}

void mw_gemm_nt_own(int64_t M, int64_t N, int64_t K, const float *A, int64_t lda, const float *B,
                    int64_t ldb, float *C, int64_t ldc, bool accumulate) {
    mw_gemm_own_run(current_impl(), false, M, N, K, A, lda, B, ldb, C, ldc, accumulate);
}

void mw_gemm_nn_own(int64_t M, int64_t N, int64_t K, const float *A, int64_t lda, const float *B,
                    int64_t ldb, float *C, int64_t ldc, bool accumulate) {
    mw_gemm_own_run(current_impl(), true, M, N, K, A, lda, B, ldb, C, ldc, accumulate);
}
