/* tokenizer.json -> GGUF tokenizer, as llama.cpp's converter builds it: byte-level BPE
 * becomes a "gpt2" model with its merges; SentencePiece-style BPE (byte fallback) becomes a
 * "llama" model whose scores follow the merge ranks (see mw_spm_scores_from_merges). Ids
 * missing from the file become "[PADn]" unused tokens; added tokens become control tokens
 * when special or special-looking, else user-defined. */
#include "core/err.h"
#include "core/strmap.h"
#include "io/hf_tokenizer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct tj {
    json_t *root;
    const json_t *model;
    int64_t n;
    const char **text; /* [n] tokenizer.json text of each id, NULL for a gap */
    int8_t *added;     /* [n] 0, 1 added, 2 added and special */
    int64_t n_merges;
    char **left, **right;
} tj;

static void tj_free(tj *t) {
    for (int64_t i = 0; i < t->n_merges; i++) {
        free(t->left[i]);
        free(t->right[i]);
    }
    free(t->left);
    free(t->right);
    free(t->text);
    free(t->added);
}

static bool good_text(const json_t *s) {
    return json_is_string(s) && strlen(json_string_value(s)) == json_string_length(s) &&
           json_string_length(s) > 0 && json_string_length(s) <= MW_TOK_MAX_BYTES;
}

static bool good_id(const json_t *j, int64_t *id) {
    if (!json_is_integer(j)) return false;
    *id = json_integer_value(j);
    return *id >= 0 && *id < MW_TOK_MAX_TOKENS;
}

static enum mw_status check_model(tj *t, mw_err *err) {
    if (!json_is_object(t->root))
        return mw_fail(err, MW_ERR_FORMAT, "tokenizer.json is not an object");
    t->model = json_object_get(t->root, "model");
    const char *type = json_string_value(json_object_get(t->model, "type"));
    if (!json_is_object(t->model) || !type)
        return mw_fail(err, MW_ERR_FORMAT, "tokenizer.json has no model with a type");
    if (strcmp(type, "BPE") != 0)
        return mw_fail(err, MW_ERR_UNSUPPORTED,
                       "tokenizer.json model type '%.40s' is not supported (only BPE is)", type);
    if (!json_is_object(json_object_get(t->model, "vocab")))
        return mw_fail(err, MW_ERR_FORMAT, "tokenizer.json: model.vocab is not an object");
    const json_t *added = json_object_get(t->root, "added_tokens");
    if (added && !json_is_array(added))
        return mw_fail(err, MW_ERR_FORMAT, "tokenizer.json: added_tokens is not an array");
    return MW_OK;
}

/* Sizes the id table: one past the largest id of the vocabulary and the added tokens. */
static enum mw_status size_ids(tj *t, mw_err *err) {
    const char *key;
    const json_t *e;
    size_t i;
    int64_t id;
    t->n = 0;
    json_object_foreach((json_t *)json_object_get(t->model, "vocab"), key, e) {
        if (!good_id(e, &id))
            return mw_fail(err, MW_ERR_FORMAT, "tokenizer.json: token '%.60s' has a bad id", key);
        if (id >= t->n) t->n = id + 1;
    }
    json_array_foreach(json_object_get(t->root, "added_tokens"), i, e) {
        if (!good_id(json_object_get(e, "id"), &id) || !good_text(json_object_get(e, "content")))
            return mw_fail(err, MW_ERR_FORMAT,
                           "tokenizer.json: added token %zu has a bad id or content", i);
        if (id >= t->n) t->n = id + 1;
    }
    if (t->n == 0) return mw_fail(err, MW_ERR_FORMAT, "tokenizer.json has no tokens");
    t->text = calloc((size_t)t->n, sizeof *t->text);
    t->added = calloc((size_t)t->n, 1);
    return t->text && t->added ? MW_OK : mw_fail(err, MW_ERR_NOMEM, "out of memory");
}

static enum mw_status fill_added(tj *t, mw_err *err) {
    const json_t *e;
    size_t i;
    int64_t id = 0;
    mw_strmap seen;
    const json_t *added = json_object_get(t->root, "added_tokens");
    if (!mw_strmap_init(&seen, json_array_size(added)))
        return mw_fail(err, MW_ERR_NOMEM, "out of memory");
    enum mw_status s = MW_OK;
    json_array_foreach(added, i, e) {
        good_id(json_object_get(e, "id"), &id);
        const char *c = json_string_value(json_object_get(e, "content"));
        if (t->added[id] || !mw_strmap_put(&seen, c, id)) {
            s = mw_fail(err, MW_ERR_FORMAT,
                        "tokenizer.json: added token %lld '%.60s' is a duplicate", (long long)id,
                        c);
            break;
        }
        t->text[id] = c; /* an added token's content wins over the vocabulary's text */
        t->added[id] = json_is_true(json_object_get(e, "special")) ? 2 : 1;
    }
    mw_strmap_free(&seen);
    return s;
}

static enum mw_status fill_ids(tj *t, mw_err *err) {
    const char *key;
    const json_t *e;
    int64_t id = 0;
    json_object_foreach((json_t *)json_object_get(t->model, "vocab"), key, e) {
        good_id(e, &id);
        if (t->text[id])
            return mw_fail(err, MW_ERR_FORMAT, "tokenizer.json: '%.40s' and '%.40s' share id %lld",
                           t->text[id], key, (long long)id);
        if (!*key || strlen(key) > MW_TOK_MAX_BYTES)
            return mw_fail(err, MW_ERR_FORMAT, "tokenizer.json: token %lld is empty or too long",
                           (long long)id);
        t->text[id] = key;
    }
    return fill_added(t, err);
}

/* One merge: "a b" or ["a", "b"]. */
static bool split_merge(const json_t *m, char **l, char **r) {
    const char *a, *b;
    size_t na;
    if (json_is_string(m)) {
        const char *s = json_string_value(m), *sp = strchr(s, ' ');
        if (!sp || strchr(sp + 1, ' ') || strlen(s) != json_string_length(m)) return false;
        a = s, na = (size_t)(sp - s), b = sp + 1;
    } else {
        if (json_array_size(m) != 2 || !good_text(json_array_get(m, 0)) ||
            !good_text(json_array_get(m, 1)))
            return false;
        a = json_string_value(json_array_get(m, 0)), na = strlen(a);
        b = json_string_value(json_array_get(m, 1));
    }
    if (na == 0 || !*b || na > MW_TOK_MAX_BYTES || strlen(b) > MW_TOK_MAX_BYTES) return false;
    *l = strndup(a, na);
    *r = strdup(b);
    return true;
}

static enum mw_status read_merges(tj *t, mw_err *err) {
    const json_t *merges = json_object_get(t->model, "merges"), *m;
    size_t i, n = json_array_size(merges);
    if (merges && !json_is_array(merges))
        return mw_fail(err, MW_ERR_FORMAT, "tokenizer.json: model.merges is not an array");
    t->left = calloc(n ? n : 1, sizeof *t->left);
    t->right = calloc(n ? n : 1, sizeof *t->right);
    if (!t->left || !t->right) return mw_fail(err, MW_ERR_NOMEM, "out of memory");
    json_array_foreach(merges, i, m) {
        if (!split_merge(m, &t->left[i], &t->right[i]))
            return mw_fail(err, MW_ERR_FORMAT, "tokenizer.json: merge %zu is not a pair of tokens",
                           i);
        t->n_merges = (int64_t)i + 1;
        if (!t->left[i] || !t->right[i]) return mw_fail(err, MW_ERR_NOMEM, "out of memory");
    }
    return MW_OK;
}

static bool is_byte_token(const char *s) {
    static const char hex[] = "0123456789ABCDEFabcdef";
    return strlen(s) == 6 && strncmp(s, "<0x", 3) == 0 && s[5] == '>' && s[3] &&
           strchr(hex, s[3]) && s[4] && strchr(hex, s[4]);
}

/* Type and GGUF text of token i. */
static enum mw_status set_token(const tj *t, mw_vocab *v, int64_t i, const char *unk, mw_err *err) {
    char pad[40];
    const char *text = t->text[i];
    snprintf(pad, sizeof pad, "[PAD%lld]", (long long)i);
    if (!text || (!t->added[i] && strcmp(text, pad) == 0)) {
        v->type[i] = MW_TOK_UNUSED;
        v->tok[i] = strdup(pad);
    } else if (t->added[i]) {
        bool control = t->added[i] == 2 || mw_tok_looks_special(text);
        v->type[i] = control ? MW_TOK_CONTROL : MW_TOK_USER_DEFINED;
        v->tok[i] = control ? strdup(text) : mw_tok_swap_space(text, true);
    } else {
        if (v->spm && is_byte_token(text))
            v->type[i] = MW_TOK_BYTE;
        else if (v->spm && unk && strcmp(text, unk) == 0)
            v->type[i] = MW_TOK_UNKNOWN;
        v->tok[i] = strdup(text);
    }
    return v->tok[i] ? MW_OK : mw_fail(err, MW_ERR_NOMEM, "out of memory");
}

/* Byte-level merges as GGUF stores them: "a b", a space inside a part written as U+0120. */
static char *gguf_merge(const char *l, const char *r) {
    size_t nl = strlen(l), nr = strlen(r), spaces = 0;
    for (const char *p = l; *p; p++)
        spaces += *p == ' ';
    for (const char *p = r; *p; p++)
        spaces += *p == ' ';
    char *m = malloc(nl + nr + spaces + 2), *o = m;
    for (int part = 0; m && part < 2; part++) {
        for (const char *p = part ? r : l; *p; p++) {
            if (*p == ' ') {
                memcpy(o, "\xc4\xa0", 2);
                o += 2;
            } else {
                *o++ = *p;
            }
        }
        *o++ = part ? 0 : ' ';
    }
    return m;
}

static enum mw_status build_vocab(tj *t, mw_vocab *v, mw_err *err) {
    const char *unk = json_string_value(json_object_get(t->model, "unk_token"));
    enum mw_status s = mw_vocab_alloc(v, t->n, v->spm, err);
    for (int64_t i = 0; !s && i < t->n; i++)
        s = set_token(t, v, i, unk, err);
    if (s) return s;
    if (v->spm) {
        char **texts = malloc((size_t)t->n * sizeof *texts);
        if (!texts) return mw_fail(err, MW_ERR_NOMEM, "out of memory");
        for (int64_t i = 0; i < t->n; i++)
            texts[i] = t->text[i] && v->type[i] != MW_TOK_UNUSED ? (char *)t->text[i] : v->tok[i];
        s = mw_spm_scores_from_merges(v, texts, t->left, t->right, t->n_merges, err);
        free(texts);
        return s;
    }
    v->merges = calloc((size_t)(t->n_merges ? t->n_merges : 1), sizeof *v->merges);
    if (!v->merges) return mw_fail(err, MW_ERR_NOMEM, "out of memory");
    for (; v->n_merges < t->n_merges; v->n_merges++)
        if (!(v->merges[v->n_merges] = gguf_merge(t->left[v->n_merges], t->right[v->n_merges])))
            return mw_fail(err, MW_ERR_NOMEM, "out of memory");
    return MW_OK;
}

static bool has_byte_level(const json_t *j) {
    const char *type = json_string_value(json_object_get(j, "type"));
    if (type && strcmp(type, "ByteLevel") == 0) return true;
    const json_t *list = json_object_get(j, "pretokenizers"), *e;
    size_t i;
    json_array_foreach(list, i, e) if (has_byte_level(e)) return true;
    return false;
}

enum mw_status mw_tokenizer_json_read(const char *path, const char *arch, mw_vocab *v,
                                      json_t **tokenizer_json, mw_err *err) {
    tj t = {0};
    mw_vocab_init(v);
    *tokenizer_json = NULL;
    enum mw_status s = mw_tok_json_load(path, &t.root, err);
    if (s || (s = check_model(&t, err)) || (s = size_ids(&t, err)) || (s = fill_ids(&t, err)) ||
        (s = read_merges(&t, err)))
        goto fail;
    v->spm = json_is_true(json_object_get(t.model, "byte_fallback"));
    if (!v->spm && !has_byte_level(json_object_get(t.root, "pre_tokenizer")) &&
        !has_byte_level(json_object_get(t.root, "decoder"))) {
        s = mw_fail(
            err, MW_ERR_UNSUPPORTED,
            "tokenizer.json: BPE without byte-level encoding or byte fallback is not supported");
        goto fail;
    }
    if ((s = build_vocab(&t, v, err))) goto fail;
    snprintf(v->pre, sizeof v->pre, "%s",
             v->spm ? "default" : mw_pre_from_json(json_object_get(t.root, "pre_tokenizer"), arch));
    tj_free(&t);
    *tokenizer_json = t.root;
    return MW_OK;
fail:
    tj_free(&t);
    json_decref(t.root);
    mw_vocab_free(v);
    return s;
}
