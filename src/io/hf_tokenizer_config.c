/* tokenizer_config.json both ways, and the special tokens and flags llama.cpp's converter
 * (gguf-py's SpecialVocab) reads from tokenizer_config.json, tokenizer.json and
 * config.json. Two keys of ours carry what Hugging Face files cannot say:
 * "mwanda.gguf.pre" (tokenizer.ggml.pre) and "mwanda.gguf.add_space_prefix". */
#include "core/err.h"
#include "io/hf_tokenizer.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *tokenizer_class(const mw_vocab *v, const char *arch) {
    if (v->spm) return strncmp(arch, "gemma", 5) == 0 ? "GemmaTokenizer" : "LlamaTokenizer";
    return strncmp(arch, "qwen", 4) == 0 ? "Qwen2Tokenizer" : "PreTrainedTokenizerFast";
}

static json_t *text_of(const mw_vocab *v, int64_t i) {
    char *t = v->spm && v->type[i] == MW_TOK_USER_DEFINED ? mw_tok_swap_space(v->tok[i], false)
                                                          : strdup(v->tok[i]);
    json_t *j = t ? json_string(t) : NULL;
    free(t);
    return j;
}

static json_t *added_decoder(const mw_vocab *v) {
    json_t *d = json_object();
    for (int64_t i = 0; d && i < v->n; i++) {
        if (v->type[i] != MW_TOK_CONTROL && v->type[i] != MW_TOK_USER_DEFINED) continue;
        char key[24];
        snprintf(key, sizeof key, "%lld", (long long)i);
        json_t *e = json_pack("{s:o, s:b, s:b, s:b, s:b, s:b}", "content", text_of(v, i), "lstrip",
                              0, "normalized", 0, "rstrip", 0, "single_word", 0, "special",
                              v->type[i] == MW_TOK_CONTROL);
        if (!e || json_object_set_new(d, key, e)) {
            json_decref(d);
            return NULL;
        }
    }
    return d;
}

enum mw_status mw_tokenizer_config_build(const mw_vocab *v, const mw_gguf *g, mw_buf *out,
                                         mw_err *err) {
    const char *arch = mw_gguf_kv_str(mw_gguf_find_kv(g, "general.architecture"));
    const char *flags[3] = {"add_bos_token", "add_eos_token", "add_sep_token"};
    const int8_t vals[3] = {v->add_bos, v->add_eos, v->add_sep};
    json_t *c = json_object(), *dec = added_decoder(v);
    bool ok = c && dec && !json_object_set_new(c, "added_tokens_decoder", dec);
    for (int i = 0; ok && i < 3; i++)
        if (vals[i] >= 0) ok = !json_object_set_new(c, flags[i], json_boolean(vals[i]));
    for (int i = 0; ok && i < MW_SP_COUNT; i++) {
        char key[32];
        snprintf(key, sizeof key, "%s_token", MW_SPECIAL_HF[i]);
        if (v->special[i] >= 0) ok = !json_object_set_new(c, key, text_of(v, v->special[i]));
    }
    if (ok && v->chat_template)
        ok = !json_object_set_new(c, "chat_template", json_string(v->chat_template));
    char key[96];
    int64_t ctx;
    snprintf(key, sizeof key, "%.60s.context_length", arch ? arch : "");
    if (ok && mw_gguf_kv_int(mw_gguf_find_kv(g, key), &ctx) && ctx > 0)
        ok = !json_object_set_new(c, "model_max_length", json_integer(ctx));
    ok = ok && !json_object_set_new(c, "clean_up_tokenization_spaces", json_false()) &&
         !json_object_set_new(c, "tokenizer_class",
                              json_string(tokenizer_class(v, arch ? arch : "")));
    if (ok && v->pre[0]) ok = !json_object_set_new(c, "mwanda.gguf.pre", json_string(v->pre));
    if (ok && v->add_space_prefix >= 0)
        ok = !json_object_set_new(c, "mwanda.gguf.add_space_prefix",
                                  json_boolean(v->add_space_prefix));
    char *text = ok ? json_dumps(c, JSON_INDENT(2) | JSON_SORT_KEYS) : NULL;
    json_decref(c);
    if (!text) return mw_fail(err, MW_ERR_NOMEM, "out of memory");
    mw_buf_puts(out, text);
    mw_buf_puts(out, "\n");
    free(text);
    return out->oom ? mw_fail(err, MW_ERR_NOMEM, "out of memory") : MW_OK;
}

/* ---- reading ---------------------------------------------------------- */

/* An integer, also when a file with huge numbers was read with every number as a real. */
static bool json_int(const json_t *j, int64_t *out) {
    if (json_is_integer(j)) {
        *out = json_integer_value(j);
        return true;
    }
    double d = json_real_value(j);
    if (!json_is_real(j) || d != floor(d) || fabs(d) > 9e15) return false;
    *out = (int64_t)d;
    return true;
}

static const char *entry_content(const json_t *e) {
    return json_is_string(e) ? json_string_value(e)
                             : json_string_value(json_object_get(e, "content"));
}

/* The id of a special token's text: the first added token with that content (as
 * SpecialVocab does), else the first vocabulary token with that text. */
static int64_t id_of(const mw_vocab *v, const json_t *tok_json, const char *content) {
    const json_t *added = json_object_get(tok_json, "added_tokens");
    size_t i;
    const json_t *a;
    int64_t id;
    json_array_foreach(added, i, a) {
        const char *c = json_string_value(json_object_get(a, "content"));
        if (c && strcmp(c, content) == 0 && json_int(json_object_get(a, "id"), &id)) return id;
    }
    for (id = 0; id < v->n; id++)
        if (strcmp(v->tok[id], content) == 0) return id;
    return -1;
}

static void read_special_ids(mw_vocab *v, const json_t *tok_json, const json_t *tconfig,
                             const json_t *config) {
    for (int i = 0; i < MW_SP_COUNT; i++) {
        char key[32];
        int64_t id = -1;
        snprintf(key, sizeof key, "%s_token", MW_SPECIAL_HF[i]);
        const char *content = entry_content(json_object_get(tconfig, key));
        if (content) id = id_of(v, tok_json, content);
        snprintf(key, sizeof key, "%s_token_id", MW_SPECIAL_HF[i]);
        const json_t *c = json_object_get(config, key);
        if (!c) c = json_object_get(json_object_get(config, "text_config"), key);
        if (id < 0 && !json_int(c, &id)) id = -1;
        /* ids outside the vocabulary are skipped, as llama.cpp's converter does */
        v->special[i] = id >= 0 && id < v->n ? id : -1;
    }
}

static const char *special_id(const json_t *e) {
    return json_string_value(json_object_get(json_object_get(e, "SpecialToken"), "id"));
}

/* llama.cpp's reading of the post-processor: a template that starts with the BOS token
 * adds it, one that ends with the EOS token adds that. */
static void read_template(mw_vocab *v, const json_t *tok_json, const json_t *tconfig) {
    const json_t *pp = json_object_get(tok_json, "post_processor");
    const json_t *list = json_object_get(pp, "processors"), *p;
    const char *bos = entry_content(json_object_get(tconfig, "bos_token"));
    const char *eos = entry_content(json_object_get(tconfig, "eos_token"));
    size_t i;
    if (!list) list = pp;
    for (i = 0; i < (json_is_array(list) ? json_array_size(list) : 1); i++) {
        p = json_is_array(list) ? json_array_get(list, i) : list;
        const char *type = json_string_value(json_object_get(p, "type"));
        if (type && strcmp(type, "RobertaProcessing") == 0) {
            v->add_bos = v->add_eos = v->add_sep = 1;
            continue;
        }
        const json_t *single = json_object_get(p, "single");
        if (!type || strcmp(type, "TemplateProcessing") != 0 || json_array_size(single) < 2)
            continue;
        const char *first = special_id(json_array_get(single, 0));
        const char *last = special_id(json_array_get(single, json_array_size(single) - 1));
        if (first) v->add_bos = (bos ? strcmp(first, bos) == 0 : !tconfig);
        if (last) v->add_eos = (eos ? strcmp(last, eos) == 0 : !tconfig);
    }
}

static enum mw_status read_flags(mw_vocab *v, const json_t *tconfig, mw_err *err) {
    const char *keys[3] = {"add_bos_token", "add_eos_token", "add_sep_token"};
    int8_t *vals[3] = {&v->add_bos, &v->add_eos, &v->add_sep};
    for (int i = 0; i < 3; i++) {
        const json_t *b = json_object_get(tconfig, keys[i]);
        if (json_is_boolean(b)) *vals[i] = json_is_true(b);
    }
    const json_t *pre = json_object_get(tconfig, "mwanda.gguf.pre");
    const json_t *prefix = json_object_get(tconfig, "mwanda.gguf.add_space_prefix");
    if (pre && (!json_is_string(pre) || json_string_length(pre) >= sizeof v->pre ||
                strlen(json_string_value(pre)) != json_string_length(pre)))
        return mw_fail(err, MW_ERR_FORMAT, "tokenizer_config.json: bad \"mwanda.gguf.pre\"");
    if (prefix && !json_is_boolean(prefix))
        return mw_fail(err, MW_ERR_FORMAT,
                       "tokenizer_config.json: \"mwanda.gguf.add_space_prefix\" must be a bool");
    if (pre) snprintf(v->pre, sizeof v->pre, "%s", json_string_value(pre));
    if (prefix) v->add_space_prefix = json_is_true(prefix);
    return MW_OK;
}

static enum mw_status load_text(const char *path, char **out, mw_err *err) {
    FILE *f = fopen(path, "rb");
    *out = NULL;
    if (!f) return MW_OK; /* an optional file */
    mw_buf b = {0};
    char chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0 && b.len < (64u << 20))
        mw_buf_put(&b, chunk, n);
    bool bad = ferror(f) || b.len >= (64u << 20);
    fclose(f);
    if (b.oom || bad) {
        free(b.data);
        return b.oom ? mw_fail(err, MW_ERR_NOMEM, "out of memory")
                     : mw_fail(err, MW_ERR_IO, "cannot read %s (or larger than 64 MiB)", path);
    }
    *out = b.data ? b.data : strdup("");
    return *out ? MW_OK : mw_fail(err, MW_ERR_NOMEM, "out of memory");
}

/* tokenizer_config.json's chat_template (a string, or a list of named templates of which
 * "default" is taken), else chat_template.jinja, else chat_template.json. */
static enum mw_status read_chat_template(mw_vocab *v, const char *dir, const json_t *tconfig,
                                         mw_err *err) {
    const json_t *t = json_object_get(tconfig, "chat_template"), *e;
    size_t i;
    char path[4096];
    json_t *alt = NULL;
    if (json_is_array(t)) {
        json_array_foreach(t, i, e) {
            const char *name = json_string_value(json_object_get(e, "name"));
            if (name && strcmp(name, "default") == 0) t = json_object_get(e, "template");
        }
    }
    if (!t) {
        snprintf(path, sizeof path, "%s/chat_template.jinja", dir);
        enum mw_status s = load_text(path, &v->chat_template, err);
        if (s || v->chat_template) return s;
        snprintf(path, sizeof path, "%s/chat_template.json", dir);
        FILE *f = fopen(path, "rb");
        if (f) fclose(f);
        if (f && (s = mw_tok_json_load(path, &alt, err))) return s;
        t = json_object_get(alt, "chat_template");
    }
    const char *s = json_string_value(t);
    if (s && strlen(s) == json_string_length(t) && !(v->chat_template = strdup(s))) {
        json_decref(alt);
        return mw_fail(err, MW_ERR_NOMEM, "out of memory");
    }
    json_decref(alt);
    return MW_OK;
}

enum mw_status mw_hf_read_specials(mw_vocab *v, const char *dir, const json_t *tok_json,
                                   const json_t *tconfig, const json_t *config, mw_err *err) {
    if (tconfig && !json_is_object(tconfig))
        return mw_fail(err, MW_ERR_FORMAT, "tokenizer_config.json is not an object");
    if (config && !json_is_object(config))
        return mw_fail(err, MW_ERR_FORMAT, "config.json is not an object");
    read_special_ids(v, tok_json, tconfig, config);
    read_template(v, tok_json, tconfig);
    enum mw_status s = read_flags(v, tconfig, err);
    return s ? s : read_chat_template(v, dir, tconfig, err);
}

/* Sets token `id` to text as llama.cpp's SentencePiece path does for added tokens: control
 * when special or special-looking, else user-defined with U+2581 turned into spaces. */
static enum mw_status set_added(mw_vocab *v, int64_t id, const char *text, bool special,
                                mw_err *err) {
    bool control = special || mw_tok_looks_special(text);
    char *t = control ? strdup(text) : mw_tok_swap_space(text, true);
    if (!t) return mw_fail(err, MW_ERR_NOMEM, "out of memory");
    free(v->tok[id]);
    v->tok[id] = t;
    v->type[id] = control ? MW_TOK_CONTROL : MW_TOK_USER_DEFINED;
    v->score[id] = -1000.0f;
    return MW_OK;
}

static bool parse_id(const char *key, int64_t *id) {
    char *end;
    long long x = strtoll(key, &end, 10);
    if (!*key || *end || x < 0) return false;
    *id = x;
    return true;
}

enum mw_status mw_spm_apply_added(mw_vocab *v, const json_t *tconfig, const json_t *added_json,
                                  mw_err *err) {
    const char *key;
    const json_t *e;
    enum mw_status s;
    int64_t id;
    /* added_tokens.json: text -> id, user-defined */
    json_object_foreach((json_t *)added_json, key, e) {
        if (!json_int(e, &id) || id < 0)
            return mw_fail(err, MW_ERR_FORMAT, "added_tokens.json: bad id for '%.60s'", key);
        if (id < v->n && strlen(key) <= MW_TOK_MAX_BYTES) {
            char *t = strdup(key);
            if (!t) return mw_fail(err, MW_ERR_NOMEM, "out of memory");
            free(v->tok[id]);
            v->tok[id] = t;
            v->type[id] = MW_TOK_USER_DEFINED;
            v->score[id] = -1000.0f;
        }
    }
    const json_t *dec = json_object_get(tconfig, "added_tokens_decoder");
    if (dec && !json_is_object(dec))
        return mw_fail(err, MW_ERR_FORMAT,
                       "tokenizer_config.json: added_tokens_decoder is not an object");
    json_object_foreach((json_t *)dec, key, e) {
        const json_t *c = json_object_get(e, "content");
        if (!parse_id(key, &id) || !json_is_string(c) ||
            strlen(json_string_value(c)) != json_string_length(c) ||
            json_string_length(c) > MW_TOK_MAX_BYTES)
            return mw_fail(err, MW_ERR_FORMAT,
                           "tokenizer_config.json: added_tokens_decoder entry '%.40s' is malformed",
                           key);
        if (id >= v->n) continue; /* ignored, as llama.cpp does */
        if ((s = set_added(v, id, json_string_value(c), json_is_true(json_object_get(e, "special")),
                           err)))
            return s;
    }
    return MW_OK;
}
