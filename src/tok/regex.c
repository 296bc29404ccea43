/* Regexes of the pre-tokenizers, run by PCRE2 in UTF mode with Unicode properties.
 *
 * PCRE2 (10.42) and the references disagree on two classes, so both are spelled out:
 *  - \s: PCRE2 takes the Z categories plus \t\n\v\f\r; llama.cpp and the Rust / Oniguruma
 *    regexes behind Hugging Face tokenizers take the White_Space property, which also has
 *    U+0085 (next line);
 *  - \w: PCRE2 takes letters, numbers and "_"; the Rust regexes of tokenizers take the
 *    Unicode word characters: Alphabetic (letters, letter numbers), marks, decimal digits,
 *    connector punctuation and the joiners (so "a" + U+0301 stays one word). */
#include "core/err.h"
#include "tok/tok.h"

#include <string.h>

#define WS_SET                                                                                     \
    "\\t-\\r \\x{85}\\x{a0}\\x{1680}\\x{2000}-\\x{200a}\\x{2028}\\x{2029}\\x{202f}\\x{205f}"       \
    "\\x{3000}"
#define WORD_SET "\\p{L}\\p{Nl}\\p{M}\\p{Nd}\\p{Pc}\\x{200c}\\x{200d}"

/* One escape \c of a pattern, spelled out when it is \s \S \w \W; false on OOM or on a
 * negated class inside a character class, which has no such spelling. */
static bool spell_escape(char c, bool in_class, tok_str *out, bool *unsupported) {
    const char *set = c == 's' || c == 'S' ? WS_SET : c == 'w' || c == 'W' ? WORD_SET : NULL;
    char esc[2] = {'\\', c};
    if (!set) return tok_str_put(out, esc, 2);
    bool negated = c == 'S' || c == 'W';
    if (in_class && negated) return *unsupported = true, false;
    if (in_class) return tok_str_put(out, set, strlen(set));
    return tok_str_put(out, negated ? "[^" : "[", negated ? 2 : 1) &&
           tok_str_put(out, set, strlen(set)) && tok_str_put(out, "]", 1);
}

/* pattern with its \s \S \w \W spelled out as the references read them. */
static bool spell_out_classes(const char *p, tok_str *out, bool *unsupported) {
    bool in_class = false, ok = true;
    for (size_t i = 0; p[i] && ok; i++) {
        if (p[i] == '\\' && p[i + 1]) {
            ok = spell_escape(p[++i], in_class, out, unsupported);
            continue;
        }
        if (p[i] == '[' && !in_class) {
            in_class = true;
            size_t k = i + 1;
            if (p[k] == '^') k++;
            if (p[k] == ']') k++; /* a ']' first in a class is itself */
            ok = tok_str_put(out, p + i, k - i);
            i = k - 1;
            continue;
        }
        if (p[i] == ']' && in_class) in_class = false;
        ok = tok_str_put(out, p + i, 1);
    }
    return ok;
}

enum mw_status tok_regex_compile(tok_regex *r, const char *pattern, bool literal, mw_err *err) {
    tok_str spelled = {0};
    bool unsupported = false;
    r->code = NULL;
    if (!literal && !spell_out_classes(pattern, &spelled, &unsupported)) {
        tok_str_free(&spelled);
        return unsupported
                   ? mw_fail(err, MW_ERR_UNSUPPORTED,
                             "regex '%.80s': \\S or \\W inside a character class is not supported",
                             pattern)
                   : mw_fail(err, MW_ERR_NOMEM, "out of memory");
    }
    const char *p = literal ? pattern : spelled.s ? spelled.s : "";
    int code;
    PCRE2_SIZE at;
    /* PCRE2_LITERAL refuses PCRE2_UCP, which a literal does not need */
    uint32_t opts = PCRE2_UTF | PCRE2_NO_UTF_CHECK | (literal ? PCRE2_LITERAL : PCRE2_UCP);
    r->code = pcre2_compile((PCRE2_SPTR)p, strlen(p), opts, &code, &at, NULL);
    tok_str_free(&spelled);
    if (!r->code) {
        PCRE2_UCHAR msg[160];
        pcre2_get_error_message(code, msg, sizeof msg);
        return mw_fail(err, MW_ERR_UNSUPPORTED, "regex '%.80s': %s", pattern, (const char *)msg);
    }
    /* JIT is a large speed-up where the library has it; the interpreter is used otherwise */
    pcre2_jit_compile(r->code, PCRE2_JIT_COMPLETE);
    return MW_OK;
}

void tok_regex_free(tok_regex *r) {
    pcre2_code_free(r->code);
    r->code = NULL;
}

bool tok_matcher_init(tok_matcher *m) {
    *m = (tok_matcher){0};
    m->md = pcre2_match_data_create(4, NULL);
    m->mc = pcre2_match_context_create(NULL);
    /* deep backtracking over a long run (\s+(?!\S) on a megabyte of spaces) needs more than
     * the default 32 KiB of JIT stack */
    m->stack = pcre2_jit_stack_create(32 * 1024, 64 * 1024 * 1024, NULL);
    if (!m->md || !m->mc || !m->stack) {
        tok_matcher_free(m);
        return false;
    }
    pcre2_jit_stack_assign(m->mc, NULL, m->stack);
    return true;
}

void tok_matcher_free(tok_matcher *m) {
    pcre2_match_data_free(m->md);
    pcre2_match_context_free(m->mc);
    pcre2_jit_stack_free(m->stack);
    *m = (tok_matcher){0};
}

bool tok_regex_next(const tok_regex *r, tok_matcher *m, const char *s, size_t n, size_t start,
                    size_t *mstart, size_t *mend, bool *failed) {
    *failed = false;
    while (start <= n) {
        int rc = pcre2_match(r->code, (PCRE2_SPTR)s, n, start, PCRE2_NO_UTF_CHECK, m->md, m->mc);
        if (rc == PCRE2_ERROR_NOMATCH) return false;
        if (rc < 0) {
            *failed = true;
            return false;
        }
        PCRE2_SIZE *ov = pcre2_get_ovector_pointer(m->md);
        if (ov[1] > ov[0]) {
            *mstart = ov[0];
            *mend = ov[1];
            return true;
        }
        /* an empty match cuts nothing (the references drop empty pieces): look further on */
        if (ov[0] >= n) return false;
        start = ov[0] + tok_utf8_len((unsigned char)s[ov[0]]);
    }
    return false;
}
