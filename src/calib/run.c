/* The block-by-block calibration runner: every window's activations stay in
 * RAM and go through one block at a time, so that a hook can change a
 * block's weights between its statistics and its outputs (sequential
 * pruning). */
#include "calib/calib.h"

#include "calib/mpi.h"
#include "calib/share.h"
#include "core/err.h"
#include "model/head.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Windows run through a block together, as in src/eval/windows.c. */
#define GROUP_TOKENS 8192

/* What the observer needs to know about the rows it is shown. */
struct observer_ctx {
    mw_share *share;
    int64_t block, first; /* the block, and the group's first window (in the whole set) */
};

static void observe(void *user, int64_t block, enum mw_linear lin, const float *x, int64_t n_tokens,
                    int64_t n_in) {
    struct observer_ctx *c = user;
    /* layers that share an input are reported one by one; count it once */
    if (lin == MW_LIN_K || lin == MW_LIN_V || lin == MW_LIN_UP || block != c->block) return;
    /* window by window, in an order that does not depend on the processes */
    mw_share_add(c->share, block, mw_linear_input(lin), c->first, x, n_tokens, n_in);
}

/* The statistics to fill: new ones, or the caller's if they fit. */
static enum mw_status prepare_stats(const mw_model *m, const mw_calib_set *set, mw_stats *st,
                                    mw_err *err) {
    if (!st->in) {
        enum mw_status s =
            mw_stats_create_for(st, m, set->n_lang, (const char *const *)set->langs, err);
        if (s) return s;
        st->ctx = set->T;
    } else {
        enum mw_status s = mw_stats_check_model(st, m, err);
        if (s) return s;
        if (st->n_lang != set->n_lang)
            return mw_fail(err, MW_ERR_ARG, "statistics of %d languages for windows of %d",
                           st->n_lang, set->n_lang);
        for (int l = 0; l < st->n_lang; l++)
            if (strcmp(st->langs[l], set->langs[l]) != 0)
                return mw_fail(err, MW_ERR_ARG, "statistics of language %s for windows of %s",
                               st->langs[l], set->langs[l]);
        if (st->ctx && st->ctx != set->T)
            return mw_fail(err, MW_ERR_ARG, "statistics of %lld-token windows for windows of %lld",
                           (long long)st->ctx, (long long)set->T);
        st->ctx = set->T;
    }
    for (int64_t i = 0; i < set->n_win; i++)
        st->windows[set->lang[i]]++;
    return MW_OK;
}

struct run {
    const mw_model *m;
    const mw_calib_set *set; /* this process's windows (share.mine) */
    mw_share share;
    float *x;    /* [n_win][T][n_embd] activations: inputs of the current block */
    float *copy; /* [per_group][T][n_embd] with a hook: a group's inputs to observe */
    int64_t per_group, n_groups, E;
    mw_block_scratch scratch;
    mw_progress_fn progress;
    void *puser;
    int64_t done, total;
};

static void tick(struct run *r, int64_t block, const char *what) {
    r->done++;
    char msg[48];
    snprintf(msg, sizeof msg, "block %lld %s", (long long)block, what);
    if (r->progress) r->progress(r->puser, msg, r->done, r->total);
}

static int64_t group_size(const struct run *r, int64_t g) {
    int64_t left = r->set->n_win - g * r->per_group;
    return left < r->per_group ? left : r->per_group;
}

/* One pass over every group: observed (into the copy when keep_inputs), or
 * computing outputs in place. */
static void pass(struct run *r, const mw_block *b, mw_stats *st, bool observed, bool keep_inputs) {
    int64_t T = r->set->T;
    struct observer_ctx ctx = {&r->share, b->index, 0};
    mw_observer obs = {observe, &ctx};
    for (int64_t g = 0; g < r->n_groups; g++) {
        int64_t n = group_size(r, g);
        float *x = r->x + g * r->per_group * T * r->E;
        if (keep_inputs) {
            memcpy(r->copy, x, (size_t)(n * T * r->E) * sizeof(float));
            x = r->copy;
        }
        ctx.first = r->share.first + g * r->per_group;
        mw_block_forward(r->m, b, x, n, T, &r->scratch, observed ? &obs : NULL);
        tick(r, b->index, observed ? "statistics" : "outputs");
    }
}

static enum mw_status embed(struct run *r, mw_err *err) {
    int64_t T = r->set->T;
    for (int64_t g = 0; g < r->n_groups; g++) {
        int64_t first = g * r->per_group, n = group_size(r, g);
        enum mw_status s =
            mw_embed(r->m, r->set->tokens + first * T, n * T, r->x + first * T * r->E, err);
        if (s) return s;
    }
    return MW_OK;
}

/* Activations that overflowed make statistics nobody can use; say where. */
static enum mw_status check_finite(const mw_stats *st, int64_t block, mw_err *err) {
    for (int i = 0; i < MW_IN_COUNT; i++) {
        const mw_input_stats *s = &st->in[block * MW_IN_COUNT + i];
        double acc = 0;
        for (int64_t j = 0; j < st->n_lang * s->n_in; j++)
            acc += s->sum2[j] + s->sum[j];
        if (!isfinite(acc))
            return mw_fail(err, MW_ERR_ARG, "non-finite activations at the %s input of block %lld",
                           mw_input_name(i), (long long)block);
    }
    return MW_OK;
}

static enum mw_status run_blocks(struct run *r, mw_block_hook hook, void *user, mw_stats *st,
                                 mw_err *err) {
    int64_t n_layer = mw_model_hparams(r->m)->n_layer;
    enum mw_status s = MW_OK;
    for (int64_t bi = 0; bi < n_layer && !s; bi++) {
        mw_block b;
        s = mw_block_load(r->m, bi, &b, err);
        if (!s) pass(r, &b, st, true, hook != NULL);
        /* all processes' windows in the totals, or all processes stop */
        s = mw_share_end_block(&r->share, bi, s, err);
        if (!s) s = check_finite(st, bi, err);
        if (!s && hook) s = mw_mpi_agree(hook(user, bi, &b, st, err), bi, err);
        if (!s && hook && bi + 1 < n_layer) pass(r, &b, st, false, false);
        mw_block_free(&b);
    }
    return s;
}

enum mw_status mw_calib_run(const mw_model *m, const mw_calib_set *set, mw_block_hook hook,
                            void *user, mw_stats *st, mw_progress_fn progress, void *puser,
                            mw_err *err) {
    const mw_hparams *hp = mw_model_hparams(m);
    if (set->n_win < 1 || set->n_lang < 1)
        return mw_fail(err, MW_ERR_ARG, "no calibration windows");
    struct run r = {.m = m, .E = hp->n_embd, .progress = progress, .puser = puser};
    int64_t T = set->T;
    enum mw_status s = prepare_stats(m, set, st, err);
    if (s || (s = mw_share_init(&r.share, set, st, err))) return s;
    r.set = &r.share.mine; /* all windows without MPI */
    r.per_group = GROUP_TOKENS / T > 0 ? GROUP_TOKENS / T : 1;
    if (r.per_group > r.set->n_win) r.per_group = r.set->n_win > 0 ? r.set->n_win : 1;
    r.n_groups = (r.set->n_win + r.per_group - 1) / r.per_group;
    r.total = hp->n_layer * r.n_groups * (hook ? 2 : 1) - (hook ? r.n_groups : 0);
    uint64_t n_act = (uint64_t)r.set->n_win * (uint64_t)T * (uint64_t)r.E;
    r.x = n_act && n_act <= SIZE_MAX / sizeof(float) ? malloc(n_act * sizeof(float)) : NULL;
    if (hook) r.copy = malloc((size_t)(r.per_group * T * r.E) * sizeof(float));
    if ((!r.x && n_act) || (hook && !r.copy)) {
        s = mw_fail(err, MW_ERR_NOMEM, "out of memory for the activations of %lld windows",
                    (long long)r.set->n_win);
        goto done;
    }
    if ((s = mw_block_scratch_init(&r.scratch, hp, r.per_group, T, err))) goto done;
    if (!(s = embed(&r, err))) s = run_blocks(&r, hook, user, st, err);
    mw_block_scratch_free(&r.scratch);
done:
    free(r.x);
    free(r.copy);
    mw_share_free(&r.share);
    return s;
}
