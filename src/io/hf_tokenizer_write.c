/* GGUF tokenizer -> tokenizer.json. SentencePiece vocabularies become a BPE model with
 * byte fallback whose merges come from the scores (as transformers converts a
 * tokenizer.model), with the U+2581 space replacement; byte-level vocabularies become a
 * BPE model with the GGUF's merges and the pre-tokenizer llama.cpp applies for
 * tokenizer.ggml.pre. Control tokens are special added tokens, user-defined ones
 * non-special added tokens. */
#include "core/err.h"
#include "core/strmap.h"
#include "io/hf_tokenizer.h"

#include <stdlib.h>
#include <string.h>

#define META "\xe2\x96\x81" /* U+2581 */

/* Token texts as tokenizer.json spells them: llama.cpp stores SentencePiece user-defined
 * tokens with plain spaces, the Hugging Face side with U+2581. */
static char **hf_texts(const mw_vocab *v) {
    char **t = calloc((size_t)v->n, sizeof *t);
    for (int64_t i = 0; t && i < v->n; i++) {
        t[i] = v->spm && v->type[i] == MW_TOK_USER_DEFINED ? mw_tok_swap_space(v->tok[i], false)
                                                           : strdup(v->tok[i]);
        if (!t[i]) {
            for (int64_t j = 0; j < i; j++)
                free(t[j]);
            free(t);
            return NULL;
        }
    }
    return t;
}

static void free_texts(char **t, int64_t n) {
    for (int64_t i = 0; t && i < n; i++)
        free(t[i]);
    free(t);
}

static bool is_added(const mw_vocab *v, int64_t i) {
    return v->type[i] == MW_TOK_CONTROL || v->type[i] == MW_TOK_USER_DEFINED;
}

static void put_added_tokens(const mw_vocab *v, char *const *texts, mw_buf *b) {
    bool first = true;
    mw_buf_puts(b, "\"added_tokens\":[");
    for (int64_t i = 0; i < v->n; i++) {
        if (!is_added(v, i)) continue;
        char head[64];
        snprintf(head, sizeof head, "%s\n{\"id\":%lld,\"content\":", first ? "" : ",",
                 (long long)i);
        mw_buf_puts(b, head);
        mw_buf_json_str(b, texts[i]);
        mw_buf_puts(b, ",\"single_word\":false,\"lstrip\":false,\"rstrip\":false,"
                       "\"normalized\":false,\"special\":");
        mw_buf_puts(b, v->type[i] == MW_TOK_CONTROL ? "true}" : "false}");
        first = false;
    }
    mw_buf_puts(b, "],\n");
}

static json_t *special_entry(const char *text, int64_t id) {
    return json_pack("{s:s, s:[I], s:[s]}", "id", text, "ids", (json_int_t)id, "tokens", text);
}

/* BOS/EOS around each sequence, as transformers lays the template out. */
static json_t *template_processing(const mw_vocab *v, char *const *texts) {
    int64_t bos = v->add_bos == 1 ? v->special[MW_SP_BOS] : -1;
    int64_t eos = v->add_eos == 1 ? v->special[MW_SP_EOS] : -1;
    if (bos < 0 && eos < 0) return json_null();
    json_t *single = json_array(), *pair = json_array(), *sp = json_object();
    for (int seq = 0; seq < 2; seq++) {
        const char *name = seq ? "B" : "A";
        if (bos >= 0) {
            json_t *e =
                json_pack("{s:{s:s, s:i}}", "SpecialToken", "id", texts[bos], "type_id", seq);
            if (!seq) json_array_append(single, e);
            json_array_append_new(pair, e);
        }
        json_t *e = json_pack("{s:{s:s, s:i}}", "Sequence", "id", name, "type_id", seq);
        if (!seq) json_array_append(single, e);
        json_array_append_new(pair, e);
        if (eos >= 0) {
            e = json_pack("{s:{s:s, s:i}}", "SpecialToken", "id", texts[eos], "type_id", seq);
            if (!seq) json_array_append(single, e);
            json_array_append_new(pair, e);
        }
    }
    if (bos >= 0) json_object_set_new(sp, texts[bos], special_entry(texts[bos], bos));
    if (eos >= 0) json_object_set_new(sp, texts[eos], special_entry(texts[eos], eos));
    return json_pack("{s:s, s:o, s:o, s:o}", "type", "TemplateProcessing", "single", single, "pair",
                     pair, "special_tokens", sp);
}

static json_t *spm_normalizer(bool prefix) {
    json_t *replace = json_pack("{s:s, s:{s:s}, s:s}", "type", "Replace", "pattern", "String", " ",
                                "content", META);
    if (!prefix) return replace;
    return json_pack("{s:s, s:[{s:s, s:s}, o]}", "type", "Sequence", "normalizers", "type",
                     "Prepend", "prepend", META, replace);
}

static json_t *spm_decoder(bool prefix) {
    json_t *d = json_pack("{s:s, s:[{s:s, s:{s:s}, s:s}, {s:s}, {s:s}]}", "type", "Sequence",
                          "decoders", "type", "Replace", "pattern", "String", META, "content", " ",
                          "type", "ByteFallback", "type", "Fuse");
    if (d && prefix)
        json_array_append_new(json_object_get(d, "decoders"),
                              json_pack("{s:s, s:s, s:i, s:i}", "type", "Strip", "content", " ",
                                        "start", 1, "stop", 0));
    return d;
}

/* normalizer, pre_tokenizer, post_processor and decoder, in one object. */
static enum mw_status pipeline(const mw_vocab *v, char *const *texts, json_t **out,
                               bool *ignore_merges, mw_err *err) {
    bool nfc = false;
    *ignore_merges = false;
    if (v->spm) {
        bool prefix = v->add_space_prefix != 0; /* llama.cpp's default when absent */
        *out = json_pack("{s:o, s:n, s:o, s:o}", "normalizer", spm_normalizer(prefix),
                         "pre_tokenizer", "post_processor", template_processing(v, texts),
                         "decoder", spm_decoder(prefix));
    } else {
        /* llama.cpp uses its default regexes when the GGUF names none */
        json_t *pre = mw_pre_tokenizer_json(v->pre[0] ? v->pre : "default", &nfc, ignore_merges);
        if (!pre)
            return mw_fail(err, MW_ERR_UNSUPPORTED,
                           "pre-tokenizer '%s' is not supported (gpt-2, smollm, starcoder, "
                           "llama-bpe, qwen2, default and a few aliases are)",
                           v->pre);
        *out = json_pack("{s:o, s:o, s:o, s:{s:s, s:b, s:b, s:b}}", "normalizer",
                         nfc ? json_pack("{s:s}", "type", "NFC") : json_null(), "pre_tokenizer",
                         pre, "post_processor", template_processing(v, texts), "decoder", "type",
                         "ByteLevel", "add_prefix_space", 1, "trim_offsets", 1, "use_regex", 1);
    }
    return *out ? MW_OK : mw_fail(err, MW_ERR_NOMEM, "out of memory");
}

static void put_vocab(const mw_vocab *v, char *const *texts, mw_buf *b) {
    mw_buf_puts(b, "\"vocab\":{");
    for (int64_t i = 0; i < v->n; i++) {
        char id[32];
        mw_buf_puts(b, i ? ",\n" : "\n");
        mw_buf_json_str(b, texts[i]);
        snprintf(id, sizeof id, ":%lld", (long long)i);
        mw_buf_puts(b, id);
    }
    mw_buf_puts(b, "},\n\"merges\":[");
}

static void put_pair(mw_buf *b, bool first, const char *l, size_t nl, const char *r) {
    mw_buf_puts(b, first ? "\n[" : ",\n[");
    char *tmp = strndup(l, nl);
    if (!tmp) {
        b->oom = true;
        return;
    }
    mw_buf_json_str(b, tmp);
    free(tmp);
    mw_buf_puts(b, ",");
    mw_buf_json_str(b, r);
    mw_buf_puts(b, "]");
}

/* A byte-level merge "a b": a, b and ab must all be tokens for tokenizers to load it. */
static enum mw_status put_gguf_merges(const mw_vocab *v, mw_buf *b, mw_err *err) {
    mw_strmap map;
    char *ab = malloc(2 * MW_TOK_MAX_BYTES + 1);
    enum mw_status s = MW_OK;
    if (!ab || !mw_strmap_init(&map, (uint64_t)v->n)) {
        free(ab);
        return mw_fail(err, MW_ERR_NOMEM, "out of memory");
    }
    for (int64_t i = 0; i < v->n && !s; i++)
        if (!mw_strmap_put(&map, v->tok[i], i))
            s = mw_fail(err, MW_ERR_UNSUPPORTED, "token %lld '%.60s' appears twice", (long long)i,
                        v->tok[i]);
    for (int64_t m = 0; m < v->n_merges && !s; m++) {
        const char *text = v->merges[m], *sp = strchr(text, ' ');
        size_t nl = sp ? (size_t)(sp - text) : 0;
        if (sp) {
            memcpy(ab, text, nl);
            strcpy(ab + nl, sp + 1);
        }
        if (!sp || strchr(sp + 1, ' ') || mw_strmap_get(&map, sp + 1) < 0 ||
            mw_strmap_get(&map, ab) < 0 || (ab[nl] = 0, mw_strmap_get(&map, ab) < 0))
            s = mw_fail(err, MW_ERR_FORMAT,
                        "merge %lld '%.60s' is not two tokens of the vocabulary", (long long)m,
                        text);
        else
            put_pair(b, m == 0, text, nl, sp + 1);
    }
    mw_strmap_free(&map);
    free(ab);
    return s;
}

static enum mw_status put_spm_merges(const mw_vocab *v, char *const *texts, mw_buf *b,
                                     mw_err *err) {
    int64_t *pairs, n;
    enum mw_status s = mw_spm_merges(v, texts, &pairs, &n, err);
    if (s) return s;
    for (int64_t i = 0; i < n; i++) {
        const char *l = texts[pairs[2 * i]];
        put_pair(b, i == 0, l, strlen(l), texts[pairs[2 * i + 1]]);
    }
    free(pairs);
    return MW_OK;
}

static void put_model_head(const mw_vocab *v, char *const *texts, bool ignore_merges, mw_buf *b) {
    int64_t unk = v->special[MW_SP_UNK];
    mw_buf_puts(b, "\"model\":{\"type\":\"BPE\",\"dropout\":null,\"unk_token\":");
    if (v->spm && unk >= 0)
        mw_buf_json_str(b, texts[unk]);
    else
        mw_buf_puts(b, "null");
    if (v->spm)
        mw_buf_puts(b, ",\"continuing_subword_prefix\":null,\"end_of_word_suffix\":null,"
                       "\"fuse_unk\":true,\"byte_fallback\":true");
    else
        mw_buf_puts(b, ",\"continuing_subword_prefix\":\"\",\"end_of_word_suffix\":\"\","
                       "\"fuse_unk\":false,\"byte_fallback\":false");
    mw_buf_puts(b, ignore_merges ? ",\"ignore_merges\":true,\n" : ",\"ignore_merges\":false,\n");
    put_vocab(v, texts, b);
}

enum mw_status mw_tokenizer_json_build(const mw_vocab *v, mw_buf *out, mw_err *err) {
    json_t *pipe = NULL;
    bool ignore_merges;
    char **texts = hf_texts(v);
    enum mw_status s = texts ? pipeline(v, texts, &pipe, &ignore_merges, err)
                             : mw_fail(err, MW_ERR_NOMEM, "out of memory");
    if (s) goto fail;
    mw_buf_puts(out, "{\"version\":\"1.0\",\"truncation\":null,\"padding\":null,\n");
    put_added_tokens(v, texts, out);
    const char *parts[] = {"normalizer", "pre_tokenizer", "post_processor", "decoder"};
    for (size_t i = 0; i < 4; i++) {
        mw_buf_puts(out, "\"");
        mw_buf_puts(out, parts[i]);
        mw_buf_puts(out, "\":");
        mw_buf_json(out, json_object_get(pipe, parts[i]));
        mw_buf_puts(out, ",\n");
    }
    put_model_head(v, texts, ignore_merges, out);
    s = v->spm ? put_spm_merges(v, texts, out, err) : put_gguf_merges(v, out, err);
    mw_buf_puts(out, "]}}\n");
    if (!s && out->oom) s = mw_fail(err, MW_ERR_NOMEM, "out of memory");
fail:
    json_decref(pipe);
    free_texts(texts, v->n);
    return s;
}
