/* mw_tokenize and mw_detokenize: the pipeline around the encoders. Added tokens are found
 * in the raw text first; each stretch of text between them is then
 *  - GGUF SentencePiece: merged by score, with a space in front when the model adds one
 *    (at the start, and after every added token, as llama.cpp does);
 *  - GGUF byte-level BPE: cut by llama.cpp's regexes, mapped to GPT-2's characters, merged
 *    by rank word by word;
 *  - tokenizer.json: normalized, split again on added tokens that match normalized text,
 *    pre-tokenized and merged by rank word by word.
 * Every buffer lives in the call, so calls on one tokenizer can run in parallel. */
#include "core/err.h"
#include "tok/tok.h"

#include <stdlib.h>
#include <string.h>

typedef struct enc_run {
    const mw_tokenizer *t;
    bool parse_special;
    tok_str norm, words_buf;
    tok_spans words, frags2;
    mw_tokens *out;
} enc_run;

static enum mw_status words(enc_run *r, const char *s, size_t n, bool at_start, mw_err *err) {
    enum mw_status st = tok_pretok_run(r->t->pre, s, n, at_start, &r->words_buf, &r->words, err);
    for (size_t i = 0; !st && i < r->words.n; i++)
        st = tok_bpe_word(r->t, r->words_buf.s + r->words.v[i].off, r->words.v[i].len, r->out, err);
    return st;
}

/* tokenizer.json: normalizer, then added tokens matched on normalized text, then words. */
static enum mw_status encode_hf(enc_run *r, const char *s, size_t n, bool at_start, mw_err *err) {
    const mw_tokenizer *t = r->t;
    if (t->norm) {
        enum mw_status st = tok_norm_apply(t->norm, s, n, &r->norm, err);
        if (st) return st;
        s = r->norm.s;
        n = r->norm.n;
    }
    if (t->trie_norm.n_nodes <= 1) return words(r, s, n, at_start, err);
    enum mw_status st = tok_split_added(t, &t->trie_norm, s, n, r->parse_special, &r->frags2, err);
    for (size_t i = 0; !st && i < r->frags2.n; i++) {
        tok_span f = r->frags2.v[i];
        if (f.len == TOK_TOKEN_LEN)
            st = tok_push(r->out, (int32_t)f.off) ? MW_OK
                                                  : mw_fail(err, MW_ERR_NOMEM, "out of memory");
        else
            st = words(r, s + f.off, f.len, at_start && f.off == 0, err);
    }
    return st;
}

static enum mw_status encode_text(enc_run *r, const char *s, size_t n, size_t off, bool after_added,
                                  mw_err *err) {
    const mw_tokenizer *t = r->t;
    if (t->hf) return encode_hf(r, s, n, off == 0, err);
    if (t->spm) return tok_spm_encode(t, s, n, t->add_space_prefix && after_added, r->out, err);
    return words(r, s, n, off == 0, err);
}

static enum mw_status push_all(mw_tokens *out, const int32_t *ids, int n, mw_err *err) {
    for (int i = 0; i < n; i++)
        if (!tok_push(out, ids[i])) return mw_fail(err, MW_ERR_NOMEM, "out of memory");
    return MW_OK;
}

static enum mw_status encode(enc_run *r, const char *text, size_t len, unsigned flags,
                             tok_spans *frags, mw_err *err) {
    const mw_tokenizer *t = r->t;
    enum mw_status st = MW_OK;
    if (flags & MW_TOK_ADD_SPECIAL) st = push_all(r->out, t->prefix, t->n_prefix, err);
    if (!st) st = tok_split_added(t, &t->trie, text, len, r->parse_special, frags, err);
    bool after_added = true;
    for (size_t i = 0; !st && i < frags->n; i++) {
        tok_span f = frags->v[i];
        if (f.len == TOK_TOKEN_LEN) {
            st = tok_push(r->out, (int32_t)f.off) ? MW_OK
                                                  : mw_fail(err, MW_ERR_NOMEM, "out of memory");
            after_added = true;
        } else {
            st = encode_text(r, text + f.off, f.len, f.off, after_added, err);
            after_added = false;
        }
    }
    if (!st && (flags & MW_TOK_ADD_SPECIAL)) st = push_all(r->out, t->suffix, t->n_suffix, err);
    return st;
}

enum mw_status mw_tokenize(const mw_tokenizer *t, const char *text, size_t len, unsigned flags,
                           mw_tokens *out, mw_err *err) {
    size_t bad = tok_utf8_check(text, len);
    if (bad != SIZE_MAX)
        return mw_fail(err, MW_ERR_ARG, "the text is not valid UTF-8 (at byte %zu)", bad);
    size_t n0 = out->n;
    enc_run r = {.t = t, .parse_special = (flags & MW_TOK_SPECIAL) != 0, .out = out};
    tok_spans frags = {0};
    enum mw_status st = encode(&r, text, len, flags, &frags, err);
    tok_spans_free(&frags);
    tok_spans_free(&r.frags2);
    tok_spans_free(&r.words);
    tok_str_free(&r.words_buf);
    tok_str_free(&r.norm);
    if (st) out->n = n0;
    return st;
}

enum mw_status mw_detokenize(const mw_tokenizer *t, const int32_t *ids, size_t n, unsigned flags,
                             char **text, size_t *len, mw_err *err) {
    tok_str out = {0};
    *text = NULL;
    *len = 0;
    enum mw_status st = tok_decode(t, ids, n, flags, &out, err);
    if (st) {
        tok_str_free(&out);
        return st;
    }
    *text = out.s;
    *len = out.n;
    return MW_OK;
}
