/* The pruning procedures of DESIGN.md §1 over a whole model, one block in f32
 * at a time: the pruned block's tensors are written as soon as the block is
 * done, so the output never needs the whole model in memory. */
#include "prune/driver.h"

#include "core/err.h"
#include "model/model_writer.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const METHOD_NAMES[] = {"magnitude", "wanda", "owl", "mwanda"};

const char *mw_method_name(enum mw_method m) {
    return METHOD_NAMES[m];
}

bool mw_method_parse(const char *text, enum mw_method *out) {
    for (int i = 0; i < 4; i++)
        if (strcmp(text, METHOD_NAMES[i]) == 0) {
            *out = (enum mw_method)i;
            return true;
        }
    return false;
}

void mw_prune_opts_init(mw_prune_opts *o, enum mw_method method) {
    memset(o, 0, sizeof *o);
    o->method = method;
    o->sparsity = 0.5;
    /* OWL as published: M = 5, Lambda = 0.08 */
    o->owl_m = 5.0;
    o->owl_lambda = 0.08;
    /* M-Wanda: provisional values until the ablation of issue 6
     * (docs/ablation.md) chooses them on validation text. The probability
     * term stays off: on Gemma 3 the channels with the largest activations
     * are often negative on every token (p = 0), so any gamma > 0 zeroes
     * their whole columns (German perplexity at 50%: 89.6 with gamma 0,
     * 11498 with gamma 0.5). */
    o->score.balance = true;
    o->score.lambda = 0.5;
    o->score.gamma = 0;
    o->score.prob_agg = MW_PROB_MEAN;
    o->cwl = method == MW_METHOD_MWANDA;
    o->cwl_dir = MW_CWL_ONE_MINUS_R;
    o->cwl_lambda = 0.04;
    o->type = MW_TYPE_F32;
}

void mw_prune_report_free(mw_prune_report *r) {
    free(r->block_target);
    free(r->block_achieved);
    free(r->block_score);
    free(r->tensors);
    memset(r, 0, sizeof *r);
}

/* ---- statistics as the scorer reads them -------------------------------- */

static mw_lang_stats lang_stats(const mw_stats *st, int64_t block, enum mw_input in) {
    const mw_input_stats *s = &st->in[block * MW_IN_COUNT + in];
    return (mw_lang_stats){st->n_lang, s->n_in, s->sum2, s->pos, s->tokens};
}

/* The score factor of each distinct input of a block ([MW_IN_COUNT] arrays
 * of n_in doubles), or NULLs for magnitude. */
static enum mw_status block_factors(const mw_prune_opts *o, const mw_stats *st, int64_t block,
                                    double *c[MW_IN_COUNT], mw_err *err) {
    for (int in = 0; in < MW_IN_COUNT; in++)
        c[in] = NULL;
    if (o->method == MW_METHOD_MAGNITUDE) return MW_OK;
    for (int in = 0; in < MW_IN_COUNT; in++) {
        mw_lang_stats ls = lang_stats(st, block, (enum mw_input)in);
        c[in] = malloc((size_t)(ls.n_in ? ls.n_in : 1) * sizeof(double));
        if (!c[in]) return mw_fail(err, MW_ERR_NOMEM, "out of memory");
        enum mw_status s = o->method == MW_METHOD_MWANDA
                               ? mw_mwanda_factor(&ls, &o->score, c[in], err)
                               : mw_wanda_factor(&ls, c[in], err);
        if (s)
            return mw_fail_context(err, s, "statistics of block %lld input '%s'", (long long)block,
                                   mw_input_name((enum mw_input)in));
    }
    return MW_OK;
}

static void free_factors(double *c[MW_IN_COUNT]) {
    for (int in = 0; in < MW_IN_COUNT; in++) {
        free(c[in]);
        c[in] = NULL;
    }
}

/* ---- layerwise sparsity ------------------------------------------------- */

/* OWL: each dense block's share of Wanda scores above M times their mean. */
static enum mw_status owl_shares(const mw_model *m, const mw_stats *st, const mw_prune_opts *o,
                                 double *share, mw_progress_fn progress, void *puser, mw_err *err) {
    int64_t n_layer = mw_model_hparams(m)->n_layer;
    mw_prune_opts wanda = *o;
    wanda.method = MW_METHOD_WANDA;
    for (int64_t b = 0; b < n_layer; b++) {
        mw_block blk;
        double *c[MW_IN_COUNT] = {0};
        enum mw_status s = mw_block_load(m, b, &blk, err);
        if (s) return s;
        s = block_factors(&wanda, st, b, c, err);
        mw_owl owl;
        mw_owl_init(&owl);
        for (int pass = 0; pass < 2 && !s; pass++) {
            for (int l = 0; l < MW_LIN_COUNT && !s; l++) {
                const double *f = c[mw_linear_input((enum mw_linear)l)];
                s = pass == 0 ? mw_owl_add_sum(&owl, blk.w[l], blk.rows[l], blk.cols[l], f, err)
                              : mw_owl_add_above(&owl, blk.w[l], blk.rows[l], blk.cols[l], f, err);
            }
            if (!s && pass == 0) s = mw_owl_set_threshold(&owl, o->owl_m, err);
        }
        if (!s) s = mw_owl_share(&owl, &share[b], err);
        free_factors(c);
        mw_block_free(&blk);
        if (s) return mw_fail_context(err, s, "OWL outliers of block %lld", (long long)b);
        if (progress) progress(puser, "OWL outlier shares", b + 1, n_layer);
    }
    return MW_OK;
}

/* CWL: correlation of the languages' RMS activations over a block's inputs. */
static enum mw_status cwl_correlations(const mw_stats *st, int64_t n_layer, double *r,
                                       mw_err *err) {
    for (int64_t b = 0; b < n_layer; b++) {
        mw_lang_stats in[MW_IN_COUNT];
        for (int i = 0; i < MW_IN_COUNT; i++)
            in[i] = lang_stats(st, b, (enum mw_input)i);
        enum mw_status s = mw_cwl_correlation(in, MW_IN_COUNT, &r[b], err);
        if (s)
            return mw_fail_context(err, s, "CWL needs two or more languages; block %lld",
                                   (long long)b);
    }
    return MW_OK;
}

/* Block targets: OWL or CWL, else the same target everywhere. */
static enum mw_status block_targets(const mw_model *m, const mw_stats *dense,
                                    const mw_prune_opts *o, mw_prune_report *rep,
                                    mw_progress_fn progress, void *puser, mw_err *err) {
    int64_t n = rep->n_layer;
    for (int64_t b = 0; b < n; b++) {
        rep->block_target[b] = o->sparsity;
        rep->block_score[b] = NAN;
    }
    bool owl = o->method == MW_METHOD_OWL, cwl = o->method == MW_METHOD_MWANDA && o->cwl;
    if (!owl && !cwl) return MW_OK;
    enum mw_status s = owl ? owl_shares(m, dense, o, rep->block_score, progress, puser, err)
                           : cwl_correlations(dense, n, rep->block_score, err);
    if (s) return s;
    double *imp = malloc((size_t)n * sizeof *imp);
    if (!imp) return mw_fail(err, MW_ERR_NOMEM, "out of memory");
    if (owl)
        memcpy(imp, rep->block_score, (size_t)n * sizeof *imp);
    else
        mw_cwl_importance(o->cwl_dir, rep->block_score, (int)n, imp);
    s = mw_allocate_sparsity(imp, (int)n, o->sparsity, owl ? o->owl_lambda : o->cwl_lambda,
                             rep->block_target, &rep->n_clamped, err);
    free(imp);
    return s;
}

/* ---- pruning one block and writing it ----------------------------------- */

struct run {
    const mw_model *m;
    const mw_prune_opts *o;
    mw_model_writer *w;
    mw_prune_report *rep;
    int64_t n_done; /* tensors reported */
};

static enum mw_status prune_block(struct run *r, int64_t b, mw_block *blk, const mw_stats *st,
                                  mw_err *err) {
    const mw_prune_opts *o = r->o;
    double *c[MW_IN_COUNT] = {0};
    enum mw_status s = block_factors(o, st, b, c, err);
    double s_b = r->rep->block_target[b];
    int64_t zeros_blk = 0, total_blk = 0;
    for (int l = 0; l < MW_LIN_COUNT && !s; l++) {
        float *w = blk->w[l];
        int64_t rows = blk->rows[l], cols = blk->cols[l], zeros = 0;
        const double *f = c[mw_linear_input((enum mw_linear)l)];
        if (o->pattern.m > 0)
            s = mw_prune_nm(w, rows, cols, f, o->pattern, &zeros, err);
        else if (o->method == MW_METHOD_MAGNITUDE)
            s = mw_prune_global(w, rows, cols, s_b, &zeros, err);
        else
            s = mw_prune_rows(w, rows, cols, f, s_b, &zeros, err);
        mw_prune_tensor *t = &r->rep->tensors[r->n_done++];
        snprintf(t->name, sizeof t->name, "blk.%lld.%s.weight", (long long)b,
                 mw_linear_name((enum mw_linear)l));
        if (s) s = mw_fail_context(err, s, "tensor '%s'", t->name);
        t->zeros = zeros;
        t->total = rows * cols;
        zeros_blk += zeros;
        total_blk += rows * cols;
    }
    free_factors(c);
    if (s) return s;
    r->rep->block_achieved[b] = total_blk ? (double)zeros_blk / (double)total_blk : 0;
    return MW_OK;
}

/* Writes every tensor up to and including block b's, the pruned linear
 * weights from blk (b < 0: the rest of the model, after the last block). */
static enum mw_status write_through(struct run *r, int64_t b, const mw_block *blk, mw_err *err) {
    while (r->w) {
        int64_t nb = mw_model_writer_next_block(r->w);
        if (nb == INT64_MAX || (b >= 0 && nb > b)) return MW_OK;
        int64_t i = mw_model_writer_next(r->w);
        const float *values = NULL;
        if (blk && nb == b && i >= 0) {
            const char *name = mw_model_tensor_at(r->m, i)->name;
            char want[96];
            for (int l = 0; l < MW_LIN_COUNT; l++) {
                snprintf(want, sizeof want, "blk.%lld.%s.weight", (long long)b,
                         mw_linear_name((enum mw_linear)l));
                if (strcmp(name, want) == 0) values = blk->w[l];
            }
        }
        enum mw_status s = mw_model_writer_put(r->w, values, err);
        if (s) return s;
    }
    return MW_OK; /* no output (out == NULL) */
}

static enum mw_status hook(void *user, int64_t b, mw_block *blk, const mw_stats *st, mw_err *err) {
    struct run *r = user;
    enum mw_status s = prune_block(r, b, blk, st, err);
    return s ? s : write_through(r, b, blk, err);
}

/* One pass over the weights: magnitude, or saved statistics. */
static enum mw_status one_pass(struct run *r, const mw_stats *st, mw_progress_fn progress,
                               void *puser, mw_err *err) {
    int64_t n_layer = r->rep->n_layer;
    for (int64_t b = 0; b < n_layer; b++) {
        mw_block blk;
        enum mw_status s = mw_block_load(r->m, b, &blk, err);
        if (!s) s = hook(r, b, &blk, st, err);
        mw_block_free(&blk);
        if (s) return s;
        if (progress) progress(puser, "pruning", b + 1, n_layer);
    }
    return MW_OK;
}

static enum mw_status report_init(mw_prune_report *rep, int64_t n_layer, double target,
                                  mw_err *err) {
    memset(rep, 0, sizeof *rep);
    rep->n_layer = n_layer;
    rep->target = target;
    size_t n = (size_t)(n_layer ? n_layer : 1);
    rep->block_target = calloc(n, sizeof(double));
    rep->block_achieved = calloc(n, sizeof(double));
    rep->block_score = calloc(n, sizeof(double));
    rep->tensors = calloc(n * MW_LIN_COUNT, sizeof *rep->tensors);
    if (!rep->block_target || !rep->block_achieved || !rep->block_score || !rep->tensors) {
        mw_prune_report_free(rep);
        return mw_fail(err, MW_ERR_NOMEM, "out of memory");
    }
    return MW_OK;
}

static enum mw_status check_opts(const mw_model *m, const mw_calib_set *set, const mw_stats *stats,
                                 const mw_prune_opts *o, mw_err *err) {
    bool nm = o->pattern.m > 0;
    if (!nm && !(o->sparsity >= 0 && o->sparsity < 1))
        return mw_fail(err, MW_ERR_ARG, "sparsity must be at least 0 and below 1");
    if (nm && (o->method == MW_METHOD_OWL || (o->method == MW_METHOD_MWANDA && o->cwl)))
        return mw_fail(err, MW_ERR_ARG,
                       "%s sets a sparsity per block, which an N:M pattern does not allow%s",
                       o->method == MW_METHOD_OWL ? "OWL" : "CWL",
                       o->method == MW_METHOD_OWL ? "" : " (turn CWL off)");
    if (o->method != MW_METHOD_MAGNITUDE && !set && !stats)
        return mw_fail(err, MW_ERR_ARG, "%s needs calibration text or statistics",
                       mw_method_name(o->method));
    if (stats) {
        enum mw_status s = mw_stats_check_model(stats, m, err);
        if (s) return s;
    }
    return MW_OK;
}

enum mw_status mw_prune_model(const mw_model *m, const mw_calib_set *set, const mw_stats *stats,
                              const mw_prune_opts *o, const char *out, mw_prune_report *rep,
                              mw_progress_fn progress, void *puser, mw_err *err) {
    enum mw_status s = check_opts(m, set, stats, o, err);
    if (s) return s;
    int64_t n_layer = mw_model_hparams(m)->n_layer;
    double target = o->pattern.m > 0 ? mw_pattern_sparsity(o->pattern) : o->sparsity;
    if ((s = report_init(rep, n_layer, target, err))) return s;

    /* statistics of the dense model where block targets need them */
    mw_stats dense = {0};
    const mw_stats *first = stats;
    bool layerwise = o->method == MW_METHOD_OWL || (o->method == MW_METHOD_MWANDA && o->cwl);
    if (layerwise && !stats) {
        s = mw_calib_run(m, set, NULL, NULL, &dense, progress, puser, err);
        first = &dense;
    }
    if (!s) s = block_targets(m, first, o, rep, progress, puser, err);
    if (!s && o->pattern.m > 0)
        for (int64_t b = 0; b < n_layer; b++)
            rep->block_target[b] = target;

    struct run r = {m, o, NULL, rep, 0};
    if (!s && out)
        s = mw_model_writer_create(m, out, o->type, o->max_shard_bytes, MW_ORDER_BLOCKS, &r.w, err);
    if (!s) {
        if (o->method == MW_METHOD_MAGNITUDE || stats) {
            s = one_pass(&r, stats, progress, puser, err);
        } else {
            mw_stats seq = {0};
            s = mw_calib_run(m, set, hook, &r, &seq, progress, puser, err);
            mw_stats_free(&seq);
        }
    }
    mw_stats_free(&dense);
    if (!s) s = write_through(&r, -1, NULL, err);
    if (s) {
        mw_model_writer_free(r.w);
        mw_prune_report_free(rep);
        return s;
    }
    int64_t zeros = 0, total = 0;
    for (int64_t k = 0; k < r.n_done; k++) {
        zeros += rep->tensors[k].zeros;
        total += rep->tensors[k].total;
    }
    rep->n_tensors = r.n_done;
    rep->achieved = total ? (double)zeros / (double)total : 0;
    s = r.w ? mw_model_writer_finish(r.w, err) : MW_OK;
    if (s) mw_prune_report_free(rep);
    return s;
}
