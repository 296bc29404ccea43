/* Log-likelihood of every choice: sequences of similar length are batched
 * into windows, run through the blocks layer by layer, and only the
 * positions that predict a choice's tokens go through the output head. */
#include "eval/tasks.h"

#include "core/err.h"
#include "model/block.h"
#include "model/head.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Tokens run through the blocks together (activations of a group stay well
 * under a gigabyte for the models we run on this machine). */
#define GROUP_TOKENS 8192
/* Scored positions sent to the output head at once. */
#define HEAD_ROWS 512

/* A sequence and the length of the window the model sees. */
struct ord {
    int64_t seq;
    int64_t len;
};

static int cmp_ord(const void *a, const void *b) {
    const struct ord *x = a, *y = b;
    if (x->len != y->len) return x->len > y->len ? -1 : 1; /* longest first */
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

struct progress {
    mw_progress_fn fn;
    void *user;
    int64_t done, total;
};

static void tick(struct progress *p, const char *what) {
    p->done++;
    if (p->fn) p->fn(p->user, what, p->done, p->total);
}

/* A group of windows of T tokens: token ids, what each position predicts
 * (-1: nothing) and which sequence it belongs to. */
struct group {
    int64_t n_win, T;
    int32_t *tokens, *targets;
    int64_t *owner;
    float *x;
};

static void fill_group(const mw_task_seqs *s, const struct ord *o, struct group *g) {
    for (int64_t w = 0; w < g->n_win; w++) {
        const mw_task_seq *q = &s->seq[o[w].seq];
        int32_t *tok = g->tokens + w * g->T, *tgt = g->targets + w * g->T;
        int64_t len = o[w].len, first_scored = q->n - q->n_cont;
        memcpy(tok, q->ids + q->start, (size_t)len * sizeof *tok);
        for (int64_t j = 0; j < g->T; j++) {
            if (j >= len) tok[j] = tok[0]; /* padding: after every real token, never scored */
            int64_t next = q->start + j + 1;
            tgt[j] = j < len && next >= first_scored ? q->ids[next] : -1;
            g->owner[w * g->T + j] = o[w].seq;
        }
    }
}

static enum mw_status run_blocks(const mw_model *m, struct group *g, struct progress *p,
                                 mw_err *err) {
    const mw_hparams *hp = mw_model_hparams(m);
    mw_block_scratch sc;
    enum mw_status st = mw_block_scratch_init(&sc, hp, g->n_win, g->T, err);
    for (int64_t b = 0; b < hp->n_layer && !st; b++) {
        mw_block blk;
        if ((st = mw_block_load(m, b, &blk, err))) break;
        mw_block_forward(m, &blk, g->x, g->n_win, g->T, &sc, NULL);
        mw_block_free(&blk);
        char what[32];
        snprintf(what, sizeof what, "block %lld", (long long)b);
        tick(p, what);
    }
    mw_block_scratch_free(&sc);
    return st;
}

/* Moves the hidden states of scored positions to the front of x. */
static int64_t gather_scored(struct group *g, int64_t E) {
    int64_t k = 0;
    for (int64_t i = 0; i < g->n_win * g->T; i++) {
        if (g->targets[i] < 0) continue;
        if (k != i) memmove(g->x + k * E, g->x + i * E, (size_t)E * sizeof(float));
        g->targets[k] = g->targets[i];
        g->owner[k++] = g->owner[i];
    }
    return k;
}

static enum mw_status score_group(const mw_model *m, struct group *g, struct progress *p,
                                  double *ll, mw_err *err) {
    int64_t E = mw_model_hparams(m)->n_embd, n = g->n_win * g->T;
    double nll[HEAD_ROWS];
    enum mw_status s = mw_embed(m, g->tokens, n, g->x, err);
    if (!s) s = run_blocks(m, g, p, err);
    int64_t k = s ? 0 : gather_scored(g, E);
    for (int64_t i = 0; i < k && !s; i += HEAD_ROWS) {
        int64_t c = k - i < HEAD_ROWS ? k - i : HEAD_ROWS;
        if ((s = mw_head_nll(m, g->x + i * E, c, g->targets + i, nll, err))) break;
        for (int64_t j = 0; j < c; j++)
            ll[g->owner[i + j]] -= nll[j];
    }
    if (!s) tick(p, "output head");
    return s;
}

/* Windows per group when the longest is T tokens. */
static int64_t per_group(int64_t T) {
    return GROUP_TOKENS / T > 0 ? GROUP_TOKENS / T : 1;
}

/* Sequences in the group that starts at o[i] (sorted longest first): as
 * many as fit, but none shorter than 3/4 of the first, so that padding
 * stays under a third of the work (a group costs little more than loading
 * the blocks once). */
static int64_t group_size(const struct ord *o, int64_t i, int64_t n_seq) {
    int64_t T = o[i].len, max = per_group(T), k = 1;
    while (k < max && i + k < n_seq && 4 * o[i + k].len >= 3 * T)
        k++;
    return k;
}

enum mw_status mw_tasks_loglik(const mw_model *m, const mw_task_seqs *s, mw_progress_fn progress,
                               void *user, double *ll, mw_err *err) {
    int64_t n_seq = s->first[s->n_items], E = mw_model_hparams(m)->n_embd;
    struct ord *o = malloc((size_t)(n_seq ? n_seq : 1) * sizeof *o);
    if (!o) return mw_fail(err, MW_ERR_NOMEM, "out of memory");
    int64_t max_T = 0;
    for (int64_t i = 0; i < n_seq; i++) {
        o[i] = (struct ord){i, s->seq[i].n - 1 - s->seq[i].start};
        ll[i] = 0;
        max_T = o[i].len > max_T ? o[i].len : max_T;
    }
    qsort(o, (size_t)n_seq, sizeof *o, cmp_ord);
    int64_t n_groups = 0;
    for (int64_t i = 0; i < n_seq; i += group_size(o, i, n_seq))
        n_groups++;
    struct progress p = {progress, user, 0, n_groups * (mw_model_hparams(m)->n_layer + 1)};
    /* the first group is the largest: its buffers serve every group */
    int64_t cap = max_T * per_group(max_T);
    cap = cap > GROUP_TOKENS ? cap : GROUP_TOKENS;
    struct group g = {0};
    g.tokens = malloc((size_t)cap * sizeof *g.tokens);
    g.targets = malloc((size_t)cap * sizeof *g.targets);
    g.owner = malloc((size_t)cap * sizeof *g.owner);
    g.x = malloc((size_t)cap * (size_t)E * sizeof *g.x);
    enum mw_status st = MW_OK;
    if (!g.tokens || !g.targets || !g.owner || !g.x)
        st = mw_fail(err, MW_ERR_NOMEM, "out of memory for activations of %lld tokens",
                     (long long)cap);
    for (int64_t i = 0; i < n_seq && !st;) {
        g.T = o[i].len;
        g.n_win = group_size(o, i, n_seq);
        fill_group(s, o + i, &g);
        st = score_group(m, &g, &p, ll, err);
        i += g.n_win;
    }
    free(g.tokens);
    free(g.targets);
    free(g.owner);
    free(g.x);
    free(o);
    return st;
}
