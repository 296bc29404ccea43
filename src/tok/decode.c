/* Token ids back to text.
 *  - GGUF, as llama.cpp's token_to_piece: control and unknown tokens are written only on
 *    request, user-defined ones as they are, byte tokens as their byte, normal tokens with
 *    U+2581 as a space (SentencePiece) or through GPT-2's byte mapping (byte-level BPE).
 *    Where the encoder put a space before the text (add_space_prefix) that one space is
 *    taken off again, so that decoding gives back the text encoded. llama.cpp's optional
 *    clean-up of spaces before punctuation is not applied: it would lose text.
 *  - tokenizer.json, as Hugging Face's decode: the tokens' strings (special ones only on
 *    request) go through the decoder steps (ByteLevel, ByteFallback, Replace, Fuse, Strip,
 *    Metaspace), or are joined by spaces when there is no decoder. */
#include "core/err.h"
#include "tok/tok.h"

#include <stdlib.h>
#include <string.h>

enum dec_type { DEC_REPLACE, DEC_BYTE_FALLBACK, DEC_FUSE, DEC_STRIP, DEC_BYTE_LEVEL, DEC_META };

typedef struct dec_step {
    enum dec_type type;
    char from[16], to[16]; /* Replace (a string), Strip's / Metaspace's character */
    size_t start, stop;    /* Strip */
    bool prepend;          /* Metaspace: the first token's replacement is dropped */
} dec_step;

struct tok_decoder {
    dec_step *steps;
    int n, cap;
};

void tok_decoder_free(tok_decoder *d) {
    if (!d) return;
    free(d->steps);
    free(d);
}

static const char *str(const json_t *j, const char *key, const char *dflt) {
    const char *s = json_string_value(json_object_get(j, key));
    return s ? s : dflt;
}

static bool copy_small(char *dst, const char *src) {
    size_t n = strlen(src);
    if (n == 0 || n >= 16) return false;
    memcpy(dst, src, n + 1);
    return true;
}

static enum mw_status parse_step(const json_t *j, dec_step *s, mw_err *err) {
    const char *type = str(j, "type", "");
    static const char *const SIMPLE[] = {"ByteFallback", "Fuse", "ByteLevel"};
    static const enum dec_type SIMPLE_T[] = {DEC_BYTE_FALLBACK, DEC_FUSE, DEC_BYTE_LEVEL};
    for (int i = 0; i < 3; i++)
        if (strcmp(type, SIMPLE[i]) == 0) return s->type = SIMPLE_T[i], MW_OK;
    if (strcmp(type, "Replace") == 0) {
        s->type = DEC_REPLACE;
        const char *from = str(json_object_get(j, "pattern"), "String", "");
        if (!copy_small(s->from, from) || strlen(str(j, "content", "")) >= 16)
            return mw_fail(err, MW_ERR_UNSUPPORTED, "decoder Replace of '%.20s'", from);
        strcpy(s->to, str(j, "content", ""));
        return MW_OK;
    }
    if (strcmp(type, "Strip") == 0) {
        s->type = DEC_STRIP;
        json_int_t a = json_integer_value(json_object_get(j, "start"));
        json_int_t b = json_integer_value(json_object_get(j, "stop"));
        if (!copy_small(s->from, str(j, "content", "")) || a < 0 || b < 0)
            return mw_fail(err, MW_ERR_FORMAT, "decoder Strip needs a content character");
        s->start = (size_t)a, s->stop = (size_t)b;
        return MW_OK;
    }
    if (strcmp(type, "Metaspace") == 0) {
        s->type = DEC_META;
        const char *scheme = str(j, "prepend_scheme", NULL);
        const json_t *aps = json_object_get(j, "add_prefix_space");
        s->prepend = scheme ? strcmp(scheme, "never") != 0 : !json_is_false(aps);
        if (!copy_small(s->from, str(j, "replacement", "\xe2\x96\x81")))
            return mw_fail(err, MW_ERR_FORMAT, "decoder Metaspace needs a replacement");
        return MW_OK;
    }
    return mw_fail(err, MW_ERR_UNSUPPORTED, "decoder type '%.40s' is not supported", type);
}

static enum mw_status add_json(tok_decoder *d, const json_t *j, int depth, mw_err *err) {
    if (depth > 8) return mw_fail(err, MW_ERR_FORMAT, "decoder nests too deeply");
    if (strcmp(str(j, "type", ""), "Sequence") == 0) {
        const json_t *e;
        size_t i;
        json_array_foreach(json_object_get(j, "decoders"), i, e) {
            enum mw_status s = add_json(d, e, depth + 1, err);
            if (s) return s;
        }
        return MW_OK;
    }
    if (d->n == d->cap) {
        int cap = d->cap ? 2 * d->cap : 8;
        dec_step *s = realloc(d->steps, (size_t)cap * sizeof *s);
        if (!s) return mw_fail(err, MW_ERR_NOMEM, "out of memory");
        d->steps = s;
        d->cap = cap;
    }
    d->steps[d->n] = (dec_step){0};
    enum mw_status s = parse_step(j, &d->steps[d->n], err);
    if (!s) d->n++;
    return s;
}

enum mw_status tok_decoder_from_json(const json_t *j, tok_decoder **out, mw_err *err) {
    *out = NULL;
    if (!j || json_is_null(j)) return MW_OK;
    tok_decoder *d = calloc(1, sizeof *d);
    if (!d) return mw_fail(err, MW_ERR_NOMEM, "out of memory");
    enum mw_status s = add_json(d, j, 0, err);
    if (s) {
        tok_decoder_free(d);
        return mw_fail_context(err, s, "tokenizer.json decoder");
    }
    *out = d;
    return MW_OK;
}

/* ---- Hugging Face decoding ----------------------------------------------- */

/* The token strings of the steps: spans of one buffer. */
typedef struct dec_list {
    tok_str buf;
    tok_spans toks;
} dec_list;

static void dec_list_free(dec_list *l) {
    tok_str_free(&l->buf);
    tok_spans_free(&l->toks);
}

static bool add_tok(dec_list *l, const char *s, size_t n) {
    size_t off = l->buf.n;
    return tok_str_put(&l->buf, s, n) && tok_spans_add(&l->toks, off, n);
}

/* Appends bytes as Rust's String::from_utf8_lossy does: each maximal ill-formed part
 * becomes one U+FFFD. */
static bool put_lossy(tok_str *out, const unsigned char *s, size_t n) {
    if (!tok_str_put(out, "", 0)) return false; /* a buffer even for no bytes */
    for (size_t i = 0; i < n;) {
        unsigned c = s[i];
        size_t need = c < 0x80                 ? 1
                      : c >= 0xc2 && c <= 0xdf ? 2
                      : c >= 0xe0 && c <= 0xef ? 3
                      : c >= 0xf0 && c <= 0xf4 ? 4
                                               : 0;
        size_t k = 1;
        while (need > 1 && k < need && i + k < n) {
            unsigned lo = 0x80, hi = 0xbf, b = s[i + k];
            if (k == 1 && c == 0xe0) lo = 0xa0;
            if (k == 1 && c == 0xed) hi = 0x9f;
            if (k == 1 && c == 0xf0) lo = 0x90;
            if (k == 1 && c == 0xf4) hi = 0x8f;
            if (b < lo || b > hi) break;
            k++;
        }
        bool ok = need > 0 && k == need;
        if (!tok_str_put(out, ok ? (const char *)s + i : "\xef\xbf\xbd", ok ? need : 3))
            return false;
        i += ok ? need : k;
    }
    return true;
}

static int byte_token(const char *s, size_t n) {
    static const char hex[] = "0123456789ABCDEF";
    if (n != 6 || memcmp(s, "<0x", 3) != 0 || s[5] != '>') return -1;
    const char *a = memchr(hex, s[3], 16), *b = memchr(hex, s[4], 16);
    return a && b && s[3] && s[4] ? (int)((a - hex) * 16 + (b - hex)) : -1;
}

static bool step_token(const dec_step *st, const char *s, size_t n, size_t index, dec_list *out) {
    size_t from = 0, fl = strlen(st->from), tl = strlen(st->to);
    size_t off = out->buf.n;
    bool ok = true;
    if (st->type == DEC_STRIP) {
        size_t a = 0, b = n;
        for (size_t k = 0; k < st->start && b - a >= fl && memcmp(s + a, st->from, fl) == 0; k++)
            a += fl;
        for (size_t k = 0; k < st->stop && b - a >= fl && memcmp(s + b - fl, st->from, fl) == 0;
             k++)
            b -= fl;
        return add_tok(out, s + a, b - a);
    }
    /* Replace, Metaspace: each occurrence of from becomes to (Metaspace: a space, or
     * nothing in the first token) */
    const char *to = st->type == DEC_META ? (index == 0 && st->prepend ? "" : " ") : st->to;
    if (st->type == DEC_META) tl = strlen(to);
    for (const char *p; ok && (p = tok_find(s + from, n - from, st->from, fl));) {
        ok = tok_str_put(&out->buf, s + from, (size_t)(p - s) - from) &&
             tok_str_put(&out->buf, to, tl);
        from = (size_t)(p - s) + fl;
    }
    return ok && tok_str_put(&out->buf, s + from, n - from) &&
           tok_spans_add(&out->toks, off, out->buf.n - off);
}

/* ByteFallback: runs of byte tokens become the text of their bytes. */
static bool step_bytes(const dec_list *in, dec_list *out) {
    tok_str run = {0};
    bool ok = true;
    for (size_t i = 0; ok && i <= in->toks.n; i++) {
        const char *s = i < in->toks.n ? in->buf.s + in->toks.v[i].off : NULL;
        size_t n = i < in->toks.n ? in->toks.v[i].len : 0;
        int b = s ? byte_token(s, n) : -1;
        if (b >= 0) {
            unsigned char c = (unsigned char)b;
            ok = tok_str_put(&run, &c, 1);
            continue;
        }
        if (run.n) {
            /* as tokenizers does: the run's text, or one U+FFFD per byte */
            size_t off = out->buf.n;
            bool valid = tok_utf8_check(run.s, run.n) == SIZE_MAX;
            if (valid) ok = tok_str_put(&out->buf, run.s, run.n);
            for (size_t k = 0; ok && !valid && k < run.n; k++)
                ok = tok_str_put(&out->buf, "\xef\xbf\xbd", 3);
            ok = ok && tok_spans_add(&out->toks, off, out->buf.n - off);
            run.n = 0;
        }
        if (ok && s) ok = add_tok(out, s, n);
    }
    tok_str_free(&run);
    return ok;
}

/* ByteLevel: each token's characters back to the bytes they stand for (a token with a
 * character that stands for no byte stays as it is), all in one text read as lossy UTF-8.
 * Fuse: all tokens in one text. */
static bool step_join(const dec_step *st, const dec_list *in, dec_list *out) {
    tok_str raw = {0};
    bool ok = tok_str_put(&raw, "", 0);
    for (size_t i = 0; ok && i < in->toks.n; i++) {
        const char *s = in->buf.s + in->toks.v[i].off;
        size_t n = in->toks.v[i].len, start = raw.n, len;
        bool bytes = st->type == DEC_BYTE_LEVEL;
        for (size_t k = 0; ok && bytes && k < n; k += len) {
            len = tok_utf8_len((unsigned char)s[k]);
            int b = tok_char_byte(s + k, len > n - k ? n - k : len);
            unsigned char c = (unsigned char)b;
            if (b < 0)
                bytes = false;
            else
                ok = tok_str_put(&raw, &c, 1);
        }
        if (ok && !bytes) {
            raw.n = start;
            ok = tok_str_put(&raw, s, n);
        }
    }
    size_t off = out->buf.n;
    if (ok && st->type == DEC_BYTE_LEVEL)
        ok = put_lossy(&out->buf, (const unsigned char *)raw.s, raw.n);
    else if (ok)
        ok = tok_str_put(&out->buf, raw.s, raw.n);
    tok_str_free(&raw);
    return ok && tok_spans_add(&out->toks, off, out->buf.n - off);
}

static bool run_step(const dec_step *st, const dec_list *in, dec_list *out) {
    if (st->type == DEC_BYTE_FALLBACK) return step_bytes(in, out);
    if (st->type == DEC_BYTE_LEVEL || st->type == DEC_FUSE) return step_join(st, in, out);
    for (size_t i = 0; i < in->toks.n; i++)
        if (!step_token(st, in->buf.s + in->toks.v[i].off, in->toks.v[i].len, i, out)) return false;
    return true;
}

static bool decode_hf(const mw_tokenizer *t, const int32_t *ids, size_t n, unsigned flags,
                      tok_str *out) {
    dec_list cur = {0}, next = {0};
    bool ok = true;
    for (size_t i = 0; ok && i < n; i++) {
        uint8_t k = t->kind[ids[i]];
        if (t->text[ids[i]] && ((k != TK_CONTROL && k != TK_UNKNOWN) || (flags & MW_TOK_SPECIAL)))
            ok = add_tok(&cur, t->text[ids[i]], t->tlen[ids[i]]);
    }
    for (int s = 0; ok && t->dec && s < t->dec->n; s++) {
        next.buf.n = next.toks.n = 0;
        ok = run_step(&t->dec->steps[s], &cur, &next);
        dec_list tmp = cur;
        cur = next;
        next = tmp;
    }
    for (size_t i = 0; ok && i < cur.toks.n; i++)
        ok = (t->dec || i == 0 || tok_str_put(out, " ", 1)) &&
             (cur.toks.v[i].len == 0 || /* an empty piece may have no buffer behind it */
              tok_str_put(out, cur.buf.s + cur.toks.v[i].off, cur.toks.v[i].len));
    dec_list_free(&cur);
    dec_list_free(&next);
    return ok;
}

/* ---- llama.cpp decoding -------------------------------------------------- */

static bool piece_gguf(const mw_tokenizer *t, int32_t id, unsigned flags, bool strip_space,
                       tok_str *out) {
    const char *s = t->text[id];
    size_t n = t->tlen[id], len;
    switch (t->kind[id]) {
    case TK_CONTROL:
    case TK_UNKNOWN:
        return !(flags & MW_TOK_SPECIAL) || tok_str_put(out, s, n);
    case TK_USER:
        return tok_str_put(out, s, n);
    case TK_UNUSED:
        return true;
    case TK_BYTE:
        if (byte_token(s, n) >= 0) {
            unsigned char c = (unsigned char)byte_token(s, n);
            return tok_str_put(out, &c, 1);
        }
        break;
    default:
        break;
    }
    size_t start = out->n;
    bool ok = true;
    for (size_t k = 0; ok && k < n; k += len) {
        len = tok_utf8_len((unsigned char)s[k]);
        int b = t->spm ? -1 : tok_char_byte(s + k, len);
        unsigned char c = (unsigned char)b;
        if (t->spm && len == 3 && memcmp(s + k, "\xe2\x96\x81", 3) == 0)
            ok = tok_str_put(out, " ", 1);
        else
            ok = b >= 0 ? tok_str_put(out, &c, 1) : tok_str_put(out, s + k, len);
    }
    if (ok && strip_space && out->n > start && out->s[start] == ' ') {
        memmove(out->s + start, out->s + start + 1, out->n - start - 1);
        out->s[--out->n] = 0;
    }
    return ok;
}

enum mw_status tok_decode(const mw_tokenizer *t, const int32_t *ids, size_t n, unsigned flags,
                          tok_str *out, mw_err *err) {
    for (size_t i = 0; i < n; i++)
        if (ids[i] < 0 || ids[i] >= t->n)
            return mw_fail(err, MW_ERR_ARG, "token id %ld is out of range (0..%lld)", (long)ids[i],
                           (long long)t->n - 1);
    bool ok = tok_str_put(out, "", 0);
    if (t->hf) {
        ok = ok && decode_hf(t, ids, n, flags, out);
    } else {
        /* the encoder's space prefix comes at the start and after each added token */
        bool after_added = true;
        for (size_t i = 0; ok && i < n; i++) {
            uint8_t k = t->kind[ids[i]];
            bool text = k == TK_NORMAL || k == TK_BYTE;
            ok = piece_gguf(t, ids[i], flags, text && after_added && t->add_space_prefix, out);
            if (text) after_added = false;
            if (k == TK_CONTROL || k == TK_USER || k == TK_UNKNOWN) after_added = true;
        }
    }
    return ok ? MW_OK : mw_fail(err, MW_ERR_NOMEM, "out of memory");
}
