/* The public tokenizer: opening one from a GGUF file, a tokenizer.json or a model, and the
 * encode pipeline shared by both kinds (added tokens first, then the text between them). */
#include "core/err.h"
#include "model/model.h"
#include "tok/tok.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

void mw_tokenizer_free(mw_tokenizer *t) {
    if (!t) return;
    tok_map_free(&t->vocab);
    pair_map_free(&t->merges);
    tok_norm_free(t->norm);
    tok_pretok_free(t->pre);
    tok_decoder_free(t->dec);
    tok_trie_free(&t->trie);
    tok_trie_free(&t->trie_norm);
    tok_str_free(&t->norm_texts);
    tok_spans_free(&t->norm_spans);
    free(t->added);
    free(t->text);
    free(t->tlen);
    free(t->kind);
    mw_vocab_free(&t->v);
    if (t->json) json_decref(t->json);
    free(t);
}

static int added_order(const void *pa, const void *pb, void *ctx) {
    const mw_tokenizer *t = ctx;
    const tok_added *a = pa, *b = pb;
    uint32_t la = t->tlen[a->id], lb = t->tlen[b->id];
    if (la != lb) return la > lb ? -1 : 1;
    return (a->id > b->id) - (a->id < b->id);
}

/* Sorts the added tokens longest first (llama.cpp's order; ties by id) and puts their texts
 * in the tries. qsort has no context, so the sort is a plain insertion into order. */
/* Hugging Face matches a normalized added token by its normalized content ("ab" is "_ab"
 * after Prepend("_")): those texts, one after the other in t->norm_texts. */
static enum mw_status normalize_added(mw_tokenizer *t, size_t *total, mw_err *err) {
    tok_str one = {0};
    enum mw_status s = MW_OK;
    *total = 0;
    for (int32_t i = 0; !s && i < t->n_added; i++) {
        int32_t id = t->added[i].id;
        if (!t->added[i].normalized) continue;
        if (!(s = tok_norm_apply(t->norm, t->text[id], t->tlen[id], &one, err))) {
            if (!tok_spans_add(&t->norm_spans, t->norm_texts.n, one.n) ||
                !tok_str_put(&t->norm_texts, one.s, one.n))
                s = mw_fail(err, MW_ERR_NOMEM, "out of memory");
            *total += one.n;
        }
    }
    tok_str_free(&one);
    return s;
}

/* Sorts the added tokens longest first (llama.cpp's order; ties by id) and puts their texts
 * in the tries. */
static enum mw_status build_tries(mw_tokenizer *t, mw_err *err) {
    size_t raw = 0, norm = 0, k = 0;
    for (int32_t i = 1; i < t->n_added; i++) {
        tok_added x = t->added[i];
        int32_t j = i;
        for (; j > 0 && added_order(&t->added[j - 1], &x, t) > 0; j--)
            t->added[j] = t->added[j - 1];
        t->added[j] = x;
    }
    for (int32_t i = 0; i < t->n_added; i++)
        if (!t->added[i].normalized) raw += t->tlen[t->added[i].id];
    enum mw_status s = normalize_added(t, &norm, err);
    if (s) return s;
    if (!tok_trie_init(&t->trie, raw) || !tok_trie_init(&t->trie_norm, norm))
        return mw_fail(err, MW_ERR_NOMEM, "out of memory");
    for (int32_t i = 0; i < t->n_added; i++) {
        int32_t id = t->added[i].id;
        if (!t->added[i].normalized) {
            tok_trie_add(&t->trie, t->text[id], t->tlen[id], i);
            continue;
        }
        tok_span sp = t->norm_spans.v[k++];
        tok_trie_add(&t->trie_norm, t->norm_texts.s + sp.off, sp.len, i);
        /* tokenizers keeps such a token as its normalized text, which is what it decodes
         * to (unless the model's vocabulary holds the token under its own text) */
        if (tok_map_get(&t->vocab, t->text[id], t->tlen[id]) != id) {
            t->text[id] = t->norm_texts.s + sp.off;
            t->tlen[id] = (uint32_t)sp.len;
        }
    }
    return MW_OK;
}

enum mw_status tok_finish(mw_tokenizer *t, mw_err *err) {
    size_t len;
    tok_byte_char(0, &len); /* fills the byte table before any thread encodes */
    if (!t->vocab.slot) {
        if (!tok_map_init(&t->vocab, t->n, t->text, t->tlen))
            return mw_fail(err, MW_ERR_NOMEM, "out of memory");
        for (int32_t i = 0; i < t->n; i++)
            if (t->text[i]) tok_map_put(&t->vocab, i);
    }
    for (int b = 0; b < 256; b++) {
        char hex[8], one = (char)b;
        snprintf(hex, sizeof hex, "<0x%02X>", b);
        t->byte_tok[b] = tok_map_get(&t->vocab, hex, 6);
        /* llama.cpp falls back to a token that is the byte itself */
        if (t->byte_tok[b] < 0 && !t->hf) t->byte_tok[b] = tok_map_get(&t->vocab, &one, 1);
    }
    if (!t->added && !t->hf) {
        t->added = calloc((size_t)t->n + 1, sizeof *t->added);
        if (!t->added) return mw_fail(err, MW_ERR_NOMEM, "out of memory");
        for (int32_t i = 0; i < t->n; i++) {
            uint8_t k = t->kind[i];
            if ((k == TK_CONTROL || k == TK_USER || k == TK_UNKNOWN) && t->tlen[i] > 0)
                t->added[t->n_added++] = (tok_added){.id = i, .special = k != TK_USER};
        }
    }
    return build_tries(t, err);
}

/* ---- GGUF ---------------------------------------------------------------- */

/* Texts llama.cpp makes control tokens whatever their type (end of turn / generation and
 * fill-in-the-middle markers), and the few it makes user-defined. */
static const char *const FORCED_CONTROL[] = {
    "<|eot_id|>",
    "<|im_end|>",
    "<|end|>",
    "<end_of_turn>",
    "<|endoftext|>",
    "<|end_of_text|>",
    "<EOT>",
    "_<EOT>",
    "[EOT]",
    "[EOS]",
    "<\xef\xbd\x9c"
    "end\xe2\x96\x81of\xe2\x96\x81sentence\xef\xbd\x9c>",
    "<end_of_utterance>",
    "<|eom_id|>",
    "<|return|>",
    "<|call|>",
    "<|flush|>",
    "<|calls|>",
    "<eos>",
    "<turn|>",
    "<|tool_response>",
    "[e~[",
    "</s>",
    "<|fim_prefix|>",
    "<fim-prefix>",
    "<fim_prefix>",
    "<PRE>",
    "\xe2\x96\x81<PRE>",
    "<|code_prefix|>",
    "<|prefix|>",
    "<|fim_suffix|>",
    "<fim-suffix>",
    "<fim_suffix>",
    "<SUF>",
    "\xe2\x96\x81<SUF>",
    "<|code_suffix|>",
    "<|suffix|>",
    "<|fim_middle|>",
    "<fim-middle>",
    "<fim_middle>",
    "<MID>",
    "\xe2\x96\x81<MID>",
    "<|code_middle|>",
    "<|middle|>",
    "<|fim_pad|>",
    "<fim-pad>",
    "<fim_pad>",
    "<PAD>",
    "[PAD]",
    "<|fim_repo|>",
    "<|repo_name|>",
    "<fim-repo>",
    "<REPO>",
    "<reponame>",
    "<|file_sep|>",
    "<\xef\xbd\x9c"
    "fim\xe2\x96\x81"
    "begin\xef\xbd\x9c>",
    "<\xef\xbd\x9c"
    "fim\xe2\x96\x81hole\xef\xbd\x9c>",
    "<\xef\xbd\x9c"
    "fim\xe2\x96\x81"
    "end\xef\xbd\x9c>",
};
static const char *const FORCED_USER[] = {"<|channel|>", "<|message|>", "<|start|>",
                                          "<|constrain|>"};

static uint8_t gguf_kind(int32_t type) {
    switch (type) {
    case MW_TOK_UNKNOWN:
        return TK_UNKNOWN;
    case MW_TOK_CONTROL:
        return TK_CONTROL;
    case MW_TOK_USER_DEFINED:
        return TK_USER;
    case MW_TOK_UNUSED:
        return TK_UNUSED;
    case MW_TOK_BYTE:
        return TK_BYTE;
    default:
        return TK_NORMAL;
    }
}

/* Kinds from the GGUF types, then llama.cpp's corrections by text (on the id its map gives
 * a text, the last of duplicates). */
static enum mw_status gguf_kinds(mw_tokenizer *t, mw_err *err) {
    for (int64_t i = 0; i < t->n; i++) {
        t->text[i] = t->v.tok[i];
        t->tlen[i] = (uint32_t)strlen(t->v.tok[i]);
        t->kind[i] = gguf_kind(t->v.type[i]);
    }
    if (!tok_map_init(&t->vocab, t->n, t->text, t->tlen))
        return mw_fail(err, MW_ERR_NOMEM, "out of memory");
    for (int32_t i = 0; i < t->n; i++)
        tok_map_put(&t->vocab, i);
    for (size_t k = 0; k < sizeof FORCED_CONTROL / sizeof *FORCED_CONTROL; k++) {
        int32_t id = tok_map_get(&t->vocab, FORCED_CONTROL[k], strlen(FORCED_CONTROL[k]));
        if (id >= 0) t->kind[id] = TK_CONTROL;
    }
    for (size_t k = 0; k < sizeof FORCED_USER / sizeof *FORCED_USER; k++) {
        int32_t id = tok_map_get(&t->vocab, FORCED_USER[k], strlen(FORCED_USER[k]));
        if (id >= 0) t->kind[id] = TK_USER;
    }
    return MW_OK;
}

/* The strip attributes llama.cpp gives some models' added tokens by name: Phi-3 strips the
 * spaces after its special tokens (but <unk>, <s>, <|endoftext|>), some BERTs those before
 * their mask token. */
static void gguf_strip_attrs(mw_tokenizer *t, const mw_gguf *g) {
    char name[128] = "";
    const char *n = mw_gguf_kv_str(mw_gguf_find_kv(g, "general.name"));
    for (size_t i = 0; n && n[i] && i + 1 < sizeof name; i++)
        name[i] = (char)((n[i] >= 'A' && n[i] <= 'Z') ? n[i] + 32 : n[i]);
    bool phi3 = strstr(name, "phi-3") || strstr(name, "phi3");
    bool mask = strstr(t->v.pre, "jina-v2-") != NULL || strstr(name, "modern-bert");
    for (int32_t i = 0; i < t->n_added; i++) {
        tok_added *a = &t->added[i];
        const char *text = t->text[a->id];
        if (phi3)
            a->rstrip = strcmp(text, "<unk>") != 0 && strcmp(text, "<s>") != 0 &&
                        strcmp(text, "<|endoftext|>") != 0;
        if (mask) a->lstrip = strcmp(text, "<mask>") == 0 || strcmp(text, "[MASK]") == 0;
    }
}

/* "left right" merges to id pairs; a merge whose parts or result are not tokens cannot be
 * applied by an id-based merger and is left out (llama.cpp would apply it on texts). */
static enum mw_status gguf_merges(mw_tokenizer *t, mw_err *err) {
    if (!pair_map_init(&t->merges, t->v.n_merges))
        return mw_fail(err, MW_ERR_NOMEM, "out of memory");
    for (int64_t r = 0; r < t->v.n_merges && r < INT32_MAX; r++) {
        const char *m = t->v.merges[r], *sp = m[0] ? strchr(m + 1, ' ') : NULL;
        if (!sp) continue;
        size_t nl = (size_t)(sp - m), nr = strlen(sp + 1);
        int32_t l = tok_map_get(&t->vocab, m, nl), rt = tok_map_get(&t->vocab, sp + 1, nr);
        char *cat = malloc(nl + nr + 1);
        if (!cat) return mw_fail(err, MW_ERR_NOMEM, "out of memory");
        memcpy(cat, m, nl);
        memcpy(cat + nl, sp + 1, nr);
        int32_t id = tok_map_get(&t->vocab, cat, nl + nr);
        free(cat);
        if (l >= 0 && rt >= 0 && id >= 0) pair_map_put(&t->merges, l, rt, (int32_t)r, id);
    }
    return MW_OK;
}

/* Special ids and what gets added, with llama.cpp's defaults for what the file leaves out. */
static void gguf_specials(mw_tokenizer *t) {
    const mw_vocab *v = &t->v;
    int64_t bos = v->special[MW_SP_BOS], eos = v->special[MW_SP_EOS];
    if (bos < 0) bos = t->spm ? 1 : 11;
    if (eos < 0) eos = t->spm ? 2 : 11;
    t->bos = bos < t->n ? (int32_t)bos : -1;
    t->eos = eos < t->n ? (int32_t)eos : -1;
    bool add_bos = v->add_bos >= 0 ? v->add_bos : t->spm || tok_gguf_pre_is_llama3(v->pre);
    bool add_eos = v->add_eos > 0;
    if (add_bos && t->bos >= 0) t->prefix[t->n_prefix++] = t->bos;
    if (add_eos && t->eos >= 0) t->suffix[t->n_suffix++] = t->eos;
    t->add_space_prefix = t->spm && v->add_space_prefix != 0;
}

static enum mw_status open_gguf(mw_tokenizer *t, const mw_gguf *g, mw_err *err) {
    enum mw_status s = mw_vocab_from_gguf(g, &t->v, err);
    if (s) return s;
    if (t->v.n > INT32_MAX) return mw_fail(err, MW_ERR_UNSUPPORTED, "vocabulary too large");
    t->spm = t->v.spm;
    t->n = t->v.n;
    t->text = calloc((size_t)t->n, sizeof *t->text);
    t->tlen = calloc((size_t)t->n, sizeof *t->tlen);
    t->kind = calloc((size_t)t->n, 1);
    if (!t->text || !t->tlen || !t->kind) return mw_fail(err, MW_ERR_NOMEM, "out of memory");
    if ((s = gguf_kinds(t, err))) return s;
    t->split_rule = SPLIT_LONGEST_FIRST;
    t->ignore_merges = !t->spm && tok_gguf_pre_is_llama3(t->v.pre);
    t->unk = -1;
    gguf_specials(t);
    if (!t->spm && (s = tok_pretok_from_gguf(t->v.pre, &t->pre, err))) return s;
    if ((s = tok_finish(t, err))) return s;
    gguf_strip_attrs(t, g);
    return t->spm ? MW_OK : gguf_merges(t, err);
}

/* ---- opening ------------------------------------------------------------- */

static enum mw_status open_json(mw_tokenizer *t, const char *path, const char *arch, mw_err *err) {
    enum mw_status s = mw_tokenizer_json_read(path, arch, &t->v, &t->json, err);
    if (s) return mw_fail_context(err, s, "%s", path);
    s = tok_setup_json(t, path, err);
    return s ? mw_fail_context(err, s, "%s", path) : MW_OK;
}

static mw_tokenizer *new_tokenizer(void) {
    mw_tokenizer *t = calloc(1, sizeof *t);
    if (t) mw_vocab_init(&t->v);
    return t;
}

static enum mw_status done(mw_tokenizer *t, enum mw_status s, mw_tokenizer **out) {
    if (s) {
        mw_tokenizer_free(t);
        return s;
    }
    *out = t;
    return MW_OK;
}

static bool is_gguf_file(const char *path) {
    char magic[4] = {0};
    FILE *f = fopen(path, "rb");
    if (!f) return false;
    size_t n = fread(magic, 1, 4, f);
    fclose(f);
    return n == 4 && memcmp(magic, "GGUF", 4) == 0;
}

enum mw_status mw_tokenizer_open(const char *path, mw_tokenizer **out, mw_err *err) {
    struct stat st;
    char json_path[4096];
    *out = NULL;
    if (stat(path, &st) != 0) return mw_fail(err, MW_ERR_IO, "cannot open %s", path);
    mw_tokenizer *t = new_tokenizer();
    if (!t) return mw_fail(err, MW_ERR_NOMEM, "out of memory");
    if (S_ISDIR(st.st_mode)) {
        snprintf(json_path, sizeof json_path, "%s/tokenizer.json", path);
        if (stat(json_path, &st) != 0)
            return done(t, mw_fail(err, MW_ERR_NOT_FOUND, "%s has no tokenizer.json", path), out);
        return done(t, open_json(t, json_path, "", err), out);
    }
    if (!is_gguf_file(path)) return done(t, open_json(t, path, "", err), out);
    mw_gguf *g = NULL;
    enum mw_status s = mw_gguf_open(path, &g, err);
    if (!s) {
        s = open_gguf(t, g, err);
        if (s) mw_fail_context(err, s, "%s", path);
    }
    mw_gguf_close(g);
    return done(t, s, out);
}

enum mw_status mw_model_tokenizer(const mw_model *m, mw_tokenizer **out, mw_err *err) {
    char path[4096];
    *out = NULL;
    mw_tokenizer *t = new_tokenizer();
    if (!t) return mw_fail(err, MW_ERR_NOMEM, "out of memory");
    if (mw_model_gguf(m)) return done(t, open_gguf(t, mw_model_gguf(m), err), out);
    snprintf(path, sizeof path, "%s/tokenizer.json", mw_model_dir(m));
    return done(t, open_json(t, path, mw_model_hparams(m)->arch, err), out);
}

/* ---- accessors ----------------------------------------------------------- */

int64_t mw_tokenizer_n_vocab(const mw_tokenizer *t) {
    return t->n;
}
int32_t mw_tokenizer_bos(const mw_tokenizer *t) {
    return t->bos;
}
int32_t mw_tokenizer_eos(const mw_tokenizer *t) {
    return t->eos;
}
bool mw_tokenizer_adds_bos(const mw_tokenizer *t) {
    return t->n_prefix > 0 && t->prefix[0] == t->bos;
}
bool mw_tokenizer_adds_eos(const mw_tokenizer *t) {
    return t->n_suffix > 0 && t->suffix[t->n_suffix - 1] == t->eos;
}
const char *mw_tokenizer_token(const mw_tokenizer *t, int32_t id) {
    return id >= 0 && id < t->n ? t->text[id] : NULL;
}
bool mw_tokenizer_is_special(const mw_tokenizer *t, int32_t id) {
    return id >= 0 && id < t->n && (t->kind[id] == TK_CONTROL || t->kind[id] == TK_UNKNOWN);
}
