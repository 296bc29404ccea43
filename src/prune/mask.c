/* Masks applied in place: per row, per N:M group, over the whole matrix.
 * The rules (exact counts, zeros first among ties, then the lower index)
 * are in prune.h; scripts/ref_prune.py states them again with a sort. */
#include "prune/prune.h"
#include "prune/select.h"

#include "core/err.h"

#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

int64_t mw_prune_count(int64_t n, double s) {
    return (int64_t)floor((double)n * s);
}

static enum mw_status check_matrix(const float *w, int64_t rows, int64_t cols, mw_err *err) {
    if (!w && rows > 0 && cols > 0) return mw_fail(err, MW_ERR_ARG, "prune: no weights");
    if (rows < 0 || cols < 0 || (cols > 0 && rows > INT64_MAX / cols))
        return mw_fail(err, MW_ERR_SHAPE, "prune: bad shape %lld x %lld", (long long)rows,
                       (long long)cols);
    if ((uint64_t)rows * (uint64_t)cols > SIZE_MAX / sizeof(float))
        return mw_fail(err, MW_ERR_SHAPE, "prune: %lld x %lld weights do not fit in memory",
                       (long long)rows, (long long)cols);
    return MW_OK;
}

static enum mw_status check_sparsity(double s, mw_err *err) {
    if (!(s >= 0 && s < 1))
        return mw_fail(err, MW_ERR_ARG, "prune: sparsity %g is not in [0, 1)", s);
    return MW_OK;
}

/* Refuses non-finite weights and factors that are not finite and >= 0,
 * naming the first offender, before anything is written. */
static enum mw_status check_values(const float *w, int64_t rows, int64_t cols, const double *c,
                                   mw_err *err) {
    for (int64_t j = 0; c && j < cols; j++)
        if (!isfinite(c[j]) || !(c[j] >= 0))
            return mw_fail(err, MW_ERR_ARG, "factor of column %lld is %g, not finite and >= 0",
                           (long long)j, c[j]);
    int64_t bad = rows;
#pragma omp parallel for schedule(static) reduction(min : bad) if (rows * cols > 65536)
    for (int64_t i = 0; i < rows; i++) {
        const float *r = w + i * cols;
        for (int64_t j = 0; j < cols; j++)
            if (!isfinite(r[j])) {
                bad = i < bad ? i : bad;
                break;
            }
    }
    if (bad == rows) return MW_OK;
    int64_t j = 0;
    while (isfinite(w[bad * cols + j]))
        j++;
    return mw_fail(err, MW_ERR_ARG, "holds non-finite values at row %lld column %lld",
                   (long long)bad, (long long)j);
}

static inline double score_of(float w, const double *c, int64_t j) {
    double a = fabs((double)w);
    return c ? a * c[j] : a;
}

/* Zeroes the k lowest keys of w[0..n) (zeros first, see prune.h); returns
 * the zeros of the result. scratch holds n keys. */
static int64_t prune_span(float *w, int64_t n, const double *c, int64_t k, mw_key *scratch) {
    int64_t nz = 0;
    for (int64_t j = 0; j < n; j++)
        if (w[j] != 0) scratch[nz++] = (mw_key){score_of(w[j], c, j), j};
    int64_t need = k - (n - nz);
    if (need <= 0) return n - nz;
    if (need < nz) mw_select_nth(scratch, nz, need, -1);
    for (int64_t t = 0; t < need; t++)
        w[scratch[t].j] = 0.0f;
    return k;
}

static int team_size(int64_t units) {
    int nt = omp_in_parallel() ? 1 : omp_get_max_threads();
    if (nt > units) nt = units > 0 ? (int)units : 1;
    return nt;
}

/* Runs prune_span over every group of `group` columns of every row. */
static enum mw_status prune_groups(float *w, int64_t rows, int64_t cols, const double *c,
                                   int64_t group, int64_t k, int64_t *zeros, mw_err *err) {
    int64_t total = 0;
    if (rows == 0 || cols == 0) goto done;
    int nt = team_size(rows);
    mw_key *scratch = malloc((size_t)nt * (size_t)group * sizeof *scratch);
    if (!scratch)
        return mw_fail(err, MW_ERR_NOMEM, "prune: no memory for %d x %lld keys", nt,
                       (long long)group);
    const int64_t per_row = cols / group;
#pragma omp parallel num_threads(nt) if (nt > 1) reduction(+ : total)
    {
        mw_key *mine = scratch + (size_t)omp_get_thread_num() * (size_t)group;
#pragma omp for schedule(static)
        for (int64_t i = 0; i < rows; i++)
            for (int64_t g = 0; g < per_row; g++) {
                int64_t off = g * group;
                total += prune_span(w + i * cols + off, group, c ? c + off : NULL, k, mine);
            }
    }
    free(scratch);
done:
    if (zeros) *zeros = total;
    return MW_OK;
}

enum mw_status mw_prune_rows(float *w, int64_t rows, int64_t cols, const double *c, double s,
                             int64_t *zeros, mw_err *err) {
    enum mw_status rc = check_matrix(w, rows, cols, err);
    if (rc == MW_OK) rc = check_sparsity(s, err);
    if (rc == MW_OK) rc = check_values(w, rows, cols, c, err);
    if (rc != MW_OK) return rc;
    return prune_groups(w, rows, cols, c, cols, mw_prune_count(cols, s), zeros, err);
}

enum mw_status mw_prune_nm(float *w, int64_t rows, int64_t cols, const double *c, mw_pattern p,
                           int64_t *zeros, mw_err *err) {
    enum mw_status rc = check_matrix(w, rows, cols, err);
    if (rc != MW_OK) return rc;
    if (p.m < 2 || p.n < 1 || p.n >= p.m || p.m > MW_PATTERN_MAX_M)
        return mw_fail(err, MW_ERR_ARG, "prune: %d:%d is not an N:M pattern", p.n, p.m);
    if (cols % p.m != 0)
        return mw_fail(err, MW_ERR_SHAPE, "prune: %d:%d needs inputs divisible by %d, not %lld",
                       p.n, p.m, p.m, (long long)cols);
    rc = check_values(w, rows, cols, c, err);
    if (rc != MW_OK) return rc;
    return prune_groups(w, rows, cols, c, p.m, p.n, zeros, err);
}

/* ------------------------------------------------------------------------ */
/* Whole matrix: radix selection on the bits of |w|                         */
/* ------------------------------------------------------------------------ */

/* For non-negative finite floats the order of the bit patterns is the order
 * of the values, so a key (|w|, index) is (bits, index), and the k-th bits
 * are found with two histograms of 16 bits each and no copy of the matrix. */
#define HIST_BINS 65536

static inline uint32_t abs_bits(float f) {
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u & 0x7fffffffu;
}

/* hist[b] counts the weights whose |w| bits have high half b (hi < 0), or
 * have high half hi and low half b. */
static void histogram(const float *w, int64_t n, int64_t hi, int64_t *hist, int64_t *tmp, int nt) {
    memset(tmp, 0, (size_t)nt * HIST_BINS * sizeof *tmp);
#pragma omp parallel num_threads(nt) if (nt > 1)
    {
        int64_t *h = tmp + (size_t)omp_get_thread_num() * HIST_BINS;
#pragma omp for schedule(static)
        for (int64_t i = 0; i < n; i++) {
            uint32_t u = abs_bits(w[i]);
            if (hi < 0)
                h[u >> 16]++;
            else if ((u >> 16) == (uint32_t)hi)
                h[u & 0xffffu]++;
        }
    }
    for (int64_t b = 0; b < HIST_BINS; b++) {
        int64_t s = 0;
        for (int t = 0; t < nt; t++)
            s += tmp[(size_t)t * HIST_BINS + b];
        hist[b] = s;
    }
}

/* The bin holding the key of rank k-1 given *before keys below bin 0;
 * *before becomes the count below the bin found. */
static int64_t find_bin(const int64_t *hist, int64_t k, int64_t *before) {
    int64_t b = 0;
    while (*before + hist[b] < k)
        *before += hist[b++];
    return b;
}

/* Zeroes, per row, the nonzero weights with bits < t and the first take[i]
 * with bits == t; returns the zeros of the result. */
static int64_t zero_below(float *w, int64_t rows, int64_t cols, uint32_t t, const int64_t *take,
                          int nt) {
    int64_t total = 0;
#pragma omp parallel for num_threads(nt) if (nt > 1) schedule(static) reduction(+ : total)
    for (int64_t i = 0; i < rows; i++) {
        float *r = w + i * cols;
        int64_t left = take[i];
        for (int64_t j = 0; j < cols; j++) {
            uint32_t u = abs_bits(r[j]);
            if (u != 0 && (u < t || (u == t && left-- > 0))) r[j] = 0.0f;
            total += r[j] == 0;
        }
    }
    return total;
}

enum mw_status mw_prune_global(float *w, int64_t rows, int64_t cols, double s, int64_t *zeros,
                               mw_err *err) {
    enum mw_status rc = check_matrix(w, rows, cols, err);
    if (rc == MW_OK) rc = check_sparsity(s, err);
    if (rc == MW_OK) rc = check_values(w, rows, cols, NULL, err);
    if (rc != MW_OK) return rc;
    const int64_t n = rows * cols, k = mw_prune_count(n, s);
    const int nt = team_size(rows);
    int64_t *hist = malloc(((size_t)nt + 1) * HIST_BINS * sizeof *hist);
    int64_t *take = malloc(((size_t)rows + 1) * sizeof *take);
    if (!hist || !take) {
        free(hist);
        free(take);
        return mw_fail(err, MW_ERR_NOMEM, "prune: no memory for the histograms");
    }
    int64_t *tmp = hist + HIST_BINS;
    histogram(w, n, -1, hist, tmp, nt);
    int64_t z = 0; /* zeros have bits 0: the first keys */
#pragma omp parallel for num_threads(nt) if (nt > 1) schedule(static) reduction(+ : z)
    for (int64_t i = 0; i < n; i++)
        z += w[i] == 0;
    int64_t total = z;
    if (z < k) {
        int64_t before = 0;
        int64_t hi = find_bin(hist, k, &before);
        histogram(w, n, hi, hist, tmp, nt);
        uint32_t t = (uint32_t)hi << 16 | (uint32_t)find_bin(hist, k, &before);
        /* `before` keys lie below t; the rest come from the ties at t, in
         * flat order, so each row learns how many of its ties to take */
        int64_t eq_left = k - before;
#pragma omp parallel for num_threads(nt) if (nt > 1) schedule(static)
        for (int64_t i = 0; i < rows; i++) {
            int64_t e = 0;
            for (int64_t j = 0; j < cols; j++)
                e += abs_bits(w[i * cols + j]) == t;
            take[i] = e;
        }
        for (int64_t i = 0; i < rows; i++) {
            int64_t e = take[i] < eq_left ? take[i] : eq_left;
            take[i] = e;
            eq_left -= e;
        }
        total = zero_below(w, rows, cols, t, take, nt);
    }
    free(hist);
    free(take);
    if (zeros) *zeros = total;
    return MW_OK;
}
