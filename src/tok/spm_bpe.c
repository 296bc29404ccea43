/* SentencePiece-style BPE as llama.cpp runs it for tokenizer.ggml.model "llama": spaces
 * become U+2581, the text starts as one symbol per character, and the adjacent pair whose
 * concatenation is the token with the highest score is merged (ties: the leftmost pair)
 * until no pair makes a token. A final symbol that is not a token (a character outside the
 * vocabulary) is written as its bytes' <0xXX> tokens. */
#include "core/err.h"
#include "tok/heap.h"
#include "tok/tok.h"

#include <stdlib.h>
#include <string.h>

typedef struct sym {
    int32_t prev, next;
    size_t off, n; /* n == 0: merged into its left neighbour */
} sym;

typedef struct bigram {
    int32_t left, right;
    float score;
    size_t size;
} bigram;

/* the highest score first, then the leftmost pair */
static inline bool bigram_first(const bigram *a, const bigram *b) {
    return a->score > b->score || (a->score == b->score && a->left < b->left);
}

TOK_HEAP(bigram_heap, bigram, bigram_first)

typedef struct spm_run {
    const mw_tokenizer *t;
    const char *s; /* the escaped text */
    sym *syms;
    bigram_heap heap;
} spm_run;

static bool try_bigram(spm_run *r, int32_t left, int32_t right) {
    if (left < 0 || right < 0) return true;
    const sym *l = &r->syms[left], *rt = &r->syms[right];
    /* the two symbols are adjacent in the text, so their concatenation is in place */
    int32_t id = tok_map_get(&r->t->vocab, r->s + l->off, l->n + rt->n);
    if (id < 0) return true;
    bigram b = {left, right, r->t->v.score ? r->t->v.score[id] : 0.0f, l->n + rt->n};
    return bigram_heap_push(&r->heap, b);
}

static bool merge_all(spm_run *r, size_t n_syms) {
    for (size_t i = 1; i < n_syms; i++)
        if (!try_bigram(r, (int32_t)i - 1, (int32_t)i)) return false;
    bigram b;
    while (bigram_heap_pop(&r->heap, &b)) {
        sym *l = &r->syms[b.left], *rt = &r->syms[b.right];
        /* stale: one side was merged away or grew since the pair was queued */
        if (l->n == 0 || rt->n == 0 || l->n + rt->n != b.size) continue;
        l->n += rt->n;
        rt->n = 0;
        l->next = rt->next;
        if (rt->next >= 0) r->syms[rt->next].prev = b.left;
        if (!try_bigram(r, l->prev, b.left) || !try_bigram(r, b.left, l->next)) return false;
    }
    return true;
}

static enum mw_status emit(const spm_run *r, mw_tokens *out, mw_err *err) {
    for (int32_t i = 0; i >= 0; i = r->syms[i].next) {
        const sym *y = &r->syms[i];
        int32_t id = tok_map_get(&r->t->vocab, r->s + y->off, y->n);
        if (id >= 0) {
            if (!tok_push(out, id)) return mw_fail(err, MW_ERR_NOMEM, "out of memory");
            continue;
        }
        for (size_t k = 0; k < y->n; k++) {
            unsigned char byte = (unsigned char)r->s[y->off + k];
            id = r->t->byte_tok[byte];
            if (id < 0)
                return mw_fail(err, MW_ERR_UNSUPPORTED,
                               "the vocabulary has no token for byte 0x%02X", byte);
            if (!tok_push(out, id)) return mw_fail(err, MW_ERR_NOMEM, "out of memory");
        }
    }
    return MW_OK;
}

/* The text with spaces as U+2581, after one more when prefix. */
static bool escape(const char *s, size_t n, bool prefix, tok_str *b) {
    static const char meta[] = "\xe2\x96\x81";
    if (prefix && !tok_str_put(b, meta, 3)) return false;
    size_t from = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] != ' ') continue;
        if (!tok_str_put(b, s + from, i - from) || !tok_str_put(b, meta, 3)) return false;
        from = i + 1;
    }
    return tok_str_put(b, s + from, n - from);
}

enum mw_status tok_spm_encode(const mw_tokenizer *t, const char *s, size_t n, bool prefix,
                              mw_tokens *out, mw_err *err) {
    tok_str b = {0};
    spm_run r = {.t = t};
    enum mw_status st = MW_OK;
    if (!escape(s, n, prefix, &b)) {
        st = mw_fail(err, MW_ERR_NOMEM, "out of memory");
        goto done;
    }
    if (b.n == 0) goto done;
    if (b.n > INT32_MAX) {
        st = mw_fail(err, MW_ERR_ARG, "a text of over 2 GiB between special tokens is too long");
        goto done;
    }
    r.s = b.s;
    r.syms = malloc(b.n * sizeof *r.syms);
    if (!r.syms) {
        st = mw_fail(err, MW_ERR_NOMEM, "out of memory");
        goto done;
    }
    size_t n_syms = 0;
    for (size_t off = 0; off < b.n; n_syms++) {
        size_t len = tok_utf8_len((unsigned char)b.s[off]);
        if (len > b.n - off) len = b.n - off;
        r.syms[n_syms] = (sym){(int32_t)n_syms - 1, -1, off, len};
        off += len;
        if (off < b.n) r.syms[n_syms].next = (int32_t)n_syms + 1;
    }
    if (!merge_all(&r, n_syms))
        st = mw_fail(err, MW_ERR_NOMEM, "out of memory");
    else
        st = emit(&r, out, err);
done:
    bigram_heap_free(&r.heap);
    free(r.syms);
    tok_str_free(&b);
    return st;
}
