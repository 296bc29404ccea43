/* Per-channel score factors of Wanda and M-Wanda (DESIGN.md §1.1, §1.2).
 * The operation order is part of the definition: scripts/ref_prune.py
 * repeats it so that factors agree bit for bit. */
#include "prune/prune.h"

#include "core/err.h"

#include <math.h>

static enum mw_status check_shape(const mw_lang_stats *st, mw_err *err) {
    if (!st || !st->sum2) return mw_fail(err, MW_ERR_ARG, "statistics: no sums of squares");
    if (st->n_lang < 1) return mw_fail(err, MW_ERR_ARG, "statistics: no language");
    if (st->n_in < 1) return mw_fail(err, MW_ERR_SHAPE, "statistics: no input channel");
    if (st->n_in > INT64_MAX / st->n_lang)
        return mw_fail(err, MW_ERR_SHAPE, "statistics: %d x %lld values overflow", st->n_lang,
                       (long long)st->n_in);
    return MW_OK;
}

static enum mw_status check_sum2(const mw_lang_stats *st, mw_err *err) {
    for (int l = 0; l < st->n_lang; l++)
        for (int64_t j = 0; j < st->n_in; j++) {
            double v = st->sum2[(int64_t)l * st->n_in + j];
            if (!isfinite(v) || v < 0)
                return mw_fail(err, MW_ERR_ARG,
                               "statistics: sum of squares %g of language %d channel %lld is not "
                               "finite and >= 0",
                               v, l, (long long)j);
        }
    return MW_OK;
}

static enum mw_status check_tokens(const mw_lang_stats *st, mw_err *err) {
    if (!st->tokens) return mw_fail(err, MW_ERR_ARG, "statistics: no token counts");
    for (int l = 0; l < st->n_lang; l++)
        if (!isfinite(st->tokens[l]) || !(st->tokens[l] > 0))
            return mw_fail(err, MW_ERR_ARG, "statistics: language %d has no tokens (count %g)", l,
                           st->tokens[l]);
    return MW_OK;
}

static enum mw_status check_pos(const mw_lang_stats *st, mw_err *err) {
    if (!st->pos)
        return mw_fail(err, MW_ERR_ARG, "statistics: the probability term needs counts of x > 0");
    for (int l = 0; l < st->n_lang; l++)
        for (int64_t j = 0; j < st->n_in; j++) {
            double v = st->pos[(int64_t)l * st->n_in + j];
            if (!(v >= 0 && v <= st->tokens[l]))
                return mw_fail(err, MW_ERR_ARG,
                               "statistics: count of x > 0 %g of language %d channel %lld is not "
                               "in [0, %g]",
                               v, l, (long long)j, st->tokens[l]);
        }
    return MW_OK;
}

static enum mw_status check_output(const double *c, int64_t n, mw_err *err) {
    for (int64_t j = 0; j < n; j++)
        if (!isfinite(c[j]))
            return mw_fail(err, MW_ERR_ARG, "statistics: factor of channel %lld overflows",
                           (long long)j);
    return MW_OK;
}

enum mw_status mw_wanda_factor(const mw_lang_stats *st, double *c, mw_err *err) {
    enum mw_status rc = check_shape(st, err);
    if (rc == MW_OK) rc = check_sum2(st, err);
    if (rc != MW_OK) return rc;
    for (int64_t j = 0; j < st->n_in; j++) {
        double acc = 0.0;
        for (int l = 0; l < st->n_lang; l++)
            acc += st->sum2[(int64_t)l * st->n_in + j];
        c[j] = sqrt(acc);
    }
    return check_output(c, st->n_in, err);
}

/* mu + lambda * sigma of channel j (lambda == 0: mu exactly). */
static double base_factor(const mw_lang_stats *st, const mw_mwanda_opts *o, double t_all,
                          int64_t j) {
    const int L = st->n_lang;
    const int64_t n = st->n_in;
    double sum_a = 0.0;
    for (int l = 0; l < L; l++)
        sum_a += sqrt(st->sum2[l * n + j] / st->tokens[l]);
    const double mean_a = sum_a / L;
    double mu;
    if (o->balance) {
        mu = mean_a;
    } else {
        double s2 = 0.0;
        for (int l = 0; l < L; l++)
            s2 += st->sum2[l * n + j];
        mu = sqrt(s2 / t_all);
    }
    if (o->lambda == 0) return mu;
    double dev2 = 0.0;
    for (int l = 0; l < L; l++) {
        double d = sqrt(st->sum2[l * n + j] / st->tokens[l]) - mean_a;
        dev2 += d * d;
    }
    return mu + o->lambda * sqrt(dev2 / L);
}

/* g(p[.][j])^gamma (gamma == 0: 1 exactly). */
static double prob_factor(const mw_lang_stats *st, const mw_mwanda_opts *o, int64_t j) {
    if (o->gamma == 0) return 1.0;
    const int L = st->n_lang;
    const int64_t n = st->n_in;
    double g = 0.0;
    for (int l = 0; l < L; l++) {
        double p = st->pos[l * n + j] / st->tokens[l];
        if (o->prob_agg == MW_PROB_MAX)
            g = p > g ? p : g;
        else
            g += p;
    }
    if (o->prob_agg != MW_PROB_MAX) g /= L;
    return pow(g, o->gamma);
}

enum mw_status mw_mwanda_factor(const mw_lang_stats *st, const mw_mwanda_opts *o, double *c,
                                mw_err *err) {
    if (!o) return mw_fail(err, MW_ERR_ARG, "M-Wanda: no options");
    if (!isfinite(o->lambda) || o->lambda < 0)
        return mw_fail(err, MW_ERR_ARG, "M-Wanda: lambda %g must be finite and >= 0", o->lambda);
    if (!isfinite(o->gamma) || o->gamma < 0)
        return mw_fail(err, MW_ERR_ARG, "M-Wanda: gamma %g must be finite and >= 0", o->gamma);
    if (o->prob_agg != MW_PROB_MEAN && o->prob_agg != MW_PROB_MAX)
        return mw_fail(err, MW_ERR_ARG, "M-Wanda: unknown probability aggregate %d",
                       (int)o->prob_agg);
    enum mw_status rc = check_shape(st, err);
    if (rc == MW_OK) rc = check_sum2(st, err);
    if (rc == MW_OK) rc = check_tokens(st, err);
    if (rc == MW_OK && o->gamma != 0) rc = check_pos(st, err);
    if (rc != MW_OK) return rc;
    /* every switch off: Wanda's factor itself, see prune.h */
    if (!o->balance && o->lambda == 0 && o->gamma == 0) return mw_wanda_factor(st, c, err);

    double t_all = 0.0;
    for (int l = 0; l < st->n_lang; l++)
        t_all += st->tokens[l];
    for (int64_t j = 0; j < st->n_in; j++)
        c[j] = base_factor(st, o, t_all, j) * prob_factor(st, o, j);
    return check_output(c, st->n_in, err);
}
