/* Multiple-choice items to token sequences, split between context and
 * choice as lm-evaluation-harness's _encode_pair splits them. */
#include "eval/tasks.h"

#include "core/err.h"

#include <stdlib.h>
#include <string.h>

void mw_task_seqs_free(mw_task_seqs *s) {
    free(s->first);
    free(s->seq);
    free(s->pool);
    memset(s, 0, sizeof *s);
}

/* Python's str.isspace(), which str.rstrip() uses. */
static bool py_space(uint32_t c) {
    return (c >= 0x09 && c <= 0x0d) || (c >= 0x1c && c <= 0x20) || c == 0x85 || c == 0xa0 ||
           c == 0x1680 || (c >= 0x2000 && c <= 0x200a) || c == 0x2028 || c == 0x2029 ||
           c == 0x202f || c == 0x205f || c == 0x3000;
}

/* Bytes of trailing whitespace of valid UTF-8 text. */
static size_t trailing_space(const char *text, size_t n) {
    const unsigned char *s = (const unsigned char *)text;
    size_t end = n;
    while (end > 0) {
        size_t b = end - 1;
        while (b > 0 && (s[b] & 0xc0) == 0x80)
            b--;
        uint32_t c = s[b];
        int extra = c >= 0xf0 ? 3 : c >= 0xe0 ? 2 : c >= 0xc0 ? 1 : 0;
        c &= extra ? 0x3fu >> extra : 0x7fu;
        for (int k = 1; k <= extra; k++)
            c = (c << 6) | (s[b + k] & 0x3f);
        if (!py_space(c)) break;
        end = b;
    }
    return n - end;
}

/* Appends ids to the pool; returns the offset of the first one, or -1. */
static int64_t pool_push(mw_task_seqs *s, int64_t *cap, const int32_t *ids, size_t n) {
    int64_t at = s->first[s->n_items]; /* used as the pool's fill while encoding */
    if (at + (int64_t)n > *cap) {
        int64_t c = *cap ? *cap : 1 << 16;
        while (c < at + (int64_t)n)
            c *= 2;
        int32_t *p = realloc(s->pool, (size_t)c * sizeof *p);
        if (!p) return -1;
        s->pool = p;
        *cap = c;
    }
    memcpy(s->pool + at, ids, n * sizeof *ids);
    s->first[s->n_items] += (int64_t)n;
    return at;
}

/* The token that starts every sequence (BOS), or that stands in for an
 * empty context; -1 for none. */
static int32_t prefix_token(const mw_tokenizer *tok, size_t n_ctx) {
    if (mw_tokenizer_adds_bos(tok)) return mw_tokenizer_bos(tok);
    if (n_ctx > 0) return -1;
    return mw_tokenizer_bos(tok) >= 0 ? mw_tokenizer_bos(tok) : mw_tokenizer_eos(tok);
}

struct enc {
    const mw_tokenizer *tok;
    mw_task_seqs *s;
    int64_t pool_cap;
    int64_t *offset; /* [n_seq] pool offset of each sequence */
    mw_tokens ctx, whole;
    char *buf;
    size_t buf_cap;
};

static enum mw_status encode_choice(struct enc *e, const mw_task_item *it, int32_t c, int32_t pre,
                                    mw_task_seq *q, int64_t *offset, mw_err *err) {
    size_t n = it->context_len + it->choice_len[c];
    if (n + 1 > e->buf_cap) {
        char *p = realloc(e->buf, n + 1);
        if (!p) return mw_fail(err, MW_ERR_NOMEM, "out of memory");
        e->buf = p;
        e->buf_cap = n + 1;
    }
    memcpy(e->buf, it->context, it->context_len);
    memcpy(e->buf + it->context_len, it->choices[c], it->choice_len[c]);
    e->whole.n = 0;
    enum mw_status st = mw_tokenize(e->tok, e->buf, n, 0, &e->whole, err);
    if (st) return mw_fail_context(err, st, "%s:%lld: choice %d", it->file, (long long)it->line, c);
    if (e->whole.n <= e->ctx.n)
        return mw_fail(err, MW_ERR_ARG, "%s:%lld: choice %d adds no token to the context", it->file,
                       (long long)it->line, c);
    int64_t lead = pre >= 0 ? 1 : 0;
    if ((int64_t)e->whole.n + lead > INT32_MAX)
        return mw_fail(err, MW_ERR_ARG, "%s:%lld: too many tokens", it->file, (long long)it->line);
    int32_t p = pre;
    *offset = e->s->first[e->s->n_items];
    if ((lead && pool_push(e->s, &e->pool_cap, &p, 1) < 0) ||
        pool_push(e->s, &e->pool_cap, e->whole.ids, e->whole.n) < 0)
        return mw_fail(err, MW_ERR_NOMEM, "out of memory for token ids");
    q->n = (int32_t)(e->whole.n + (size_t)lead);
    q->n_ctx = (int32_t)(e->ctx.n + (size_t)lead);
    q->n_cont = q->n - q->n_ctx;
    /* the model sees the last max_len tokens before the final one */
    int64_t over = (int64_t)q->n - 1 - e->s->max_len;
    q->start = over > 0 ? (int32_t)over : 0;
    e->s->truncated += over > 0;
    if (q->n_cont > q->n - 1 - q->start)
        return mw_fail(err, MW_ERR_ARG,
                       "%s:%lld: choice %d has %d tokens, more than the window of %lld", it->file,
                       (long long)it->line, c, q->n_cont, (long long)e->s->max_len);
    return MW_OK;
}

static enum mw_status encode_item(struct enc *e, const mw_task_item *it, int64_t k, mw_err *err) {
    size_t cut = it->context_len - trailing_space(it->context, it->context_len);
    e->ctx.n = 0;
    enum mw_status st = mw_tokenize(e->tok, it->context, cut, 0, &e->ctx, err);
    if (st) return mw_fail_context(err, st, "%s:%lld: context", it->file, (long long)it->line);
    int32_t pre = prefix_token(e->tok, e->ctx.n);
    if (!mw_tokenizer_adds_bos(e->tok) && e->ctx.n == 0 && pre < 0)
        return mw_fail(err, MW_ERR_ARG,
                       "%s:%lld: the context is empty and the vocabulary has no BOS or EOS to "
                       "stand for it",
                       it->file, (long long)it->line);
    for (int32_t c = 0; c < it->n_choices; c++) {
        int64_t j = k + c;
        if ((st = encode_choice(e, it, c, pre, &e->s->seq[j], &e->offset[j], err))) return st;
    }
    return MW_OK;
}

enum mw_status mw_tasks_encode(const mw_tokenizer *tok, const mw_task_set *set, int64_t max_len,
                               mw_task_seqs *out, mw_err *err) {
    memset(out, 0, sizeof *out);
    if (max_len < 2 || max_len > INT32_MAX)
        return mw_fail(err, MW_ERR_ARG, "the window must hold 2 to %d tokens", INT32_MAX);
    int64_t n_seq = 0;
    for (int64_t i = 0; i < set->n; i++)
        n_seq += set->items[i].n_choices;
    out->n_items = set->n;
    out->max_len = max_len;
    out->first = calloc((size_t)set->n + 1, sizeof *out->first);
    out->seq = calloc((size_t)(n_seq ? n_seq : 1), sizeof *out->seq);
    struct enc e = {.tok = tok, .s = out};
    e.offset = malloc((size_t)(n_seq ? n_seq : 1) * sizeof *e.offset);
    enum mw_status st = MW_OK;
    if (!out->first || !out->seq || !e.offset)
        st = mw_fail(err, MW_ERR_NOMEM, "out of memory for %lld sequences", (long long)n_seq);
    /* first[n_items] counts the pool's fill until the items are done */
    for (int64_t i = 0, k = 0; i < set->n && !st; k += set->items[i++].n_choices)
        st = encode_item(&e, &set->items[i], k, err);
    if (!st) {
        for (int64_t j = 0; j < n_seq; j++)
            out->seq[j].ids = out->pool + e.offset[j];
        for (int64_t i = 0, k = 0; i <= set->n; i++) {
            out->first[i] = k;
            if (i < set->n) k += set->items[i].n_choices;
        }
    }
    mw_tokens_free(&e.ctx);
    mw_tokens_free(&e.whole);
    free(e.buf);
    free(e.offset);
    if (st) mw_task_seqs_free(out);
    return st;
}
