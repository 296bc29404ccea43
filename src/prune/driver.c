/* The pruning procedures of DESIGN.md §1 over a whole model, one block in f32
 * at a time: the pruned block's tensors are written as soon as the block is
 * done, so the output never needs the whole model in memory. */
#include "prune/driver.h"

#include "calib/mpi.h"
#include "calib/resume.h"
#include "core/err.h"
#include "core/mapfile.h"
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
    /* M-Wanda's defaults, chosen by the ablation on validation text
     * (docs/ablation.md, Gemma 3 270M, 23 languages): only CWL, in the 1-r
     * direction with Lambda 0.02, gained over Wanda at both 50% and 60%, a
     * small gain that held for held-out languages at 50% on a second draw
     * and on the test split; balancing cost held-out languages (+2.4% at
     * 50%, +5.6% at 60%), the spread (lambda) gained nothing beyond noise,
     * and the probability term collapses the model (Gemma 3's largest
     * channels are negative on every token: p = 0 zeroes their columns). */
    o->score.balance = false;
    o->score.lambda = 0;
    o->score.gamma = 0;
    o->score.prob_agg = MW_PROB_MEAN;
    o->cwl = method == MW_METHOD_MWANDA;
    o->cwl_dir = MW_CWL_ONE_MINUS_R;
    o->cwl_lambda = 0.02;
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
        mw_calib_release_block(m, b);
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

/* Passes of a resumable prune, as its state numbers them. */
enum { PASS_DENSE = 0, PASS_PRUNE = 1, PASS_WRITE = 2 };

struct run {
    const mw_model *m;
    const mw_prune_opts *o;
    mw_model_writer *w;
    mw_prune_report *rep;
    int64_t n_done;  /* tensors reported */
    mw_state *state; /* resumable: masks saved, the output written at the end */
    const mw_run_ctl *ctl;
};

static enum mw_status stopped(const struct run *r, mw_err *err) {
    if (r->ctl->cancel && r->ctl->cancel(r->ctl->cuser))
        return mw_fail(err, MW_ERR_INTERRUPTED, "interrupted");
    return MW_OK;
}

/* Reports the zeros of block b's linear weights as they are now. */
static void report_block(struct run *r, int64_t b, const mw_block *blk) {
    int64_t zeros_blk = 0, total_blk = 0;
    for (int l = 0; l < MW_LIN_COUNT; l++) {
        int64_t n = blk->rows[l] * blk->cols[l], zeros = 0;
        for (int64_t i = 0; i < n; i++)
            zeros += blk->w[l][i] == 0;
        mw_prune_tensor *t = &r->rep->tensors[r->n_done++];
        snprintf(t->name, sizeof t->name, "blk.%lld.%s.weight", (long long)b,
                 mw_linear_name((enum mw_linear)l));
        t->zeros = zeros;
        t->total = n;
        zeros_blk += zeros;
        total_blk += n;
    }
    r->rep->block_achieved[b] = total_blk ? (double)zeros_blk / (double)total_blk : 0;
}

static enum mw_status prune_block(struct run *r, int64_t b, mw_block *blk, const mw_stats *st,
                                  mw_err *err) {
    const mw_prune_opts *o = r->o;
    double *c[MW_IN_COUNT] = {0};
    enum mw_status s = block_factors(o, st, b, c, err);
    double s_b = r->rep->block_target[b];
    for (int l = 0; l < MW_LIN_COUNT && !s; l++) {
        float *w = blk->w[l];
        int64_t rows = blk->rows[l], cols = blk->cols[l];
        const double *f = c[mw_linear_input((enum mw_linear)l)];
        if (o->pattern.m > 0)
            s = mw_prune_nm(w, rows, cols, f, o->pattern, NULL, err);
        else if (o->method == MW_METHOD_MAGNITUDE)
            s = mw_prune_global(w, rows, cols, s_b, NULL, err);
        else
            s = mw_prune_rows(w, rows, cols, f, s_b, NULL, err);
        if (s)
            s = mw_fail_context(err, s, "tensor 'blk.%lld.%s.weight'", (long long)b,
                                mw_linear_name((enum mw_linear)l));
    }
    free_factors(c);
    if (!s) report_block(r, b, blk);
    return s;
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
        /* the source bytes it read stay mapped, not resident */
        if (i >= 0) {
            const mw_tensor *t = mw_model_tensor_at(r->m, i);
            mw_map_release(t->data, (size_t)t->n_bytes);
        }
    }
    return MW_OK; /* no output (out == NULL) */
}

/* A pruned block goes to the output, or with a state to its mask file. */
static enum mw_status hook(void *user, int64_t b, mw_block *blk, const mw_stats *st, mw_err *err) {
    struct run *r = user;
    enum mw_status s = prune_block(r, b, blk, st, err);
    if (s) return s;
    return r->state ? mw_state_save_mask(r->state, blk, err) : write_through(r, b, blk, err);
}

/* One pass over the weights: magnitude, or saved statistics. */
static enum mw_status one_pass(struct run *r, const mw_stats *st, mw_err *err) {
    int64_t n_layer = r->rep->n_layer, start = 0;
    if (r->state && mw_state_pass(r->state) >= PASS_PRUNE)
        start = mw_state_pass(r->state) > PASS_PRUNE ? n_layer : mw_state_blocks_done(r->state);
    for (int64_t b = start; b < n_layer; b++) {
        mw_block blk;
        enum mw_status s = stopped(r, err);
        if (!s) s = mw_block_load(r->m, b, &blk, err);
        if (s) return s;
        mw_calib_release_block(r->m, b);
        s = hook(r, b, &blk, st, err);
        mw_block_free(&blk);
        if (!s && r->state) s = mw_state_commit(r->state, PASS_PRUNE, b + 1, 0, err);
        if (s) return s;
        if (r->state && r->ctl->saved) r->ctl->saved(r->ctl->cuser, PASS_PRUNE, b);
        if (r->ctl->progress) r->ctl->progress(r->ctl->puser, "pruning", b + 1, n_layer);
    }
    return MW_OK;
}

/* Resumable runs write the output last: each block reloaded and its mask
 * applied gives the pruned block again, which is written and reported. */
static enum mw_status write_from_masks(struct run *r, mw_err *err) {
    int64_t n_layer = r->rep->n_layer;
    r->n_done = 0;
    for (int64_t b = 0; b < n_layer; b++) {
        mw_block blk;
        enum mw_status s = stopped(r, err);
        if (!s) s = mw_block_load(r->m, b, &blk, err);
        if (s) return s;
        mw_calib_release_block(r->m, b);
        s = mw_state_apply_mask(r->state, &blk, err);
        if (!s) report_block(r, b, &blk);
        if (!s) s = write_through(r, b, &blk, err);
        mw_block_free(&blk);
        if (s) return s;
        if (r->ctl->progress) r->ctl->progress(r->ctl->puser, "writing", b + 1, n_layer);
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

/* ---- resumable state ------------------------------------------------------ */

static void set_str(json_t *obj, const char *key, const char *value) {
    json_object_set_new(obj, key, json_string(value));
}

static void set_num(json_t *obj, const char *key, double v) {
    char buf[32];
    snprintf(buf, sizeof buf, "%.17g", v);
    set_str(obj, key, buf);
}

/* Everything that decides the output's bytes, as strings for the manifest:
 * a resume with any other value is refused. */
static json_t *state_options(const mw_prune_opts *o, const char *out, bool from_stats) {
    json_t *j = json_object();
    char pattern[32];
    mw_pattern_format(o->pattern, pattern, sizeof pattern);
    set_str(j, "method", mw_method_name(o->method));
    set_num(j, "sparsity", o->sparsity);
    set_str(j, "pattern", pattern);
    set_str(j, "balance", o->score.balance ? "on" : "off");
    set_num(j, "lambda", o->score.lambda);
    set_num(j, "gamma", o->score.gamma);
    set_str(j, "prob", o->score.prob_agg == MW_PROB_MAX ? "max" : "mean");
    set_str(j, "cwl", o->cwl ? "on" : "off");
    set_str(j, "cwl-dir", o->cwl_dir == MW_CWL_R ? "r" : "1-r");
    set_num(j, "cwl-lambda", o->cwl_lambda);
    set_num(j, "owl-m", o->owl_m);
    set_num(j, "owl-lambda", o->owl_lambda);
    set_str(j, "type", mw_type_name(o->type));
    set_num(j, "shard-size", (double)o->max_shard_bytes);
    set_str(j, "output", out);
    set_str(j, "calibration", from_stats ? "statistics file" : "text");
    return j;
}

static enum mw_status open_state(const mw_model *m, const mw_calib_set *set, const mw_stats *stats,
                                 const mw_prune_opts *o, const char *out, const char *dir,
                                 mw_state **state, mw_err *err) {
    uint64_t h = mw_hash_model(MW_HASH_INIT, m);
    if (set) h = mw_hash_calib_set(h, set);
    if (stats) h = mw_hash_stats(h, stats);
    json_t *opts = state_options(o, out, stats != NULL);
    if (!opts) return mw_fail(err, MW_ERR_NOMEM, "out of memory");
    enum mw_status s = mw_state_open(dir, "prune", opts, h, state, err);
    json_decref(opts);
    return s;
}

/* ---- the whole model ------------------------------------------------------ */

/* Prunes every block: written as it goes, or with a state, masks saved. */
static enum mw_status prune_blocks(struct run *r, const mw_calib_set *set, const mw_stats *stats,
                                   mw_err *err) {
    if (r->o->method == MW_METHOD_MAGNITUDE || stats) return one_pass(r, stats, err);
    mw_stats seq = {0};
    enum mw_status s =
        mw_calib_run_ctl(r->m, set, hook, r, &seq, r->ctl, r->state, PASS_PRUNE, err);
    mw_stats_free(&seq);
    return s;
}

static enum mw_status prune_and_write(struct run *r, const mw_calib_set *set, const mw_stats *stats,
                                      const char *out, mw_err *err) {
    const mw_prune_opts *o = r->o;
    enum mw_status s = MW_OK;
    /* with a state, the output is written once every block is pruned, so
     * that no partial output lies beside the state meanwhile */
    if (r->state && mw_state_pass(r->state) < PASS_WRITE) {
        s = prune_blocks(r, set, stats, err);
        if (!s) s = mw_state_commit(r->state, PASS_WRITE, 0, 0, err);
    }
    /* no output (out == NULL): ranks of an MPI run other than the writer */
    if (!s && out)
        s = mw_model_writer_create(r->m, out, o->type, o->max_shard_bytes, MW_ORDER_BLOCKS, &r->w,
                                   err);
    /* with a state, ranks other than the writer are done: they write nothing */
    if (!s)
        s = r->state ? (out ? write_from_masks(r, err) : MW_OK) : prune_blocks(r, set, stats, err);
    if (!s) s = stopped(r, err);
    if (!s) s = write_through(r, -1, NULL, err);
    if (s) {
        mw_model_writer_free(r->w);
        r->w = NULL;
        return s;
    }
    int64_t zeros = 0, total = 0;
    for (int64_t k = 0; k < r->n_done; k++) {
        zeros += r->rep->tensors[k].zeros;
        total += r->rep->tensors[k].total;
    }
    r->rep->n_tensors = r->n_done;
    r->rep->achieved = total ? (double)zeros / (double)total : 0;
    s = r->w ? mw_model_writer_finish(r->w, err) : MW_OK;
    r->w = NULL;
    return s;
}

enum mw_status mw_prune_model_ctl(const mw_model *m, const mw_calib_set *set, const mw_stats *stats,
                                  const mw_prune_opts *o, const char *out, mw_prune_report *rep,
                                  const mw_run_ctl *ctl, mw_err *err) {
    static const mw_run_ctl none = {0};
    if (!ctl) ctl = &none;
    enum mw_status s = check_opts(m, set, stats, o, err);
    if (s) return s;
    int64_t n_layer = mw_model_hparams(m)->n_layer;
    double target = o->pattern.m > 0 ? mw_pattern_sparsity(o->pattern) : o->sparsity;
    if ((s = report_init(rep, n_layer, target, err))) return s;
    struct run r = {m, o, NULL, rep, 0, NULL, ctl};
    if (ctl->state_dir) s = open_state(m, set, stats, o, out, ctl->state_dir, &r.state, err);

    /* statistics of the dense model where block targets need them */
    mw_stats dense = {0};
    const mw_stats *first = stats;
    bool layerwise = o->method == MW_METHOD_OWL || (o->method == MW_METHOD_MWANDA && o->cwl);
    if (!s && layerwise && !stats) {
        s = mw_calib_run_ctl(m, set, NULL, NULL, &dense, ctl, r.state, PASS_DENSE, err);
        first = &dense;
    }
    if (!s) s = block_targets(m, first, o, rep, ctl->progress, ctl->puser, err);
    if (!s && o->pattern.m > 0)
        for (int64_t b = 0; b < n_layer; b++)
            rep->block_target[b] = target;
    mw_stats_free(&dense);
    /* the other ranks of an MPI run name the output only in the state */
    if (!s) s = prune_and_write(&r, set, stats, mw_mpi_writer() ? out : NULL, err);
    if (!s && r.state) mw_state_remove(r.state);
    mw_state_close(r.state);
    if (s) mw_prune_report_free(rep);
    return s;
}

enum mw_status mw_prune_model(const mw_model *m, const mw_calib_set *set, const mw_stats *stats,
                              const mw_prune_opts *o, const char *out, mw_prune_report *rep,
                              mw_progress_fn progress, void *puser, mw_err *err) {
    mw_run_ctl ctl = {.progress = progress, .puser = puser};
    return mw_prune_model_ctl(m, set, stats, o, out, rep, &ctl, err);
}
