/* tokenizer.json normalizers, applied to each stretch of text between added tokens as
 * Hugging Face tokenizers does: Unicode forms with utf8proc, Replace, Prepend, Lowercase,
 * Strip, StripAccents and Sequence of these. (llama.cpp normalizes nothing for the BPE
 * vocabularies handled here, so a GGUF tokenizer has no normalizer.) */
#include "core/err.h"
#include "tok/tok.h"

#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

enum nm_type {
    NM_FORM, /* NFC, NFD, NFKC, NFKD */
    NM_REPLACE,
    NM_PREPEND,
    NM_LOWER,
    NM_STRIP,
    NM_STRIP_ACCENTS,
};

typedef struct nm_step {
    enum nm_type type;
    utf8proc_option_t form;
    tok_regex re;     /* Replace with a regex */
    char *pattern;    /* Replace with a string */
    char *content;    /* Replace / Prepend text */
    bool left, right; /* Strip */
} nm_step;

struct tok_norm {
    nm_step *steps;
    int n, cap;
};

void tok_norm_free(tok_norm *n) {
    if (!n) return;
    for (int i = 0; i < n->n; i++) {
        tok_regex_free(&n->steps[i].re);
        free(n->steps[i].pattern);
        free(n->steps[i].content);
    }
    free(n->steps);
    free(n);
}

static nm_step *add_step(tok_norm *n, enum nm_type type) {
    if (n->n == n->cap) {
        int cap = n->cap ? 2 * n->cap : 8;
        nm_step *s = realloc(n->steps, (size_t)cap * sizeof *s);
        if (!s) return NULL;
        n->steps = s;
        n->cap = cap;
    }
    nm_step *s = &n->steps[n->n++];
    *s = (nm_step){.type = type};
    return s;
}

static const char *str(const json_t *j, const char *key) {
    return json_string_value(json_object_get(j, key));
}

static enum mw_status replace_step(tok_norm *n, const json_t *j, mw_err *err) {
    const json_t *p = json_object_get(j, "pattern");
    const char *lit = str(p, "String"), *re = str(p, "Regex"), *content = str(j, "content");
    if ((!lit && !re) || !content || (lit && !*lit))
        return mw_fail(err, MW_ERR_FORMAT, "normalizer Replace needs a pattern and a content");
    nm_step *s = add_step(n, NM_REPLACE);
    if (!s || !(s->content = strdup(content))) return mw_fail(err, MW_ERR_NOMEM, "out of memory");
    if (lit)
        return (s->pattern = strdup(lit)) ? MW_OK : mw_fail(err, MW_ERR_NOMEM, "out of memory");
    return tok_regex_compile(&s->re, re, false, err);
}

static enum mw_status add_json(tok_norm *n, const json_t *j, int depth, mw_err *err) {
    static const struct {
        const char *name;
        utf8proc_option_t opts;
    } FORMS[] = {
        {"NFC", UTF8PROC_COMPOSE},
        {"NFD", UTF8PROC_DECOMPOSE},
        {"NFKC", UTF8PROC_COMPOSE | UTF8PROC_COMPAT},
        {"NFKD", UTF8PROC_DECOMPOSE | UTF8PROC_COMPAT},
    };
    const char *type = str(j, "type");
    if (!type) return mw_fail(err, MW_ERR_FORMAT, "normalizer without a type");
    if (depth > 8) return mw_fail(err, MW_ERR_FORMAT, "normalizer nests too deeply");
    for (size_t i = 0; i < 4; i++) {
        if (strcmp(type, FORMS[i].name) != 0) continue;
        nm_step *s = add_step(n, NM_FORM);
        if (!s) return mw_fail(err, MW_ERR_NOMEM, "out of memory");
        s->form = FORMS[i].opts | UTF8PROC_STABLE;
        return MW_OK;
    }
    if (strcmp(type, "Sequence") == 0) {
        const json_t *e;
        size_t i;
        json_array_foreach(json_object_get(j, "normalizers"), i, e) {
            enum mw_status s = add_json(n, e, depth + 1, err);
            if (s) return s;
        }
        return MW_OK;
    }
    if (strcmp(type, "Replace") == 0) return replace_step(n, j, err);
    nm_step *s = NULL;
    if (strcmp(type, "Prepend") == 0 && str(j, "prepend")) {
        if (!(s = add_step(n, NM_PREPEND)) || !(s->content = strdup(str(j, "prepend"))))
            return mw_fail(err, MW_ERR_NOMEM, "out of memory");
        return MW_OK;
    }
    enum nm_type t = NM_LOWER;
    if (strcmp(type, "Strip") == 0)
        t = NM_STRIP;
    else if (strcmp(type, "StripAccents") == 0)
        t = NM_STRIP_ACCENTS;
    else if (strcmp(type, "Lowercase") != 0)
        return mw_fail(err, MW_ERR_UNSUPPORTED, "normalizer type '%.40s' is not supported", type);
    if (!(s = add_step(n, t))) return mw_fail(err, MW_ERR_NOMEM, "out of memory");
    s->left = json_is_true(json_object_get(j, "strip_left"));
    s->right = json_is_true(json_object_get(j, "strip_right"));
    return MW_OK;
}

enum mw_status tok_norm_from_json(const json_t *j, tok_norm **out, mw_err *err) {
    *out = NULL;
    if (!j || json_is_null(j)) return MW_OK;
    tok_norm *n = calloc(1, sizeof *n);
    if (!n) return mw_fail(err, MW_ERR_NOMEM, "out of memory");
    enum mw_status s = add_json(n, j, 0, err);
    if (s) {
        tok_norm_free(n);
        return mw_fail_context(err, s, "tokenizer.json normalizer");
    }
    *out = n;
    return MW_OK;
}

/* ---- applying ------------------------------------------------------------ */

static bool unicode_form(const nm_step *st, const tok_str *in, tok_str *out) {
    utf8proc_uint8_t *dst = NULL;
    utf8proc_ssize_t n =
        utf8proc_map((const utf8proc_uint8_t *)in->s, (utf8proc_ssize_t)in->n, &dst, st->form);
    bool ok = n >= 0 && tok_str_put(out, dst, (size_t)n);
    free(dst);
    return ok;
}

static bool replace_all(const nm_step *st, const tok_str *in, tok_str *out, bool *failed) {
    size_t from = 0, ms, me, clen = strlen(st->content);
    bool ok = true;
    tok_matcher m;
    if (st->pattern) {
        size_t plen = strlen(st->pattern);
        for (const char *p; ok && (p = tok_find(in->s + from, in->n - from, st->pattern, plen));) {
            ok = tok_str_put(out, in->s + from, (size_t)(p - in->s) - from) &&
                 tok_str_put(out, st->content, clen);
            from = (size_t)(p - in->s) + plen;
        }
        return ok && tok_str_put(out, in->s + from, in->n - from);
    }
    if (!tok_matcher_init(&m)) return false;
    while (ok && tok_regex_next(&st->re, &m, in->s, in->n, from, &ms, &me, failed)) {
        ok = tok_str_put(out, in->s + from, ms - from) && tok_str_put(out, st->content, clen);
        from = me;
    }
    tok_matcher_free(&m);
    return ok && !*failed && tok_str_put(out, in->s + from, in->n - from);
}

/* Lowercase, strip and strip-accents work code point by code point. */
static bool per_char(const nm_step *st, const tok_str *in, tok_str *out) {
    size_t a = 0, b = in->n, len;
    if (st->type == NM_STRIP) {
        while (a < b && tok_is_space(tok_utf8_decode(in->s + a, &len)))
            a += len;
        while (b > a) {
            size_t k = b - 1;
            while (k > a && ((unsigned char)in->s[k] & 0xc0) == 0x80)
                k--;
            if (!tok_is_space(tok_utf8_decode(in->s + k, &len))) break;
            b = k;
        }
        return tok_str_put(out, in->s + (st->left ? a : 0),
                           (st->right ? b : in->n) - (st->left ? a : 0));
    }
    for (size_t i = 0; i < in->n; i += len) {
        uint32_t cp = tok_utf8_decode(in->s + i, &len);
        char enc[8];
        size_t n;
        if (st->type == NM_STRIP_ACCENTS) {
            /* every mark goes, spacing ones (Mc) and enclosing ones (Me) too, as in tokenizers */
            int cat = utf8proc_category((utf8proc_int32_t)cp);
            if (cat == UTF8PROC_CATEGORY_MN || cat == UTF8PROC_CATEGORY_MC ||
                cat == UTF8PROC_CATEGORY_ME)
                continue;
            n = tok_utf8_encode(cp, enc);
        } else if (cp == 0x130) { /* the one lowercase mapping to two code points */
            n = tok_utf8_encode('i', enc);
            n += tok_utf8_encode(0x307, enc + n);
        } else {
            n = tok_utf8_encode((uint32_t)utf8proc_tolower((utf8proc_int32_t)cp), enc);
        }
        if (!tok_str_put(out, enc, n)) return false;
    }
    return true;
}

static bool apply_step(const nm_step *st, const tok_str *in, tok_str *out, bool *failed) {
    switch (st->type) {
    case NM_FORM:
        return unicode_form(st, in, out);
    case NM_REPLACE:
        return replace_all(st, in, out, failed);
    case NM_PREPEND:
        /* as in tokenizers, an empty text stays empty */
        return (in->n == 0 || tok_str_put(out, st->content, strlen(st->content))) &&
               tok_str_put(out, in->s, in->n);
    default:
        return per_char(st, in, out);
    }
}

enum mw_status tok_norm_apply(const tok_norm *norm, const char *s, size_t n, tok_str *out,
                              mw_err *err) {
    tok_str cur = {0}, next = {0};
    bool failed = false, ok = tok_str_put(&cur, s, n);
    for (int i = 0; ok && norm && i < norm->n; i++) {
        next.n = 0;
        ok = tok_str_put(&next, "", 0) && apply_step(&norm->steps[i], &cur, &next, &failed);
        tok_str tmp = cur;
        cur = next;
        next = tmp;
    }
    tok_str_free(&next);
    if (!ok) {
        tok_str_free(&cur);
        return failed ? mw_fail(err, MW_ERR_UNSUPPORTED, "a normalizer regex failed on this text")
                      : mw_fail(err, MW_ERR_NOMEM, "out of memory");
    }
    tok_str_free(out);
    *out = cur;
    return MW_OK;
}
