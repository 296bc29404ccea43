/* The tokenizer as GGUF holds it: reading and writing the tokenizer.ggml.* entries. */
#include "core/err.h"
#include "core/utf8.h"
#include "io/hf_tokenizer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const MW_SPECIAL_GGUF[MW_SP_COUNT] = {
    "bos_token_id",       "eos_token_id",     "unknown_token_id",
    "seperator_token_id", "padding_token_id", "mask_token_id",
};
const char *const MW_SPECIAL_HF[MW_SP_COUNT] = {"bos", "eos", "unk", "sep", "pad", "mask"};

static const char *const FLAG_KEYS[4] = {
    "tokenizer.ggml.add_bos_token",
    "tokenizer.ggml.add_eos_token",
    "tokenizer.ggml.add_sep_token",
    "tokenizer.ggml.add_space_prefix",
};

static int8_t *flag_at(mw_vocab *v, int i) {
    int8_t *f[4] = {&v->add_bos, &v->add_eos, &v->add_sep, &v->add_space_prefix};
    return f[i];
}

void mw_vocab_init(mw_vocab *v) {
    memset(v, 0, sizeof *v);
    for (int i = 0; i < MW_SP_COUNT; i++)
        v->special[i] = -1;
    v->add_bos = v->add_eos = v->add_sep = v->add_space_prefix = -1;
}

void mw_vocab_free(mw_vocab *v) {
    if (v->tok)
        for (int64_t i = 0; i < v->n; i++)
            free(v->tok[i]);
    if (v->merges)
        for (int64_t i = 0; i < v->n_merges; i++)
            free(v->merges[i]);
    free(v->tok);
    free(v->score);
    free(v->type);
    free(v->merges);
    free(v->chat_template);
    mw_vocab_init(v);
}

enum mw_status mw_vocab_alloc(mw_vocab *v, int64_t n, bool with_scores, mw_err *err) {
    if (n < 1 || n > MW_TOK_MAX_TOKENS)
        return mw_fail(err, MW_ERR_FORMAT, "a vocabulary of %lld tokens is not supported",
                       (long long)n);
    v->n = n;
    v->tok = calloc((size_t)n, sizeof *v->tok);
    v->type = malloc((size_t)n * sizeof *v->type);
    v->score = with_scores ? calloc((size_t)n, sizeof *v->score) : NULL;
    if (!v->tok || !v->type || (with_scores && !v->score))
        return mw_fail(err, MW_ERR_NOMEM, "out of memory");
    for (int64_t i = 0; i < n; i++)
        v->type[i] = MW_TOK_NORMAL;
    return MW_OK;
}

bool mw_tok_looks_special(const char *s) {
    size_t n = strlen(s);
    static const char *const exact[] = {"<pad>", "<mask>", "<2mass>", "[@BOS@]"};
    for (size_t i = 0; i < sizeof exact / sizeof *exact; i++)
        if (strcmp(s, exact[i]) == 0) return true;
    /* "<|...|>", its fullwidth-bar form "<\uFF5C...\uFF5C>", and Gemma's "<unused...>" */
    if (n >= 4 && strncmp(s, "<|", 2) == 0 && strcmp(s + n - 2, "|>") == 0) return true;
    if (n >= 8 && strncmp(s, "<\xef\xbd\x9c", 4) == 0 && strcmp(s + n - 4, "\xef\xbd\x9c>") == 0)
        return true;
    return n >= 8 && strncmp(s, "<unused", 7) == 0 && s[n - 1] == '>';
}

char *mw_tok_swap_space(const char *s, bool to_space) {
    static const char meta[] = "\xe2\x96\x81"; /* U+2581, SentencePiece's space */
    size_t n = strlen(s), out = 0;
    char *r = malloc(3 * n + 1);
    if (!r) return NULL;
    for (size_t i = 0; i < n;) {
        if (to_space && strncmp(s + i, meta, 3) == 0) {
            r[out++] = ' ';
            i += 3;
        } else if (!to_space && s[i] == ' ') {
            memcpy(r + out, meta, 3);
            out += 3;
            i++;
        } else {
            r[out++] = s[i++];
        }
    }
    r[out] = 0;
    return r;
}

/* Copies a GGUF string that must be usable as JSON text. */
static enum mw_status copy_text(const mw_str *s, const char *what, int64_t i, char **out,
                                mw_err *err) {
    if (s->len > MW_TOK_MAX_BYTES || memchr(s->s, 0, s->len) || !mw_utf8_valid(s->s, s->len))
        return mw_fail(err, MW_ERR_UNSUPPORTED,
                       "%s %lld is not valid UTF-8 text (or too long, or holds a NUL)", what,
                       (long long)i);
    *out = strdup(s->s);
    return *out ? MW_OK : mw_fail(err, MW_ERR_NOMEM, "out of memory");
}

static const mw_gguf_kv *find_array(const mw_gguf *g, const char *key, enum mw_gguf_vtype t,
                                    int64_t n, bool required, enum mw_status *s, mw_err *err) {
    const mw_gguf_kv *kv = mw_gguf_find_kv(g, key);
    *s = MW_OK;
    if (!kv) {
        if (required) *s = mw_fail(err, MW_ERR_NOT_FOUND, "the GGUF has no %s", key);
        return NULL;
    }
    if (kv->type != MW_GGUF_ARRAY || kv->elem_type != t || (n >= 0 && kv->n != (uint64_t)n)) {
        *s = mw_fail(err, MW_ERR_FORMAT, "%s must be an array of %lld %s", key, (long long)n,
                     mw_gguf_vtype_name(t));
        return NULL;
    }
    return kv;
}

static enum mw_status read_tokens(const mw_gguf *g, mw_vocab *v, mw_err *err) {
    enum mw_status s;
    const mw_gguf_kv *kv =
        find_array(g, "tokenizer.ggml.tokens", MW_GGUF_STRING, -1, true, &s, err);
    if (!kv) return s;
    if (kv->n > MW_TOK_MAX_TOKENS)
        return mw_fail(err, MW_ERR_UNSUPPORTED, "a vocabulary of %llu tokens is not supported",
                       (unsigned long long)kv->n);
    if ((s = mw_vocab_alloc(v, (int64_t)kv->n, v->spm, err))) return s;
    const mw_str *strs = kv->data;
    for (int64_t i = 0; i < v->n; i++)
        if ((s = copy_text(&strs[i], "token", i, &v->tok[i], err))) return s;
    if (v->spm) {
        kv = find_array(g, "tokenizer.ggml.scores", MW_GGUF_FLOAT32, v->n, true, &s, err);
        if (!kv) return s;
        memcpy(v->score, kv->data, (size_t)v->n * sizeof(float));
    }
    kv = find_array(g, "tokenizer.ggml.token_type", MW_GGUF_INT32, v->n, false, &s, err);
    if (s) return s;
    for (int64_t i = 0; kv && i < v->n; i++) {
        int32_t t = ((const int32_t *)kv->data)[i];
        if (t < MW_TOK_UNDEFINED || t > MW_TOK_BYTE)
            return mw_fail(err, MW_ERR_FORMAT, "token %lld has an unknown type %d", (long long)i,
                           (int)t);
        v->type[i] = t == MW_TOK_UNDEFINED ? MW_TOK_NORMAL : t;
    }
    return MW_OK;
}

static enum mw_status read_merges(const mw_gguf *g, mw_vocab *v, mw_err *err) {
    enum mw_status s;
    const mw_gguf_kv *kv =
        find_array(g, "tokenizer.ggml.merges", MW_GGUF_STRING, -1, false, &s, err);
    if (!kv) return s;
    if (kv->n > 4 * (uint64_t)MW_TOK_MAX_TOKENS)
        return mw_fail(err, MW_ERR_FORMAT, "too many merges");
    v->merges = calloc(kv->n ? kv->n : 1, sizeof *v->merges);
    if (!v->merges) return mw_fail(err, MW_ERR_NOMEM, "out of memory");
    const mw_str *strs = kv->data;
    for (uint64_t i = 0; i < kv->n; i++, v->n_merges++)
        if ((s = copy_text(&strs[i], "merge", (int64_t)i, &v->merges[i], err))) return s;
    return MW_OK;
}

static enum mw_status read_specials(const mw_gguf *g, mw_vocab *v, mw_err *err) {
    char key[96];
    for (int i = 0; i < MW_SP_COUNT; i++) {
        snprintf(key, sizeof key, "tokenizer.ggml.%s", MW_SPECIAL_GGUF[i]);
        const mw_gguf_kv *kv = mw_gguf_find_kv(g, key);
        int64_t id;
        if (!kv) continue;
        if (kv->type == MW_GGUF_BOOL || !mw_gguf_kv_int(kv, &id) || id < 0 || id >= v->n)
            return mw_fail(err, MW_ERR_FORMAT, "%s is not a token id of this vocabulary", key);
        v->special[i] = id;
    }
    for (int i = 0; i < 4; i++) {
        const mw_gguf_kv *kv = mw_gguf_find_kv(g, FLAG_KEYS[i]);
        int64_t b;
        if (!kv) continue;
        if (kv->type != MW_GGUF_BOOL || !mw_gguf_kv_int(kv, &b))
            return mw_fail(err, MW_ERR_FORMAT, "%s must be a bool", FLAG_KEYS[i]);
        *flag_at(v, i) = b != 0;
    }
    const mw_gguf_kv *kv = mw_gguf_find_kv(g, "tokenizer.chat_template");
    if (kv) {
        const mw_str *t = kv->type == MW_GGUF_STRING ? kv->data : NULL;
        if (!t || memchr(t->s, 0, t->len) || !mw_utf8_valid(t->s, t->len))
            return mw_fail(err, MW_ERR_FORMAT, "tokenizer.chat_template must be UTF-8 text");
        if (!(v->chat_template = strdup(t->s))) return mw_fail(err, MW_ERR_NOMEM, "out of memory");
    }
    return MW_OK;
}

enum mw_status mw_vocab_from_gguf(const mw_gguf *g, mw_vocab *v, mw_err *err) {
    mw_vocab_init(v);
    const char *model = mw_gguf_kv_str(mw_gguf_find_kv(g, "tokenizer.ggml.model"));
    if (!model) return mw_fail(err, MW_ERR_NOT_FOUND, "the GGUF has no tokenizer.ggml.model");
    if (strcmp(model, "llama") != 0 && strcmp(model, "gpt2") != 0)
        return mw_fail(err, MW_ERR_UNSUPPORTED,
                       "tokenizer model '%.40s' is not supported (llama and gpt2 are)", model);
    v->spm = strcmp(model, "llama") == 0;
    const char *pre = mw_gguf_kv_str(mw_gguf_find_kv(g, "tokenizer.ggml.pre"));
    if (pre && strlen(pre) >= sizeof v->pre)
        return mw_fail(err, MW_ERR_FORMAT, "tokenizer.ggml.pre is too long");
    if (pre) snprintf(v->pre, sizeof v->pre, "%s", pre);
    enum mw_status s;
    if ((s = read_tokens(g, v, err)) || (s = read_merges(g, v, err)) ||
        (s = read_specials(g, v, err))) {
        mw_vocab_free(v);
        return s;
    }
    return MW_OK;
}

static enum mw_status set_strings(mw_gguf_writer *w, const char *key, char *const *strs, int64_t n,
                                  mw_err *err) {
    mw_str *a = malloc((size_t)(n ? n : 1) * sizeof *a);
    if (!a) return mw_fail(err, MW_ERR_NOMEM, "out of memory");
    for (int64_t i = 0; i < n; i++)
        a[i] = (mw_str){strs[i], strlen(strs[i])};
    enum mw_status s = mw_gguf_writer_set_array(w, key, MW_GGUF_STRING, (uint64_t)n, a, err);
    free(a);
    return s;
}

enum mw_status mw_vocab_to_gguf(const mw_vocab *v, mw_gguf_writer *w, mw_err *err) {
    enum mw_status s;
    char key[96];
    if (v->n < 1) return mw_fail(err, MW_ERR_ARG, "an empty vocabulary cannot be written");
    if ((s = mw_gguf_writer_set_str(w, "tokenizer.ggml.model", v->spm ? "llama" : "gpt2", err)))
        return s;
    if (v->pre[0] && (s = mw_gguf_writer_set_str(w, "tokenizer.ggml.pre", v->pre, err))) return s;
    if ((s = set_strings(w, "tokenizer.ggml.tokens", v->tok, v->n, err))) return s;
    if (v->score && (s = mw_gguf_writer_set_array(w, "tokenizer.ggml.scores", MW_GGUF_FLOAT32,
                                                  (uint64_t)v->n, v->score, err)))
        return s;
    if ((s = mw_gguf_writer_set_array(w, "tokenizer.ggml.token_type", MW_GGUF_INT32, (uint64_t)v->n,
                                      v->type, err)))
        return s;
    if (v->n_merges && (s = set_strings(w, "tokenizer.ggml.merges", v->merges, v->n_merges, err)))
        return s;
    for (int i = 0; i < MW_SP_COUNT; i++) {
        if (v->special[i] < 0) continue;
        snprintf(key, sizeof key, "tokenizer.ggml.%s", MW_SPECIAL_GGUF[i]);
        if ((s = mw_gguf_writer_set_u32(w, key, (uint32_t)v->special[i], err))) return s;
    }
    for (int i = 0; i < 4; i++) {
        int8_t f = *flag_at((mw_vocab *)v, i);
        if (f >= 0 && (s = mw_gguf_writer_set_bool(w, FLAG_KEYS[i], f != 0, err))) return s;
    }
    if (v->chat_template &&
        (s = mw_gguf_writer_set_str(w, "tokenizer.chat_template", v->chat_template, err)))
        return s;
    return MW_OK;
}
