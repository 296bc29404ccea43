#include "eval/windows.h"

#include "core/err.h"
#include "eval/blocks.h"
#include "model/head.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Windows run through the blocks together; activations of a group stay well
 * under a gigabyte for the models we run on this machine. */
#define GROUP_TOKENS 8192
/* Scored positions sent to the output head at once. */
#define HEAD_ROWS 512

void mw_windows_free(mw_windows *w) {
    free(w->tokens);
    free(w->targets);
    memset(w, 0, sizeof *w);
}

static enum mw_status alloc_windows(mw_windows *w, int64_t n_win, int64_t T, mw_err *err) {
    w->n_win = n_win;
    w->T = T;
    w->tokens = malloc((size_t)(n_win * T) * sizeof(int32_t));
    w->targets = malloc((size_t)(n_win * T) * sizeof(int32_t));
    if (!w->tokens || !w->targets) {
        mw_windows_free(w);
        return mw_fail(err, MW_ERR_NOMEM, "out of memory for %lld windows", (long long)n_win);
    }
    for (int64_t i = 0; i < n_win * T; i++)
        w->targets[i] = -1;
    return MW_OK;
}

enum mw_status mw_windows_plain(const int32_t *tokens, int64_t n, int64_t ctx, int32_t bos,
                                mw_windows *w, mw_err *err) {
    memset(w, 0, sizeof *w);
    int64_t lead = bos >= 0 ? 1 : 0, per = ctx - lead;
    if (ctx < 2) return mw_fail(err, MW_ERR_ARG, "the window must hold at least 2 tokens");
    int64_t n_win = (n + per - 1) / per;
    enum mw_status s = alloc_windows(w, n_win, ctx, err);
    if (s) return s;
    for (int64_t k = 0; k < n_win; k++) {
        int32_t *tok = w->tokens + k * ctx, *tgt = w->targets + k * ctx;
        int64_t start = k * per, len = n - start < per ? n - start : per;
        if (lead) tok[0] = bos;
        memcpy(tok + lead, tokens + start, (size_t)len * sizeof(int32_t));
        for (int64_t j = lead + len; j < ctx; j++)
            tok[j] = tok[0]; /* padding, never scored */
        /* position j predicts the token at j + 1 */
        for (int64_t j = 0; j + 1 < lead + len; j++)
            tgt[j] = tok[j + 1];
    }
    return MW_OK;
}

enum mw_status mw_windows_llamacpp(const int32_t *tokens, int64_t n, int64_t ctx, int32_t bos,
                                   mw_windows *w, mw_err *err) {
    memset(w, 0, sizeof *w);
    if (ctx < 4) return mw_fail(err, MW_ERR_ARG, "the window must hold at least 4 tokens");
    int64_t n_win = n / ctx;
    if (n_win < 1)
        return mw_fail(err, MW_ERR_ARG, "%lld tokens are fewer than one window of %lld",
                       (long long)n, (long long)ctx);
    enum mw_status s = alloc_windows(w, n_win, ctx, err);
    if (s) return s;
    for (int64_t k = 0; k < n_win; k++) {
        int32_t *tok = w->tokens + k * ctx, *tgt = w->targets + k * ctx;
        memcpy(tok, tokens + k * ctx, (size_t)ctx * sizeof(int32_t));
        if (bos >= 0) tok[0] = bos;
        for (int64_t j = ctx / 2; j < ctx - 1; j++)
            tgt[j] = tok[j + 1];
    }
    return MW_OK;
}

/* Moves the hidden states of scored positions to the front of x. */
static int64_t gather_scored(float *x, const int32_t *targets, int64_t n, int64_t E,
                             int32_t *tgt_out) {
    int64_t k = 0;
    for (int64_t i = 0; i < n; i++) {
        if (targets[i] < 0) continue;
        if (k != i) memmove(x + k * E, x + i * E, (size_t)E * sizeof(float));
        tgt_out[k++] = targets[i];
    }
    return k;
}

/* Writes the negative log-likelihood of each scored position of windows
 * [first, first + n_win) to nll, in order; *n_scored gets their count. */
static enum mw_status score_group(const mw_model *m, const mw_windows *w, int64_t first,
                                  int64_t n_win, mw_eval_progress *p, double *nll,
                                  int64_t *n_scored, mw_err *err) {
    int64_t E = mw_model_hparams(m)->n_embd, n = n_win * w->T;
    float *x = malloc((size_t)n * (size_t)E * sizeof(float));
    int32_t *tgt = malloc((size_t)n * sizeof(int32_t));
    enum mw_status s = MW_OK;
    if (!x || !tgt) s = mw_fail(err, MW_ERR_NOMEM, "out of memory for activations");
    if (!s) s = mw_embed(m, w->tokens + first * w->T, n, x, err);
    if (!s) s = mw_eval_blocks(m, x, n_win, w->T, NULL, p, err);
    int64_t k = s ? 0 : gather_scored(x, w->targets + first * w->T, n, E, tgt);
    for (int64_t i = 0; i < k && !s; i += HEAD_ROWS) {
        int64_t c = k - i < HEAD_ROWS ? k - i : HEAD_ROWS;
        s = mw_head_nll(m, x + i * E, c, tgt + i, nll + i, err);
    }
    if (!s) {
        *n_scored = k;
        mw_eval_tick(p, "output head");
    }
    free(x);
    free(tgt);
    return s;
}

int64_t mw_windows_n_scored(const mw_windows *w, int64_t first, int64_t n_win) {
    int64_t k = 0;
    for (int64_t i = first * w->T; i < (first + n_win) * w->T; i++)
        k += w->targets[i] >= 0;
    return k;
}

/* Windows per group: a group is the unit the parts are made of. */
static int64_t per_group(const mw_windows *w) {
    return GROUP_TOKENS / w->T > 0 ? GROUP_TOKENS / w->T : 1;
}

void mw_windows_part(const mw_windows *w, int part, int n_parts, int64_t *first, int64_t *n_win) {
    int64_t per = per_group(w), n_groups = (w->n_win + per - 1) / per;
    int64_t lo = n_groups * part / n_parts * per, hi = n_groups * (part + 1) / n_parts * per;
    *first = lo < w->n_win ? lo : w->n_win;
    *n_win = (hi < w->n_win ? hi : w->n_win) - *first;
}

enum mw_status mw_windows_nll_part(const mw_model *m, const mw_windows *w, int part, int n_parts,
                                   mw_progress_fn progress, void *user, double *nll,
                                   int64_t *n_scored, mw_err *err) {
    int64_t per = per_group(w), first, n_win;
    mw_windows_part(w, part, n_parts, &first, &n_win);
    int64_t n_groups = (n_win + per - 1) / per;
    mw_eval_progress p = {progress, user, 0, n_groups * (mw_model_hparams(m)->n_layer + 1)};
    *n_scored = 0;
    for (int64_t g = first; g < first + n_win; g += per) {
        int64_t k = 0, n = first + n_win - g < per ? first + n_win - g : per;
        enum mw_status s = score_group(m, w, g, n, &p, nll + *n_scored, &k, err);
        if (s) return s;
        *n_scored += k;
    }
    return MW_OK;
}

enum mw_status mw_windows_nll(const mw_model *m, const mw_windows *w, mw_progress_fn progress,
                              void *user, double *nll, int64_t *n_scored, mw_err *err) {
    double *each = malloc((size_t)(mw_windows_n_scored(w, 0, w->n_win) + 1) * sizeof *each);
    if (!each) return mw_fail(err, MW_ERR_NOMEM, "out of memory");
    enum mw_status s = mw_windows_nll_part(m, w, 0, 1, progress, user, each, n_scored, err);
    *nll = mw_sum_in_order(each, s ? 0 : *n_scored);
    free(each);
    return s;
}

double mw_sum_in_order(const double *v, int64_t n) {
    double sum = 0;
    for (int64_t i = 0; i < n; i++)
        sum += v[i];
    return sum;
}
