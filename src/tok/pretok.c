/* Pre-tokenizers: a text cut into words before BPE. Both references reduce to a list of
 * steps over the pieces of the text:
 *  - split: a regex (or a literal) cuts each piece; matches and the text between them are
 *    kept, dropped or glued as Hugging Face's Split "behavior" says (llama.cpp keeps both,
 *    "Isolated");
 *  - prepend: a string before a piece that does not start with it (ByteLevel's
 *    add_prefix_space, Metaspace's prepend_scheme);
 *  - replace: every space of a piece becomes a string (Metaspace);
 *  - bytes: each byte of a piece becomes GPT-2's printable character for it (ByteLevel).
 * llama.cpp names its regex lists by tokenizer.ggml.pre; tokenizer.json spells them out. */
#include "core/err.h"
#include "tok/tok.h"

#include <stdlib.h>
#include <string.h>

enum pt_type { PT_SPLIT, PT_PREPEND, PT_REPLACE, PT_BYTES };
enum pt_behavior { PB_REMOVED, PB_ISOLATED, PB_MERGED_PREV, PB_MERGED_NEXT, PB_CONTIGUOUS };

typedef struct pt_step {
    enum pt_type type;
    tok_regex re;
    bool invert;
    enum pt_behavior behavior;
    char str[16]; /* prepend / replace text */
    size_t str_len;
    bool first_only; /* prepend only at the start of the input */
} pt_step;

struct tok_pretok {
    pt_step *steps;
    int n, cap;
};

void tok_pretok_free(tok_pretok *p) {
    if (!p) return;
    for (int i = 0; i < p->n; i++)
        tok_regex_free(&p->steps[i].re);
    free(p->steps);
    free(p);
}

static pt_step *add_step(tok_pretok *p, enum pt_type type) {
    if (p->n == p->cap) {
        int cap = p->cap ? 2 * p->cap : 8;
        pt_step *s = realloc(p->steps, (size_t)cap * sizeof *s);
        if (!s) return NULL;
        p->steps = s;
        p->cap = cap;
    }
    pt_step *s = &p->steps[p->n++];
    *s = (pt_step){.type = type, .behavior = PB_ISOLATED};
    return s;
}

tok_pretok *tok_pretok_new(void) {
    return calloc(1, sizeof(tok_pretok));
}

static const char *const BEHAVIORS[] = {"Removed", "Isolated", "MergedWithPrevious",
                                        "MergedWithNext", "Contiguous"};

enum mw_status tok_pretok_split(tok_pretok *p, const char *pattern, bool literal,
                                const char *behavior, bool invert, mw_err *err) {
    int b = -1;
    for (int i = 0; i < 5; i++)
        if (strcmp(behavior, BEHAVIORS[i]) == 0) b = i;
    if (b < 0)
        return mw_fail(err, MW_ERR_UNSUPPORTED, "pre-tokenizer split behavior '%.40s'", behavior);
    pt_step *s = add_step(p, PT_SPLIT);
    if (!s) return mw_fail(err, MW_ERR_NOMEM, "out of memory");
    s->behavior = (enum pt_behavior)b;
    s->invert = invert;
    return tok_regex_compile(&s->re, pattern, literal, err);
}

enum mw_status tok_pretok_text_step(tok_pretok *p, bool replace, const char *text, bool first_only,
                                    mw_err *err) {
    size_t n = strlen(text);
    if (n == 0 || n >= sizeof p->steps[0].str)
        return mw_fail(err, MW_ERR_UNSUPPORTED, "pre-tokenizer string '%.40s'", text);
    pt_step *s = add_step(p, replace ? PT_REPLACE : PT_PREPEND);
    if (!s) return mw_fail(err, MW_ERR_NOMEM, "out of memory");
    memcpy(s->str, text, n);
    s->str_len = n;
    s->first_only = first_only;
    return MW_OK;
}

enum mw_status tok_pretok_bytes(tok_pretok *p, mw_err *err) {
    return add_step(p, PT_BYTES) ? MW_OK : mw_fail(err, MW_ERR_NOMEM, "out of memory");
}

/* ---- llama.cpp's lists --------------------------------------------------- */

#define RE_GPT2 "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+"
/* llama.cpp's spelling of Llama 3's (?i:'s|...) without case folding beyond ASCII */
#define RE_CONTRACTIONS "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])"
#define RE_LLAMA3_TAIL  "| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"
#define RE_LLAMA3       RE_CONTRACTIONS "|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}" RE_LLAMA3_TAIL
#define RE_QWEN2        RE_CONTRACTIONS "|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}" RE_LLAMA3_TAIL
/* Qwen 3.5: marks count with letters */
#define RE_QWEN35                                                                                  \
    RE_CONTRACTIONS "|[^\\r\\n\\p{L}\\p{N}]?[\\p{L}\\p{M}]+|\\p{N}| "                              \
                    "?[^\\s\\p{L}\\p{M}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"
/* CJK ideographs (and everything from U+0800 up to them), Hangul syllables */
#define RE_DEEPSEEK_CJK "[\\x{4e00}-\\x{9fa5}\\x{0800}-\\x{4e00}\\x{ac00}-\\x{d7ff}]+"

/* The lists of llama.cpp's llm_tokenizer_bpe, each applied after the other like Hugging
 * Face's Split (Isolated); LLAMA3: Llama 3's merging rules (ignore_merges, BOS by default). */
enum { PRE_LLAMA3 = 1 };
static const struct {
    const char *names;
    int flags;
    const char *regexes[5];
} GGUF_PRES[] = {
    {" default ", 0, {"[\\p{P}\\$\\+<=>\\^~\\|]+", RE_GPT2, "\\p{N}+", "[0-9][0-9][0-9]"}},
    {" gpt-2 phi-2 jina-es jina-de gigachat jina-v2-es jina-v2-de a.x-4.0 mellum modern-bert "
     "jina-v1-en jina-v2-code roberta-bpe mpt olmo jais trillion granite-docling exaone4 ",
     0,
     {RE_GPT2}},
    {" starcoder refact command-r smollm codeshell exaone minerva-7b mellum2 ",
     0,
     {"\\p{N}", RE_GPT2}},
    {" llama3 llama-v3 llama-bpe falcon3 falcon-h1 pixtral midm-2.0 lfm2 jina-v5-nano ",
     PRE_LLAMA3,
     {RE_LLAMA3}},
    {" dbrx smaug-bpe ", 0, {RE_LLAMA3}},
    {" qwen2 deepseek-r1-qwen kormo f2llmv2 stablelm2 megrez hunyuan solar-open ", 0, {RE_QWEN2}},
    {" qwen35 ", 0, {RE_QWEN35}},
    {" falcon ", 0, {"[\\p{P}\\$\\+<=>\\^~\\|`]+", RE_GPT2, "[0-9][0-9][0-9]"}},
    {" deepseek-coder ", 0, {"[\\r\\n]", "\\s?\\p{L}+", "\\s?\\p{P}+", RE_DEEPSEEK_CJK, "\\p{N}"}},
};

static bool in_list(const char *list, const char *name) {
    size_t n = strlen(name);
    for (const char *p = strstr(list, name); p; p = strstr(p + 1, name))
        if (p[-1] == ' ' && p[n] == ' ') return true;
    return false;
}

bool tok_gguf_pre_is_llama3(const char *pre) {
    for (size_t i = 0; pre && *pre && i < sizeof GGUF_PRES / sizeof *GGUF_PRES; i++)
        if ((GGUF_PRES[i].flags & PRE_LLAMA3) && in_list(GGUF_PRES[i].names, pre)) return true;
    return false;
}

enum mw_status tok_pretok_from_gguf(const char *pre, tok_pretok **out, mw_err *err) {
    *out = NULL;
    const char *name = pre && *pre ? pre : "default"; /* llama.cpp's fallback */
    for (size_t i = 0; i < sizeof GGUF_PRES / sizeof *GGUF_PRES; i++) {
        if (!in_list(GGUF_PRES[i].names, name)) continue;
        tok_pretok *p = tok_pretok_new();
        if (!p) return mw_fail(err, MW_ERR_NOMEM, "out of memory");
        enum mw_status s = MW_OK;
        for (int k = 0; !s && k < 5 && GGUF_PRES[i].regexes[k]; k++)
            s = tok_pretok_split(p, GGUF_PRES[i].regexes[k], false, "Isolated", false, err);
        if (!s) s = tok_pretok_bytes(p, err);
        if (s) {
            tok_pretok_free(p);
            return s;
        }
        *out = p;
        return MW_OK;
    }
    return mw_fail(err, MW_ERR_UNSUPPORTED, "pre-tokenizer '%.40s' is not supported", name);
}

/* ---- running ------------------------------------------------------------- */

typedef struct seg {
    size_t a, b;
    bool match;
} seg;

typedef struct pt_run {
    tok_matcher m;
    seg *segs;
    size_t n_segs, cap_segs;
} pt_run;

static bool add_seg(pt_run *r, size_t a, size_t b, bool match) {
    if (a == b) return true;
    if (r->n_segs == r->cap_segs) {
        size_t cap = r->cap_segs ? 2 * r->cap_segs : 64;
        seg *s = realloc(r->segs, cap * sizeof *s);
        if (!s) return false;
        r->segs = s;
        r->cap_segs = cap;
    }
    r->segs[r->n_segs++] = (seg){a, b, match};
    return true;
}

/* Applies a behavior to the segments of one piece (as Hugging Face folds them). */
static bool glue(const pt_run *r, enum pt_behavior b, tok_spans *out) {
    size_t first = out->n;
    bool prev = false;
    for (size_t i = 0; i < r->n_segs; i++) {
        const seg *s = &r->segs[i];
        bool extend = false;
        if (b == PB_REMOVED && s->match) continue;
        if (b == PB_MERGED_PREV) extend = s->match && !prev;
        if (b == PB_CONTIGUOUS) extend = s->match == prev;
        /* MergedWithNext: a match is glued to the piece after it unless that is a match */
        if (b == PB_MERGED_NEXT && i > 0 && r->segs[i - 1].match && !s->match) extend = true;
        prev = s->match;
        if (extend && out->n > first) {
            tok_span *last = &out->v[out->n - 1];
            last->len = s->b - last->off;
        } else if (!tok_spans_add(out, s->a, s->b - s->a)) {
            return false;
        }
    }
    return true;
}

static enum mw_status split_piece(const pt_step *st, pt_run *r, const char *s, tok_span w,
                                  tok_spans *out, mw_err *err) {
    size_t pos = 0, ms, me, prev = 0;
    bool failed, ok = true;
    r->n_segs = 0;
    while (ok && tok_regex_next(&st->re, &r->m, s + w.off, w.len, pos, &ms, &me, &failed)) {
        ok = add_seg(r, w.off + prev, w.off + ms, st->invert) &&
             add_seg(r, w.off + ms, w.off + me, !st->invert);
        prev = pos = me;
    }
    if (failed)
        return mw_fail(err, MW_ERR_UNSUPPORTED, "the pre-tokenizer regex failed on this text");
    ok = ok && add_seg(r, w.off + prev, w.off + w.len, st->invert);
    if (!ok || !glue(r, st->behavior, out)) return mw_fail(err, MW_ERR_NOMEM, "out of memory");
    return MW_OK;
}

/* A step that rewrites the text of each piece into a new buffer. */
static bool rewrite_piece(const pt_step *st, const char *s, tok_span w, bool at_start, tok_str *nb,
                          tok_spans *out) {
    size_t off = nb->n;
    bool ok = true;
    if (st->type == PT_PREPEND) {
        bool has = w.len >= st->str_len && memcmp(s + w.off, st->str, st->str_len) == 0;
        if (!has && (!st->first_only || at_start)) ok = tok_str_put(nb, st->str, st->str_len);
        ok = ok && tok_str_put(nb, s + w.off, w.len);
    } else {
        for (size_t i = 0; ok && i < w.len; i++) {
            unsigned char c = (unsigned char)s[w.off + i];
            size_t len;
            const char *rep = &s[w.off + i];
            len = 1;
            if (st->type == PT_BYTES)
                rep = tok_byte_char(c, &len);
            else if (c == ' ')
                rep = st->str, len = st->str_len;
            ok = tok_str_put(nb, rep, len);
        }
    }
    return ok && tok_spans_add(out, off, nb->n - off);
}

static enum mw_status run_step(const pt_step *st, pt_run *r, tok_str *buf, tok_spans *words,
                               bool at_start, mw_err *err) {
    tok_spans next = {0};
    tok_str nb = {0};
    enum mw_status s = MW_OK;
    for (size_t i = 0; !s && i < words->n; i++) {
        if (st->type == PT_SPLIT)
            s = split_piece(st, r, buf->s, words->v[i], &next, err);
        else if (!rewrite_piece(st, buf->s, words->v[i], at_start && i == 0, &nb, &next))
            s = mw_fail(err, MW_ERR_NOMEM, "out of memory");
    }
    if (s) {
        tok_spans_free(&next);
        tok_str_free(&nb);
        return s;
    }
    tok_spans_free(words);
    *words = next;
    if (st->type != PT_SPLIT) {
        tok_str_free(buf);
        *buf = nb;
    }
    return MW_OK;
}

enum mw_status tok_pretok_run(const tok_pretok *p, const char *s, size_t n, bool at_start,
                              tok_str *buf, tok_spans *words, mw_err *err) {
    buf->n = 0;
    words->n = 0;
    if (!tok_str_put(buf, s, n) || (n && !tok_spans_add(words, 0, n)))
        return mw_fail(err, MW_ERR_NOMEM, "out of memory");
    if (!p) return MW_OK;
    pt_run r = {0};
    if (!tok_matcher_init(&r.m)) return mw_fail(err, MW_ERR_NOMEM, "out of memory");
    enum mw_status st = MW_OK;
    for (int i = 0; !st && i < p->n; i++)
        st = run_step(&p->steps[i], &r, buf, words, at_start, err);
    tok_matcher_free(&r.m);
    free(r.segs);
    return st;
}
