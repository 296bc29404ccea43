/* Added and special tokens found in raw text before anything else runs, the text around
 * them tokenized on its own. The two references find them differently:
 *  - llama.cpp (tokenizer_st_partition) takes the tokens longest first; each claims every
 *    occurrence, left to right, in the text no longer token claimed before it;
 *  - Hugging Face (AddedVocabulary) scans left to right and takes, at the first position
 *    where a token starts, the longest one there, then honours the token's single_word,
 *    lstrip and rstrip.
 * Both match user-defined (non-special) tokens always and special ones only on request;
 * a special token skipped this way is still consumed by Hugging Face's scan (it then reads
 * as text), as tokenizers' encode_special_tokens does. */
#include "core/err.h"
#include "tok/tok.h"

#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

static bool active(const tok_added *a, bool parse_special) {
    return parse_special || !a->special;
}

/* Which added tokens occur anywhere in s: one trie walk from every position. */
static void find_present(const mw_tokenizer *t, const tok_trie *trie, const char *s, size_t n,
                         bool parse_special, uint8_t *present) {
    for (size_t p = 0; p < n; p++) {
        int32_t node = 0;
        for (size_t k = p; k < n && (node = tok_trie_next(trie, node, (unsigned char)s[k])) >= 0;
             k++) {
            int32_t i = trie->term[node];
            if (i >= 0 && active(&t->added[i], parse_special)) present[i] = 1;
        }
    }
}

/* C's isspace, which llama.cpp strips with. */
static bool ascii_space(char c) {
    return c == ' ' || (c >= '\t' && c <= '\r');
}

/* One token claims its occurrences in the raw fragments of in, giving out. With lstrip /
 * rstrip (set by llama.cpp for a few models) the spaces before / after an occurrence are
 * dropped. */
static bool claim(const mw_tokenizer *t, int32_t i, const char *s, const tok_spans *in,
                  tok_spans *out) {
    const tok_added *a = &t->added[i];
    const char *text = t->text[a->id];
    size_t m = t->tlen[a->id];
    out->n = 0;
    for (size_t f = 0; f < in->n; f++) {
        tok_span fr = in->v[f];
        if (fr.len == TOK_TOKEN_LEN) {
            if (!tok_spans_add(out, fr.off, fr.len)) return false;
            continue;
        }
        size_t cur = fr.off, end = fr.off + fr.len;
        for (const char *p; (p = tok_find(s + cur, end - cur, text, m));) {
            size_t at = (size_t)(p - s), left = at;
            while (a->lstrip && left > cur && ascii_space(s[left - 1]))
                left--;
            if ((left > cur && !tok_spans_add(out, cur, left - cur)) ||
                !tok_spans_add(out, (size_t)a->id, TOK_TOKEN_LEN))
                return false;
            cur = at + m;
            while (a->rstrip && cur < end && ascii_space(s[cur]))
                cur++;
        }
        if (cur < end && !tok_spans_add(out, cur, end - cur)) return false;
    }
    return true;
}

static enum mw_status split_longest_first(const mw_tokenizer *t, const tok_trie *trie,
                                          const char *s, size_t n, bool parse_special,
                                          tok_spans *frags, mw_err *err) {
    uint8_t *present = calloc((size_t)t->n_added + 1, 1);
    tok_spans other = {0};
    bool ok = present && tok_spans_add(frags, 0, n);
    if (ok) find_present(t, trie, s, n, parse_special, present);
    for (int32_t i = 0; ok && i < t->n_added; i++) {
        if (!present[i]) continue;
        ok = claim(t, i, s, frags, &other);
        tok_spans tmp = *frags;
        *frags = other;
        other = tmp;
    }
    free(present);
    tok_spans_free(&other);
    return ok ? MW_OK : mw_fail(err, MW_ERR_NOMEM, "out of memory");
}

/* ---- Hugging Face -------------------------------------------------------- */

/* A word character as the \\w of tokenizers' single_word check: letters, letter numbers,
 * marks, decimal digits, connector punctuation, the joiners. */
static bool is_word_char(const char *s, size_t at) {
    size_t len;
    uint32_t cp = tok_utf8_decode(s + at, &len);
    int cat = utf8proc_category((utf8proc_int32_t)cp);
    return (cat >= UTF8PROC_CATEGORY_LU && cat <= UTF8PROC_CATEGORY_ND) ||
           cat == UTF8PROC_CATEGORY_NL || cat == UTF8PROC_CATEGORY_PC || cp == 0x200c ||
           cp == 0x200d;
}

static size_t char_before(const char *s, size_t at) {
    do
        at--;
    while (at > 0 && ((unsigned char)s[at] & 0xc0) == 0x80);
    return at;
}

/* The longest token starting at p, active or not: its index, -1. */
static int32_t longest_at(const tok_trie *trie, const char *s, size_t n, size_t p, size_t *end) {
    int32_t node = 0, best = -1;
    for (size_t k = p; k < n && (node = tok_trie_next(trie, node, (unsigned char)s[k])) >= 0; k++)
        if (trie->term[node] >= 0) {
            best = trie->term[node];
            *end = k + 1;
        }
    return best;
}

/* Applies single_word / lstrip / rstrip to a match [*start, *stop); false: no match. */
static bool adjust(const tok_added *a, const char *s, size_t n, size_t from, size_t *start,
                   size_t *stop) {
    size_t len;
    if (a->single_word) {
        bool left_ok = *start == 0 || !is_word_char(s, char_before(s, *start));
        bool right_ok = *stop == n || !is_word_char(s, *stop);
        if (!left_ok || !right_ok) return false;
    }
    if (a->lstrip) {
        size_t k = *start;
        while (k > from && tok_is_space(tok_utf8_decode(s + char_before(s, k), &len)))
            k = char_before(s, k);
        *start = k;
    }
    if (a->rstrip)
        while (*stop < n && tok_is_space(tok_utf8_decode(s + *stop, &len)))
            *stop += len;
    return true;
}

static enum mw_status split_leftmost(const mw_tokenizer *t, const tok_trie *trie, const char *s,
                                     size_t n, bool parse_special, tok_spans *frags, mw_err *err) {
    size_t from = 0, p = 0;
    bool ok = true;
    while (ok && p < n) {
        size_t end = p, start = p;
        int32_t i = longest_at(trie, s, n, p, &end);
        if (i < 0) {
            p++;
            continue;
        }
        /* the scan goes on after the match, whatever rstrip takes */
        p = end;
        const tok_added *a = &t->added[i];
        if (!active(a, parse_special) || !adjust(a, s, n, from, &start, &end)) continue;
        ok = (start <= from || tok_spans_add(frags, from, start - from)) &&
             tok_spans_add(frags, (size_t)a->id, TOK_TOKEN_LEN);
        from = end;
    }
    ok = ok && (from >= n || tok_spans_add(frags, from, n - from));
    return ok ? MW_OK : mw_fail(err, MW_ERR_NOMEM, "out of memory");
}

enum mw_status tok_split_added(const mw_tokenizer *t, const tok_trie *trie, const char *s, size_t n,
                               bool parse_special, tok_spans *frags, mw_err *err) {
    frags->n = 0;
    if (n == 0) return MW_OK;
    if (trie->n_nodes <= 1)
        return tok_spans_add(frags, 0, n) ? MW_OK : mw_fail(err, MW_ERR_NOMEM, "out of memory");
    if (t->split_rule == SPLIT_LEFTMOST)
        return split_leftmost(t, trie, s, n, parse_special, frags, err);
    return split_longest_first(t, trie, s, n, parse_special, frags, err);
}
