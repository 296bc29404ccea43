/* Layerwise sparsity: OWL's outlier share, CWL's cross-lingual correlation,
 * and the allocation of block sparsities from an importance per block. */
#include "prune/prune.h"

#include "core/err.h"

#include <math.h>
#include <omp.h>
#include <stdlib.h>

/* ------------------------------------------------------------------------ */
/* OWL                                                                      */
/* ------------------------------------------------------------------------ */

void mw_owl_init(mw_owl *o) {
    *o = (mw_owl){0.0, 0, NAN, 0, 0};
}

/* Shape and values as the masks require them (see prune.h). */
static enum mw_status owl_check(const float *w, int64_t rows, int64_t cols, const double *c,
                                mw_err *err) {
    if (rows < 0 || cols < 0 || (cols > 0 && rows > INT64_MAX / cols))
        return mw_fail(err, MW_ERR_SHAPE, "OWL: bad shape %lld x %lld", (long long)rows,
                       (long long)cols);
    if (rows * cols > 0 && !w) return mw_fail(err, MW_ERR_ARG, "OWL: no weights");
    for (int64_t j = 0; c && j < cols; j++)
        if (!isfinite(c[j]) || !(c[j] >= 0))
            return mw_fail(err, MW_ERR_ARG, "factor of column %lld is %g, not finite and >= 0",
                           (long long)j, c[j]);
    for (int64_t i = 0; i < rows * cols; i++)
        if (!isfinite(w[i]))
            return mw_fail(err, MW_ERR_ARG, "holds non-finite values at row %lld column %lld",
                           (long long)(i / cols), (long long)(i % cols));
    return MW_OK;
}

static inline double owl_score(float w, const double *c, int64_t j) {
    double a = fabs((double)w);
    return c ? a * c[j] : a;
}

enum mw_status mw_owl_add_sum(mw_owl *o, const float *w, int64_t rows, int64_t cols,
                              const double *c, mw_err *err) {
    enum mw_status rc = owl_check(w, rows, cols, c, err);
    if (rc != MW_OK) return rc;
    if (rows == 0 || cols == 0) return MW_OK;
    double *row_sum = malloc((size_t)rows * sizeof *row_sum);
    if (!row_sum)
        return mw_fail(err, MW_ERR_NOMEM, "OWL: no memory for %lld sums", (long long)rows);
#pragma omp parallel for schedule(static) if (rows * cols > 65536 && !omp_in_parallel())
    for (int64_t i = 0; i < rows; i++) {
        double acc = 0.0;
        for (int64_t j = 0; j < cols; j++)
            acc += owl_score(w[i * cols + j], c, j);
        row_sum[i] = acc;
    }
    for (int64_t i = 0; i < rows; i++)
        o->sum += row_sum[i];
    o->count += rows * cols;
    free(row_sum);
    return MW_OK;
}

enum mw_status mw_owl_set_threshold(mw_owl *o, double m, mw_err *err) {
    if (!isfinite(m) || !(m > 0))
        return mw_fail(err, MW_ERR_ARG, "OWL: outlier multiple M = %g must be finite and > 0", m);
    if (o->count == 0) return mw_fail(err, MW_ERR_ARG, "OWL: no weights in the block");
    o->threshold = m * (o->sum / (double)o->count);
    if (!isfinite(o->threshold)) return mw_fail(err, MW_ERR_ARG, "OWL: the scores' mean overflows");
    return MW_OK;
}

enum mw_status mw_owl_add_above(mw_owl *o, const float *w, int64_t rows, int64_t cols,
                                const double *c, mw_err *err) {
    if (isnan(o->threshold))
        return mw_fail(err, MW_ERR_ARG, "OWL: the threshold is not set before the second pass");
    enum mw_status rc = owl_check(w, rows, cols, c, err);
    if (rc != MW_OK) return rc;
    const double t = o->threshold;
    int64_t above = 0;
#pragma omp parallel for schedule(static) reduction(+ : above)                                     \
    if (rows * cols > 65536 && !omp_in_parallel())
    for (int64_t i = 0; i < rows; i++)
        for (int64_t j = 0; j < cols; j++)
            above += owl_score(w[i * cols + j], c, j) > t;
    o->above += above;
    o->seen += rows * cols;
    return MW_OK;
}

enum mw_status mw_owl_share(const mw_owl *o, double *share, mw_err *err) {
    if (o->count == 0 || o->seen != o->count)
        return mw_fail(err, MW_ERR_ARG, "OWL: the second pass saw %lld weights, the first %lld",
                       (long long)o->seen, (long long)o->count);
    *share = (double)o->above / (double)o->count;
    return MW_OK;
}

/* ------------------------------------------------------------------------ */
/* CWL                                                                      */
/* ------------------------------------------------------------------------ */

static enum mw_status cwl_check(const mw_lang_stats *in, int n_inputs, int64_t *n_all,
                                mw_err *err) {
    if (!in || n_inputs < 1) return mw_fail(err, MW_ERR_ARG, "CWL: no inputs");
    const int L = in[0].n_lang;
    if (L < 2)
        return mw_fail(err, MW_ERR_ARG,
                       "CWL: the correlation between languages needs at least two, not %d", L);
    int64_t total = 0;
    for (int k = 0; k < n_inputs; k++) {
        const mw_lang_stats *st = &in[k];
        if (st->n_lang != L)
            return mw_fail(err, MW_ERR_ARG, "CWL: input %d has %d languages, input 0 has %d", k,
                           st->n_lang, L);
        if (st->n_in < 1 || st->n_in > (INT64_MAX / L - total) || !st->sum2 || !st->tokens)
            return mw_fail(err, MW_ERR_SHAPE, "CWL: input %d has no usable statistics", k);
        total += st->n_in;
        for (int l = 0; l < L; l++)
            if (!isfinite(st->tokens[l]) || !(st->tokens[l] > 0))
                return mw_fail(err, MW_ERR_ARG, "CWL: language %d has no tokens in input %d", l, k);
        for (int64_t i = 0; i < L * st->n_in; i++)
            if (!isfinite(st->sum2[i]) || !(st->sum2[i] >= 0))
                return mw_fail(err, MW_ERR_ARG,
                               "CWL: input %d holds a sum of squares that is not finite and >= 0",
                               k);
    }
    *n_all = total;
    return MW_OK;
}

/* Pearson correlation of x and y [n]; NAN if either is constant. */
static double pearson(const double *x, const double *y, int64_t n) {
    double mx = 0.0, my = 0.0;
    for (int64_t i = 0; i < n; i++) {
        mx += x[i];
        my += y[i];
    }
    mx /= (double)n;
    my /= (double)n;
    double sxy = 0.0, sxx = 0.0, syy = 0.0;
    for (int64_t i = 0; i < n; i++) {
        double dx = x[i] - mx, dy = y[i] - my;
        sxy += dx * dy;
        sxx += dx * dx;
        syy += dy * dy;
    }
    if (!(sxx > 0) || !(syy > 0)) return NAN;
    return sxy / sqrt(sxx * syy);
}

enum mw_status mw_cwl_correlation(const mw_lang_stats *in, int n_inputs, double *r, mw_err *err) {
    int64_t n = 0;
    enum mw_status rc = cwl_check(in, n_inputs, &n, err);
    if (rc != MW_OK) return rc;
    const int L = in[0].n_lang;
    double *a = malloc((size_t)L * (size_t)n * sizeof *a); /* [L][n]: a_l over all inputs */
    if (!a) return mw_fail(err, MW_ERR_NOMEM, "CWL: no memory for %d x %lld", L, (long long)n);
    for (int l = 0; l < L; l++) {
        double *al = a + (size_t)l * (size_t)n;
        for (int k = 0; k < n_inputs; k++) {
            const mw_lang_stats *st = &in[k];
            for (int64_t j = 0; j < st->n_in; j++)
                *al++ = sqrt(st->sum2[l * st->n_in + j] / st->tokens[l]);
        }
    }
    double sum = 0.0;
    int pairs = 0;
    for (int l = 0; l < L && rc == MW_OK; l++)
        for (int m = l + 1; m < L; m++) {
            double p = pearson(a + (size_t)l * (size_t)n, a + (size_t)m * (size_t)n, n);
            if (!isfinite(p)) {
                rc = mw_fail(err, MW_ERR_ARG,
                             "CWL: the activations of language %d or %d are the same on every "
                             "channel, their correlation is undefined",
                             l, m);
                break;
            }
            sum += p;
            pairs++;
        }
    free(a);
    if (rc == MW_OK) *r = sum / pairs;
    return rc;
}

void mw_cwl_importance(enum mw_cwl_dir dir, const double *r, int n, double *imp) {
    for (int b = 0; b < n; b++)
        imp[b] = dir == MW_CWL_R ? r[b] : 1.0 - r[b];
}

/* ------------------------------------------------------------------------ */
/* Allocation                                                               */
/* ------------------------------------------------------------------------ */

enum mw_status mw_allocate_sparsity(const double *imp, int n, double s, double lam, double *s_b,
                                    int *n_clamped, mw_err *err) {
    if (n < 1 || !imp || !s_b) return mw_fail(err, MW_ERR_ARG, "allocation: no blocks");
    if (!(s >= 0 && s < 1))
        return mw_fail(err, MW_ERR_ARG, "allocation: sparsity %g is not in [0, 1)", s);
    if (!isfinite(lam) || !(lam >= 0))
        return mw_fail(err, MW_ERR_ARG, "allocation: Lambda %g must be finite and >= 0", lam);
    double lo = INFINITY, hi = -INFINITY;
    for (int b = 0; b < n; b++) {
        if (!isfinite(imp[b]))
            return mw_fail(err, MW_ERR_ARG, "allocation: importance of block %d is %g", b, imp[b]);
        lo = imp[b] < lo ? imp[b] : lo;
        hi = imp[b] > hi ? imp[b] : hi;
    }
    const double range = hi - lo;
    if (!isfinite(range)) return mw_fail(err, MW_ERR_ARG, "allocation: importance range overflows");
    double sum = 0.0;
    for (int b = 0; b < n; b++) {
        s_b[b] = range > 0 ? ((imp[b] - lo) / range) * (2.0 * lam) : 0.0;
        sum += s_b[b];
    }
    const double mean = sum / n;
    const double top = nextafter(1.0, 0.0);
    int clamped = 0;
    for (int b = 0; b < n; b++) {
        double v = s - (s_b[b] - mean);
        if (v < 0 || v > top) {
            v = v < 0 ? 0.0 : top;
            clamped++;
        }
        s_b[b] = v;
    }
    if (n_clamped) *n_clamped = clamped;
    return MW_OK;
}
