/* BPE by merge rank, one pre-tokenized word at a time: the word starts as one symbol per
 * character and the adjacent pair with the lowest merge rank is merged (ties: the leftmost)
 * until no pair is a merge. Both references work this way; they differ on characters
 * outside the vocabulary:
 *  - Hugging Face (tokenizer.json): byte_fallback writes them as <0xXX> tokens, else they
 *    become the unknown token (consecutive ones fused into one with fuse_unk), else they
 *    are dropped;
 *  - llama.cpp: such a symbol stays text and is finally written byte by byte, each byte
 *    that is itself a token (the rest is dropped).
 * With ignore_merges a word that is a token is that token whatever the merges say. */
#include "core/err.h"
#include "tok/heap.h"
#include "tok/tok.h"

#include <stdlib.h>

typedef struct bsym {
    int32_t prev, next;
    int32_t id;    /* -1: not a token (llama.cpp) */
    size_t off, n; /* n == 0: merged away */
} bsym;

typedef struct bmerge {
    int32_t rank, left, right;
    int32_t lid, rid, id;
} bmerge;

/* the lowest rank first, then the leftmost pair */
static inline bool merge_first(const bmerge *a, const bmerge *b) {
    return a->rank < b->rank || (a->rank == b->rank && a->left < b->left);
}

TOK_HEAP(merge_heap, bmerge, merge_first)

typedef struct bpe_run {
    const mw_tokenizer *t;
    const char *s;
    bsym *syms;
    size_t n_syms;
    merge_heap heap;
} bpe_run;

static void add_sym(bpe_run *r, int32_t id, size_t off, size_t n) {
    int32_t i = (int32_t)r->n_syms++;
    r->syms[i] = (bsym){i - 1, -1, id, off, n};
    if (i > 0) r->syms[i - 1].next = i;
}

/* Hugging Face: a character outside the vocabulary. */
static void add_unknown_char(bpe_run *r, size_t off, size_t n) {
    const mw_tokenizer *t = r->t;
    if (t->byte_fallback) {
        bool all = true;
        for (size_t k = 0; k < n; k++)
            all = all && t->byte_tok[(unsigned char)r->s[off + k]] >= 0;
        if (all) {
            for (size_t k = 0; k < n; k++)
                add_sym(r, t->byte_tok[(unsigned char)r->s[off + k]], off + k, 1);
            return;
        }
    }
    if (t->unk < 0) return;
    bsym *last = r->n_syms ? &r->syms[r->n_syms - 1] : NULL;
    if (t->fuse_unk && last && last->id == t->unk)
        last->n = off + n - last->off;
    else
        add_sym(r, t->unk, off, n);
}

static void split_chars(bpe_run *r, size_t n) {
    for (size_t off = 0; off < n;) {
        size_t len = tok_utf8_len((unsigned char)r->s[off]);
        if (len > n - off) len = n - off;
        int32_t id = tok_map_get(&r->t->vocab, r->s + off, len);
        if (id >= 0 || !r->t->hf)
            add_sym(r, id, off, len);
        else
            add_unknown_char(r, off, len);
        off += len;
    }
}

static bool queue_pair(bpe_run *r, int32_t left, int32_t right) {
    if (left < 0 || right < 0) return true;
    bmerge m = {0, left, right, r->syms[left].id, r->syms[right].id, 0};
    if (m.lid < 0 || m.rid < 0 || !pair_map_get(&r->t->merges, m.lid, m.rid, &m.rank, &m.id))
        return true;
    return merge_heap_push(&r->heap, m);
}

static bool merge_all(bpe_run *r) {
    for (size_t i = 1; i < r->n_syms; i++)
        if (!queue_pair(r, (int32_t)i - 1, (int32_t)i)) return false;
    bmerge m;
    while (merge_heap_pop(&r->heap, &m)) {
        bsym *l = &r->syms[m.left], *rt = &r->syms[m.right];
        /* stale: a side was merged away, or is no longer the token the pair was made of */
        if (l->n == 0 || rt->n == 0 || l->next != m.right || l->id != m.lid || rt->id != m.rid)
            continue;
        l->id = m.id;
        l->n += rt->n;
        rt->n = 0;
        l->next = rt->next;
        if (rt->next >= 0) r->syms[rt->next].prev = m.left;
        if (!queue_pair(r, l->prev, m.left) || !queue_pair(r, m.left, l->next)) return false;
    }
    return true;
}

static bool emit(const bpe_run *r, mw_tokens *out) {
    for (int32_t i = r->n_syms ? 0 : -1; i >= 0; i = r->syms[i].next) {
        const bsym *y = &r->syms[i];
        if (y->id >= 0) {
            if (!tok_push(out, y->id)) return false;
            continue;
        }
        for (size_t k = 0; k < y->n; k++) {
            int32_t id = tok_map_get(&r->t->vocab, r->s + y->off + k, 1);
            if (id >= 0 && !tok_push(out, id)) return false;
        }
    }
    return true;
}

enum mw_status tok_bpe_word(const mw_tokenizer *t, const char *s, size_t n, mw_tokens *out,
                            mw_err *err) {
    if (n == 0) return MW_OK;
    if (t->ignore_merges) {
        int32_t id = tok_map_get(&t->vocab, s, n);
        if (id >= 0) return tok_push(out, id) ? MW_OK : mw_fail(err, MW_ERR_NOMEM, "out of memory");
    }
    if (n > INT32_MAX) return mw_fail(err, MW_ERR_ARG, "a word of over 2 GiB is too long");
    bpe_run r = {.t = t, .s = s};
    enum mw_status st = MW_OK;
    r.syms = malloc(n * sizeof *r.syms); /* at most one symbol per byte */
    if (!r.syms || (split_chars(&r, n), !merge_all(&r)) || !emit(&r, out))
        st = mw_fail(err, MW_ERR_NOMEM, "out of memory");
    merge_heap_free(&r.heap);
    free(r.syms);
    return st;
}
