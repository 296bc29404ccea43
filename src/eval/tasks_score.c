/* Log-likelihood of every choice. The choices of an item share the tokens of
 * their context: they run as one packed window (the shared prefix once, then
 * each choice's own tokens, which see the prefix and themselves only), so the
 * context costs one forward pass, not one per choice. Windows of similar
 * length are batched, run through the blocks layer by layer, and only the
 * positions that predict a choice's tokens go through the output head. */
#include "eval/tasks.h"

#include "core/err.h"
#include "eval/blocks.h"
#include "model/head.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Tokens run through the blocks together (activations of a group stay well
 * under a gigabyte for the models we run on this machine). */
#define GROUP_TOKENS 8192
/* Scored positions sent to the output head at once. */
#define HEAD_ROWS 512

/* A packed window: choices first .. first + n - 1 of one item (sequence
 * numbers), its length, and the tokens of the prefix they share. */
struct ord {
    int64_t first, n;
    int64_t len;
    int64_t shared;
};

static int cmp_ord(const void *a, const void *b) {
    const struct ord *x = a, *y = b;
    if (x->len != y->len) return x->len > y->len ? -1 : 1; /* longest first */
    return x->first < y->first ? -1 : x->first > y->first;
}

/* Tokens of sequence q the model sees (all but the last). */
static const int32_t *seen(const mw_task_seq *q) {
    return q->ids + q->start;
}

static int64_t n_seen(const mw_task_seq *q) {
    return q->n - 1 - q->start;
}

/* The packed windows of an item, appended to o: the longest prefix the seen
 * tokens of all its choices share, once, then the rest of each choice; an
 * item whose choices would make a window longer than GROUP_TOKENS (many or
 * long choices) gets several, each at least one choice. Returns how many. */
static int64_t pack_item(const mw_task_seqs *s, int64_t item, struct ord *o) {
    int64_t first = s->first[item], k = s->first[item + 1] - first;
    const mw_task_seq *c = s->seq + first;
    int64_t shared = n_seen(c);
    for (int64_t i = 1; i < k; i++) {
        int64_t j = 0, n = n_seen(c + i) < shared ? n_seen(c + i) : shared;
        while (j < n && seen(c + i)[j] == seen(c)[j])
            j++;
        shared = j;
    }
    int64_t n_win = 0;
    for (int64_t i = 0; i < k; n_win++) {
        struct ord w = {first + i, 0, shared, shared};
        while (i < k && (w.n == 0 || w.len + n_seen(c + i) - shared <= GROUP_TOKENS)) {
            w.len += n_seen(c + i++) - shared;
            w.n++;
        }
        o[n_win] = w;
    }
    return n_win;
}

/* A group of packed windows of T tokens: token ids, RoPE positions and
 * sequence numbers (0: shared prefix, i + 1: choice i; padding gets its own),
 * and the scored positions: row of x, the token it predicts, the sequence it
 * counts for. */
struct group {
    int64_t n_win, T;
    int32_t *tokens, *pos, *seg;
    float *x;
    int64_t n_scored, cap_scored;
    int64_t *row, *owner;
    int32_t *target;
};

static bool add_scored(struct group *g, int64_t row, int32_t target, int64_t owner) {
    if (g->n_scored == g->cap_scored) {
        int64_t cap = g->cap_scored ? 2 * g->cap_scored : 4096;
        int64_t *r = realloc(g->row, (size_t)cap * sizeof *r);
        if (r) g->row = r;
        int64_t *o = realloc(g->owner, (size_t)cap * sizeof *o);
        if (o) g->owner = o;
        int32_t *t = realloc(g->target, (size_t)cap * sizeof *t);
        if (t) g->target = t;
        if (!r || !o || !t) return false;
        g->cap_scored = cap;
    }
    g->row[g->n_scored] = row;
    g->target[g->n_scored] = target;
    g->owner[g->n_scored++] = owner;
    return true;
}

static bool fill_window(const mw_task_seqs *s, const struct ord *o, struct group *g, int64_t w) {
    int64_t base = w * g->T, off = o->shared;
    int32_t *tok = g->tokens + base, *pos = g->pos + base, *seg = g->seg + base;
    const mw_task_seq *c = s->seq + o->first;
    int64_t k = o->n;
    for (int64_t j = 0; j < o->shared; j++) {
        tok[j] = seen(c)[j];
        pos[j] = (int32_t)j;
        seg[j] = 0;
    }
    for (int64_t i = 0; i < k; i++) {
        const mw_task_seq *q = c + i;
        int64_t n = n_seen(q), first_scored = q->n - q->n_cont;
        for (int64_t j = o->shared; j < n; j++) {
            tok[off + j - o->shared] = seen(q)[j];
            pos[off + j - o->shared] = (int32_t)j;
            seg[off + j - o->shared] = (int32_t)(i + 1);
        }
        for (int64_t j = 0; j < n; j++) {
            int64_t next = q->start + j + 1;
            if (next < first_scored) continue;
            int64_t row = j < o->shared ? j : off + j - o->shared;
            if (!add_scored(g, base + row, q->ids[next], o->first + i)) return false;
        }
        off += n - o->shared;
    }
    /* padding: after every real token, in a sequence of its own, never scored */
    for (int64_t j = o->len; j < g->T; j++) {
        tok[j] = tok[0];
        pos[j] = (int32_t)(j - o->len);
        seg[j] = (int32_t)(k + 1);
    }
    return true;
}

/* The output head over the scored positions, HEAD_ROWS at a time (a row of
 * the shared prefix can count for several choices, with different targets). */
static enum mw_status score_group(const mw_model *m, struct group *g, mw_eval_progress *p,
                                  float *hx, double *ll, mw_err *err) {
    int64_t E = mw_model_hparams(m)->n_embd, n = g->n_win * g->T;
    double nll[HEAD_ROWS];
    enum mw_status s = mw_embed(m, g->tokens, n, g->x, err);
    if (!s) s = mw_eval_blocks(m, g->x, g->n_win, g->T, &(mw_packing){g->pos, g->seg}, p, err);
    for (int64_t i = 0; i < g->n_scored && !s; i += HEAD_ROWS) {
        int64_t c = g->n_scored - i < HEAD_ROWS ? g->n_scored - i : HEAD_ROWS;
        for (int64_t j = 0; j < c; j++)
            memcpy(hx + j * E, g->x + g->row[i + j] * E, (size_t)E * sizeof(float));
        if ((s = mw_head_nll(m, hx, c, g->target + i, nll, err))) break;
        for (int64_t j = 0; j < c; j++)
            ll[g->owner[i + j]] -= nll[j];
    }
    if (!s) mw_eval_tick(p, "output head");
    return s;
}

/* Windows per group when the longest is T tokens. */
static int64_t per_group(int64_t T) {
    return GROUP_TOKENS / T > 0 ? GROUP_TOKENS / T : 1;
}

/* Windows in the group that starts at o[i] (sorted longest first): as many as
 * fit, but none shorter than 3/4 of the first, so that padding stays under a
 * third of the work (a group costs little more than loading the blocks
 * once). */
static int64_t group_size(const struct ord *o, int64_t i, int64_t n) {
    int64_t T = o[i].len, max = per_group(T), k = 1;
    while (k < max && i + k < n && 4 * o[i + k].len >= 3 * T)
        k++;
    return k;
}

enum mw_status mw_tasks_loglik_part(const mw_model *m, const mw_task_seqs *s, int part, int n_parts,
                                    mw_progress_fn progress, void *user, double *ll, mw_err *err) {
    int64_t n_items = s->n_items, n_seq = s->first[n_items], E = mw_model_hparams(m)->n_embd;
    /* a window holds one choice or more: at most n_seq windows */
    struct ord *o = malloc((size_t)(n_seq ? n_seq : 1) * sizeof *o);
    if (!o) return mw_fail(err, MW_ERR_NOMEM, "out of memory");
    for (int64_t i = 0; i < n_seq; i++)
        ll[i] = 0;
    int64_t n_win = 0, max_T = 1;
    for (int64_t i = 0; i < n_items; i++)
        n_win += pack_item(s, i, o + n_win);
    for (int64_t i = 0; i < n_win; i++)
        max_T = o[i].len > max_T ? o[i].len : max_T;
    qsort(o, (size_t)n_win, sizeof *o, cmp_ord);
    int64_t n_groups = 0;
    for (int64_t i = 0; i < n_win; i += group_size(o, i, n_win))
        n_groups++;
    /* this part's groups: the same groups, whatever the number of parts */
    int64_t g_lo = n_groups * part / n_parts, g_hi = n_groups * (part + 1) / n_parts;
    mw_eval_progress p = {progress, user, 0, (g_hi - g_lo) * (mw_model_hparams(m)->n_layer + 1)};
    /* the first group is the largest: its buffers serve every group */
    int64_t cap = max_T * per_group(max_T);
    cap = cap > GROUP_TOKENS ? cap : GROUP_TOKENS;
    struct group g = {0};
    g.tokens = malloc((size_t)cap * sizeof *g.tokens);
    g.pos = malloc((size_t)cap * sizeof *g.pos);
    g.seg = malloc((size_t)cap * sizeof *g.seg);
    g.x = malloc((size_t)cap * (size_t)E * sizeof *g.x);
    float *hx = malloc((size_t)HEAD_ROWS * (size_t)E * sizeof *hx);
    enum mw_status st = MW_OK;
    if (!g.tokens || !g.pos || !g.seg || !g.x || !hx)
        st = mw_fail(err, MW_ERR_NOMEM, "out of memory for activations of %lld tokens",
                     (long long)cap);
    for (int64_t i = 0, gi = 0; i < n_win && gi < g_hi && !st; gi++) {
        g.T = o[i].len;
        g.n_win = group_size(o, i, n_win);
        g.n_scored = 0;
        if (gi < g_lo) {
            i += g.n_win;
            continue;
        }
        for (int64_t w = 0; w < g.n_win && !st; w++)
            if (!fill_window(s, o + i + w, &g, w))
                st = mw_fail(err, MW_ERR_NOMEM, "out of memory for scored positions");
        if (!st) st = score_group(m, &g, &p, hx, ll, err);
        i += g.n_win;
    }
    free(g.tokens);
    free(g.pos);
    free(g.seg);
    free(g.x);
    free(g.row);
    free(g.owner);
    free(g.target);
    free(hx);
    free(o);
    return st;
}

enum mw_status mw_tasks_loglik(const mw_model *m, const mw_task_seqs *s, mw_progress_fn progress,
                               void *user, double *ll, mw_err *err) {
    return mw_tasks_loglik_part(m, s, 0, 1, progress, user, ll, err);
}
