/* A tokenizer.json as Hugging Face tokenizers reads it: the BPE model's vocabulary, merges
 * and options, the added tokens with their matching options, normalizer, pre-tokenizer,
 * decoder, and the post-processor's tokens around a single text. The file is parsed once
 * by mw_tokenizer_json_read (io/), which also gives the GGUF view of the vocabulary. */
#include "core/err.h"
#include "tok/tok.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static enum mw_status fill_texts(mw_tokenizer *t, const json_t *model, mw_err *err) {
    const char *key;
    const json_t *e;
    t->text = calloc((size_t)t->n, sizeof *t->text);
    t->tlen = calloc((size_t)t->n, sizeof *t->tlen);
    t->kind = malloc((size_t)t->n);
    if (!t->text || !t->tlen || !t->kind) return mw_fail(err, MW_ERR_NOMEM, "out of memory");
    memset(t->kind, TK_UNUSED, (size_t)t->n);
    if (!tok_map_init(&t->vocab, t->n, t->text, t->tlen))
        return mw_fail(err, MW_ERR_NOMEM, "out of memory");
    /* ids and texts were checked by mw_tokenizer_json_read */
    json_object_foreach((json_t *)json_object_get(model, "vocab"), key, e) {
        int32_t id = (int32_t)json_integer_value(e);
        t->text[id] = key;
        t->tlen[id] = (uint32_t)strlen(key);
        t->kind[id] = TK_NORMAL;
        tok_map_put(&t->vocab, id);
    }
    return MW_OK;
}

/* Added tokens: their content is what they match and decode to. */
static enum mw_status fill_added(mw_tokenizer *t, mw_err *err) {
    const json_t *list = json_object_get(t->json, "added_tokens"), *e;
    size_t i;
    t->added = calloc(json_array_size(list) + 1, sizeof *t->added);
    if (!t->added) return mw_fail(err, MW_ERR_NOMEM, "out of memory");
    json_array_foreach(list, i, e) {
        tok_added *a = &t->added[t->n_added++];
        a->id = (int32_t)json_integer_value(json_object_get(e, "id"));
        a->special = json_is_true(json_object_get(e, "special"));
        a->lstrip = json_is_true(json_object_get(e, "lstrip"));
        a->rstrip = json_is_true(json_object_get(e, "rstrip"));
        a->single_word = json_is_true(json_object_get(e, "single_word"));
        /* tokenizers' default: normalized unless special */
        const json_t *nz = json_object_get(e, "normalized");
        a->normalized = json_is_boolean(nz) ? json_is_true(nz) : !a->special;
        t->text[a->id] = json_string_value(json_object_get(e, "content"));
        t->tlen[a->id] = (uint32_t)strlen(t->text[a->id]);
        t->kind[a->id] = a->special ? TK_CONTROL : TK_USER;
    }
    return MW_OK;
}

/* One merge: "a b" or ["a", "b"] (checked by mw_tokenizer_json_read). */
static enum mw_status add_merge(mw_tokenizer *t, const json_t *m, int32_t rank, tok_str *cat,
                                mw_err *err) {
    const char *a, *b;
    size_t na, nb;
    if (json_is_string(m)) {
        a = json_string_value(m);
        b = strchr(a, ' ') + 1;
        na = (size_t)(b - 1 - a);
    } else {
        a = json_string_value(json_array_get(m, 0));
        b = json_string_value(json_array_get(m, 1));
        na = strlen(a);
    }
    nb = strlen(b);
    cat->n = 0;
    if (!tok_str_put(cat, a, na) || !tok_str_put(cat, b, nb))
        return mw_fail(err, MW_ERR_NOMEM, "out of memory");
    int32_t l = tok_map_get(&t->vocab, a, na), r = tok_map_get(&t->vocab, b, nb);
    int32_t id = tok_map_get(&t->vocab, cat->s, cat->n);
    if (l < 0 || r < 0 || id < 0)
        return mw_fail(err, MW_ERR_FORMAT, "merge %ld '%.40s' + '%.40s' is not made of tokens",
                       (long)rank, a, b);
    pair_map_put(&t->merges, l, r, rank, id);
    return MW_OK;
}

static enum mw_status model_options(mw_tokenizer *t, const json_t *model, mw_err *err) {
    const char *pre = json_string_value(json_object_get(model, "continuing_subword_prefix"));
    const char *suf = json_string_value(json_object_get(model, "end_of_word_suffix"));
    const json_t *dropout = json_object_get(model, "dropout");
    if ((pre && *pre) || (suf && *suf))
        return mw_fail(err, MW_ERR_UNSUPPORTED, "BPE with a subword prefix or word suffix");
    if (dropout && !json_is_null(dropout) && json_number_value(dropout) != 0.0)
        return mw_fail(err, MW_ERR_UNSUPPORTED, "BPE with dropout");
    t->byte_fallback = json_is_true(json_object_get(model, "byte_fallback"));
    t->fuse_unk = json_is_true(json_object_get(model, "fuse_unk"));
    t->ignore_merges = json_is_true(json_object_get(model, "ignore_merges"));
    const char *unk = json_string_value(json_object_get(model, "unk_token"));
    t->unk = unk ? tok_map_get(&t->vocab, unk, strlen(unk)) : -1;
    return MW_OK;
}

static enum mw_status read_merges(mw_tokenizer *t, const json_t *model, mw_err *err) {
    const json_t *merges = json_object_get(model, "merges"), *m;
    size_t i;
    tok_str cat = {0};
    enum mw_status s = MW_OK;
    if (json_array_size(merges) > INT32_MAX)
        return mw_fail(err, MW_ERR_UNSUPPORTED, "too many merges");
    if (!pair_map_init(&t->merges, (int64_t)json_array_size(merges)))
        return mw_fail(err, MW_ERR_NOMEM, "out of memory");
    json_array_foreach(merges, i, m) {
        if ((s = add_merge(t, m, (int32_t)i, &cat, err))) break;
    }
    tok_str_free(&cat);
    return s;
}

/* The ids a post-processor puts around a single text. */
/* The one id of a template's special token, -1 when not one id of this vocabulary. */
static int32_t special_id(const mw_tokenizer *t, const json_t *specials, const char *name) {
    const json_t *ids = json_object_get(json_object_get(specials, name), "ids");
    json_int_t id = json_integer_value(json_array_get(ids, 0));
    return json_array_size(ids) == 1 && id >= 0 && id < t->n ? (int32_t)id : -1;
}

static void template_ids(mw_tokenizer *t, const json_t *pp) {
    const json_t *single = json_object_get(pp, "single"), *e;
    const json_t *specials = json_object_get(pp, "special_tokens");
    size_t i;
    bool after = false;
    json_array_foreach(single, i, e) {
        if (json_object_get(e, "Sequence")) {
            after = true;
            continue;
        }
        const char *name =
            json_string_value(json_object_get(json_object_get(e, "SpecialToken"), "id"));
        int32_t id = name ? special_id(t, specials, name) : -1;
        if (id < 0) continue;
        if (!after && t->n_prefix < 4) t->prefix[t->n_prefix++] = id;
        if (after && t->n_suffix < 4) t->suffix[t->n_suffix++] = id;
    }
}

static void post_processor(mw_tokenizer *t, const json_t *pp, int depth) {
    const char *type = json_string_value(json_object_get(pp, "type"));
    if (!type || depth > 4) return;
    if (strcmp(type, "TemplateProcessing") == 0) template_ids(t, pp);
    if (strcmp(type, "RobertaProcessing") == 0 || strcmp(type, "BertProcessing") == 0) {
        const json_t *cls = json_array_get(json_object_get(pp, "cls"), 1);
        const json_t *sep = json_array_get(json_object_get(pp, "sep"), 1);
        json_int_t c = json_integer_value(cls), e = json_integer_value(sep);
        if (json_is_integer(cls) && c >= 0 && c < t->n && t->n_prefix < 4)
            t->prefix[t->n_prefix++] = (int32_t)c;
        if (json_is_integer(sep) && e >= 0 && e < t->n && t->n_suffix < 4)
            t->suffix[t->n_suffix++] = (int32_t)e;
    }
    if (strcmp(type, "Sequence") == 0) {
        const json_t *e;
        size_t i;
        json_array_foreach(json_object_get(pp, "processors"), i, e) post_processor(t, e, depth + 1);
    }
}

/* BOS / EOS ids: tokenizer_config.json next to the file when there is one, else the
 * post-processor's. */
static enum mw_status special_ids(mw_tokenizer *t, const char *path, mw_err *err) {
    char dir[4096], cfg[4200];
    struct stat st;
    json_t *tconfig = NULL;
    const char *slash = strrchr(path, '/');
    snprintf(dir, sizeof dir, "%.*s", slash ? (int)(slash - path) : 1, slash ? path : ".");
    snprintf(cfg, sizeof cfg, "%s/tokenizer_config.json", dir);
    enum mw_status s = MW_OK;
    if (stat(cfg, &st) == 0 && (s = mw_tok_json_load(cfg, &tconfig, err))) return s;
    s = mw_hf_read_specials(&t->v, dir, t->json, tconfig, NULL, err);
    if (tconfig) json_decref(tconfig);
    if (s) return s;
    int64_t bos = t->v.special[MW_SP_BOS], eos = t->v.special[MW_SP_EOS];
    t->bos = bos >= 0 && bos < t->n ? (int32_t)bos : t->n_prefix ? t->prefix[0] : -1;
    t->eos = eos >= 0 && eos < t->n ? (int32_t)eos : t->n_suffix ? t->suffix[t->n_suffix - 1] : -1;
    return MW_OK;
}

enum mw_status tok_setup_json(mw_tokenizer *t, const char *path, mw_err *err) {
    const json_t *model = json_object_get(t->json, "model");
    enum mw_status s;
    t->hf = true;
    t->n = t->v.n;
    t->split_rule = SPLIT_LEFTMOST;
    if (t->n > INT32_MAX) return mw_fail(err, MW_ERR_UNSUPPORTED, "vocabulary too large");
    if ((s = fill_texts(t, model, err)) || (s = model_options(t, model, err)) ||
        (s = read_merges(t, model, err)) || (s = fill_added(t, err)))
        return s;
    if ((s = tok_norm_from_json(json_object_get(t->json, "normalizer"), &t->norm, err)) ||
        (s = tok_pretok_from_json(json_object_get(t->json, "pre_tokenizer"), &t->pre, err)) ||
        (s = tok_decoder_from_json(json_object_get(t->json, "decoder"), &t->dec, err)))
        return s;
    post_processor(t, json_object_get(t->json, "post_processor"), 0);
    if ((s = special_ids(t, path, err))) return s;
    return tok_finish(t, err);
}
