/* Tokenizer conversion on small hand-made vocabularies: round trips, the merge order
 * derived from SentencePiece scores, and bad input of every kind (one-line errors, the
 * right status, no crash: run it under the sanitizers too). The real models are tested
 * in tests/py/test_hf_tokenizer.py. */
#include "check.h"
#include "io/hf_tokenizer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char dir[256]; /* scratch folder */

static void path_of(char *out, size_t cap, const char *name) {
    snprintf(out, cap, "%s/%s", dir, name);
}

static void write_file(const char *name, const void *data, size_t n) {
    char p[512];
    path_of(p, sizeof p, name);
    FILE *f = fopen(p, "wb");
    CHECK(f && fwrite(data, 1, n, f) == n);
    if (f) fclose(f);
}

static void write_text(const char *name, const char *text) {
    write_file(name, text, strlen(text));
}

static void remove_file(const char *name) {
    char p[512];
    path_of(p, sizeof p, name);
    unlink(p);
}

static void clear_dir(void) {
    const char *names[] = {"tokenizer.json", "tokenizer_config.json", "tokenizer.model",
                           "config.json",    "added_tokens.json",     "in.gguf",
                           "out.gguf"};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++)
        remove_file(names[i]);
}

/* A one-line message for a failure. */
static bool one_line(enum mw_status s, const mw_err *err) {
    return s != MW_OK && err->msg[0] && !strchr(err->msg, '\n');
}

/* ---- building vocabularies ------------------------------------------- */

static void add_token(mw_vocab *v, const char *text, int type, float score) {
    v->tok[v->n] = strdup(text);
    v->type[v->n] = type;
    if (v->score) v->score[v->n] = score;
    v->n++;
}

/* A SentencePiece vocabulary with every kind of token. */
static void spm_vocab(mw_vocab *v) {
    mw_vocab_init(v);
    CHECK(mw_vocab_alloc(v, 16, true, NULL) == MW_OK);
    v->n = 0;
    v->spm = true;
    add_token(v, "<pad>", MW_TOK_CONTROL, -1000.0f);
    add_token(v, "<eos>", MW_TOK_CONTROL, -1000.0f);
    add_token(v, "<bos>", MW_TOK_CONTROL, -1000.0f);
    add_token(v, "<unk>", MW_TOK_CONTROL, -1000.0f);
    add_token(v, "  ", MW_TOK_USER_DEFINED, -1000.0f);
    add_token(v, "<0x41>", MW_TOK_BYTE, 0.0f);
    add_token(v, "ab", MW_TOK_NORMAL, -0.0f); /* -0.0 must survive bit for bit */
    add_token(v, "bc", MW_TOK_NORMAL, -1.0f);
    add_token(v, "abc", MW_TOK_NORMAL, -2.0f);
    add_token(v,
              "\xe2\x96\x81"
              "a",
              MW_TOK_NORMAL, -3.0f);
    add_token(v, "a", MW_TOK_NORMAL, -4.0f);
    add_token(v, "b", MW_TOK_NORMAL, -5.0f);
    add_token(v, "c", MW_TOK_NORMAL, -6.0f);
    add_token(v, "\xe2\x96\x81", MW_TOK_NORMAL, -7.0f);
    add_token(v, "[PAD14]", MW_TOK_UNUSED, -10000.0f);
    add_token(v, "\"q\\", MW_TOK_NORMAL, -8.0f); /* JSON escapes */
    snprintf(v->pre, sizeof v->pre, "default");
    v->special[MW_SP_PAD] = 0, v->special[MW_SP_EOS] = 1;
    v->special[MW_SP_BOS] = 2, v->special[MW_SP_UNK] = 3;
    v->add_bos = 1, v->add_eos = 0, v->add_sep = 0, v->add_space_prefix = 0;
    v->chat_template = strdup("{{ bos_token }}\n{{ messages }}");
}

/* A byte-level vocabulary. */
static void gpt2_vocab(mw_vocab *v) {
    mw_vocab_init(v);
    CHECK(mw_vocab_alloc(v, 7, false, NULL) == MW_OK);
    v->n = 0;
    add_token(v, "<|endoftext|>", MW_TOK_CONTROL, 0);
    add_token(v, "a", MW_TOK_NORMAL, 0);
    add_token(v, "b", MW_TOK_NORMAL, 0);
    add_token(v, "ab", MW_TOK_NORMAL, 0);
    add_token(v, "\xc4\xa0", MW_TOK_NORMAL, 0); /* the byte-level space */
    add_token(v,
              "\xc4\xa0"
              "ab",
              MW_TOK_NORMAL, 0);
    add_token(v, "<think>", MW_TOK_USER_DEFINED, 0);
    v->merges = calloc(2, sizeof *v->merges);
    v->merges[0] = strdup("a b");
    v->merges[1] = strdup("\xc4\xa0 ab");
    v->n_merges = 2;
    snprintf(v->pre, sizeof v->pre, "smollm");
    v->special[MW_SP_BOS] = v->special[MW_SP_EOS] = v->special[MW_SP_UNK] = 0;
    v->add_bos = 0, v->add_space_prefix = 0;
}

static mw_gguf *gguf_of(const mw_vocab *v, const char *extra_key, const char *extra_value) {
    char p[512];
    mw_err err;
    mw_gguf_writer *w;
    mw_gguf *g = NULL;
    path_of(p, sizeof p, "in.gguf");
    CHECK(mw_gguf_writer_create(p, &w, &err) == MW_OK);
    CHECK(mw_gguf_writer_set_str(w, "general.architecture", "gemma3", &err) == MW_OK);
    if (v) CHECK(mw_vocab_to_gguf(v, w, &err) == MW_OK);
    if (extra_key) CHECK(mw_gguf_writer_set_str(w, extra_key, extra_value, &err) == MW_OK);
    CHECK(mw_gguf_writer_finish(w, &err) == MW_OK);
    CHECK(mw_gguf_open(p, &g, &err) == MW_OK);
    return g;
}

/* GGUF -> files in the scratch folder. */
static enum mw_status to_files(const mw_gguf *g, mw_err *err) {
    mw_hf_file *files;
    size_t n;
    enum mw_status s = mw_hf_tokenizer_from_gguf(g, &files, &n, err);
    for (size_t i = 0; !s && i < n; i++)
        write_file(files[i].name, files[i].data, files[i].size);
    if (!s) mw_hf_files_free(files, n);
    return s;
}

/* Folder -> GGUF; the vocabulary read back into *out when it worked. */
static enum mw_status from_dir(const char *arch, mw_vocab *out, mw_err *err) {
    char p[512];
    mw_gguf_writer *w;
    mw_gguf *g;
    path_of(p, sizeof p, "out.gguf");
    CHECK(mw_gguf_writer_create(p, &w, err) == MW_OK);
    enum mw_status s = mw_hf_tokenizer_to_gguf(dir, arch, w, err);
    if (s) {
        mw_gguf_writer_free(w);
        return s;
    }
    CHECK(mw_gguf_writer_finish(w, err) == MW_OK);
    CHECK(mw_gguf_open(p, &g, err) == MW_OK);
    s = mw_vocab_from_gguf(g, out, err);
    mw_gguf_close(g);
    return s;
}

static bool same_vocab(const mw_vocab *a, const mw_vocab *b) {
    bool same = a->spm == b->spm && a->n == b->n && strcmp(a->pre, b->pre) == 0 &&
                a->n_merges == b->n_merges && a->add_bos == b->add_bos &&
                a->add_eos == b->add_eos && a->add_sep == b->add_sep &&
                a->add_space_prefix == b->add_space_prefix &&
                !memcmp(a->special, b->special, sizeof a->special) &&
                !a->chat_template == !b->chat_template &&
                (!a->chat_template || strcmp(a->chat_template, b->chat_template) == 0);
    for (int64_t i = 0; same && i < a->n; i++)
        same = strcmp(a->tok[i], b->tok[i]) == 0 && a->type[i] == b->type[i] &&
               (!a->score || memcmp(&a->score[i], &b->score[i], sizeof(float)) == 0);
    for (int64_t i = 0; same && i < a->n_merges; i++)
        same = strcmp(a->merges[i], b->merges[i]) == 0;
    return same;
}

static char *read_back(const char *name, size_t *n) {
    char p[512];
    path_of(p, sizeof p, name);
    FILE *f = fopen(p, "rb");
    char *d = malloc(1 << 20);
    *n = f && d ? fread(d, 1, (1 << 20) - 1, f) : 0;
    if (d) d[*n] = 0;
    if (f) fclose(f);
    return d;
}

/* ---- round trips ------------------------------------------------------- */

static void test_spm_round_trip(void) {
    mw_vocab v, back;
    mw_err err;
    spm_vocab(&v);
    mw_gguf *g = gguf_of(&v, NULL, NULL);
    CHECK(to_files(g, &err) == MW_OK);
    mw_gguf_close(g);
    CHECK(from_dir("gemma3", &back, &err) == MW_OK);
    CHECK(same_vocab(&v, &back));
    mw_vocab_free(&back);
    CHECK(strcmp(mw_hf_tokenizer_kind(dir), "SentencePiece BPE (tokenizer.model)") == 0);

    /* merges: by score (user-defined counts as 0), then longer left part, then ids */
    char p[512];
    json_t *j;
    path_of(p, sizeof p, "tokenizer.json");
    CHECK(mw_tok_json_load(p, &j, &err) == MW_OK);
    char *m = json_dumps(json_object_get(json_object_get(j, "model"), "merges"), JSON_COMPACT);
    CHECK(m && strcmp(m, "[[\"\xe2\x96\x81\",\"\xe2\x96\x81\"],[\"a\",\"b\"],[\"b\",\"c\"],"
                         "[\"ab\",\"c\"],[\"a\",\"bc\"],[\"\xe2\x96\x81\",\"a\"]]") == 0);
    free(m);
    json_decref(j);

    /* without tokenizer.model: SentencePiece-style tokenizer.json, scores from merge ranks */
    remove_file("tokenizer.model");
    CHECK(strcmp(mw_hf_tokenizer_kind(dir), "SentencePiece-style BPE (tokenizer.json)") == 0);
    CHECK(from_dir("gemma3", &back, &err) == MW_OK);
    CHECK(back.spm && back.n == v.n && back.type[3] == MW_TOK_CONTROL);
    CHECK(back.type[5] == MW_TOK_BYTE && back.type[14] == MW_TOK_UNUSED);
    CHECK(strcmp(back.tok[4], "  ") == 0 && back.type[4] == MW_TOK_USER_DEFINED);
    CHECK(back.score[6] == -2.0f && back.score[7] == -3.0f && back.score[8] == -4.0f);
    CHECK(back.score[9] == -6.0f && back.score[10] == -7.0f && back.score[4] == -1000.0f);
    CHECK(back.score[5] == 0.0f);
    CHECK(back.add_space_prefix == 0 && back.special[MW_SP_BOS] == 2);
    mw_vocab_free(&back);
    mw_vocab_free(&v);
    clear_dir();
}

static void test_gpt2_round_trip(void) {
    mw_vocab v, back;
    mw_err err;
    gpt2_vocab(&v);
    mw_gguf *g = gguf_of(&v, NULL, NULL);
    CHECK(to_files(g, &err) == MW_OK);
    mw_gguf_close(g);
    size_t n;
    char *cfg = read_back("tokenizer_config.json", &n);
    CHECK(cfg && strstr(cfg, "\"mwanda.gguf.pre\": \"smollm\""));
    free(cfg);
    CHECK(from_dir("llama", &back, &err) == MW_OK);
    CHECK(same_vocab(&v, &back));
    mw_vocab_free(&back);
    /* without our hint the pre-tokenizer is recognised from its tokenizer.json form */
    write_text("tokenizer_config.json", "{\"bos_token\": \"<|endoftext|>\"}");
    CHECK(from_dir("llama", &back, &err) == MW_OK);
    CHECK(strcmp(back.pre, "smollm") == 0 && back.special[MW_SP_BOS] == 0);
    CHECK(back.type[6] == MW_TOK_USER_DEFINED && back.n_merges == 2);
    mw_vocab_free(&back);
    /* config.json: a larger vocab_size pads with [PADn] unused tokens */
    write_text("config.json", "{\"vocab_size\": 9, \"eos_token_id\": 3}");
    CHECK(from_dir("llama", &back, &err) == MW_OK);
    CHECK(back.n == 9 && strcmp(back.tok[8], "[PAD8]") == 0 && back.type[8] == MW_TOK_UNUSED);
    CHECK(back.special[MW_SP_EOS] == 3);
    mw_vocab_free(&back);
    mw_vocab_free(&v);
    clear_dir();
}

/* ---- bad input --------------------------------------------------------- */

/* A folder holding only this tokenizer.json (and tokenizer_config.json when given). */
static enum mw_status json_case(const char *tokenizer_json, const char *config, mw_err *err) {
    mw_vocab back;
    clear_dir();
    write_text("tokenizer.json", tokenizer_json);
    if (config) write_text("tokenizer_config.json", config);
    enum mw_status s = from_dir("phi3", &back, err);
    if (!s) mw_vocab_free(&back);
    return s;
}

#define BL "\"pre_tokenizer\":{\"type\":\"ByteLevel\"},"

static void test_bad_tokenizer_json(void) {
    mw_err err;
    static const struct {
        const char *json, *config;
        enum mw_status want;
    } cases[] = {
        {"{\"model\": ", NULL, MW_ERR_FORMAT},
        {"[1, 2]", NULL, MW_ERR_FORMAT},
        {"{\"model\": {\"vocab\": {}}}", NULL, MW_ERR_FORMAT},
        {"{\"model\": {\"type\": \"Unigram\", \"vocab\": [[\"a\", 0.0]]}}", NULL,
         MW_ERR_UNSUPPORTED},
        {"{\"model\": {\"type\": \"WordPiece\", \"vocab\": {\"a\": 0}}}", NULL, MW_ERR_UNSUPPORTED},
        {"{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": []}}", NULL,
         MW_ERR_UNSUPPORTED}, /* neither byte-level nor byte fallback */
        {"{" BL "\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": \"0\"}}}", NULL, MW_ERR_FORMAT},
        {"{" BL "\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": -1}}}", NULL, MW_ERR_FORMAT},
        {"{" BL "\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0, \"a\": 1}}}", NULL,
         MW_ERR_FORMAT}, /* duplicate key */
        {"{" BL "\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0, \"b\": 0}}}", NULL,
         MW_ERR_FORMAT}, /* two tokens, one id */
        {"{" BL "\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": [\"a\"]}}", NULL,
         MW_ERR_FORMAT},
        {"{" BL "\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": [[\"a\"]]}}",
         NULL, MW_ERR_FORMAT},
        {"{" BL "\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": {}}}", NULL,
         MW_ERR_FORMAT},
        {"{" BL "\"added_tokens\": [{\"id\": 99999999999, \"content\": \"x\"}],"
         "\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}}}",
         NULL, MW_ERR_FORMAT},
        {"{" BL "\"added_tokens\": [{\"id\": -2, \"content\": \"x\"}],"
         "\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}}}",
         NULL, MW_ERR_FORMAT},
        {"{" BL
         "\"added_tokens\": [{\"id\": 1, \"content\": \"x\"}, {\"id\": 2, \"content\": \"x\"}],"
         "\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}}}",
         NULL, MW_ERR_FORMAT},
        {"{" BL "\"added_tokens\": {}, \"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}}}",
         NULL, MW_ERR_FORMAT},
        {"{" BL "\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}}}", "not json",
         MW_ERR_FORMAT},
        {"{" BL "\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}}}", "[]", MW_ERR_FORMAT},
        {"{" BL "\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}}}",
         "{\"mwanda.gguf.pre\": 3}", MW_ERR_FORMAT},
        /* a pre-tokenizer llama.cpp has no name for, on an architecture without a default */
        {"{\"pre_tokenizer\":{\"type\":\"ByteLevel\",\"use_regex\":false},"
         "\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}}}",
         NULL, MW_ERR_UNSUPPORTED},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        enum mw_status s = json_case(cases[i].json, cases[i].config, &err);
        if (s != cases[i].want || !one_line(s, &err))
            fprintf(stderr, "case %zu: status %d, message '%s'\n", i, (int)s, err.msg);
        CHECK(s == cases[i].want && one_line(s, &err));
    }
    /* and a good one, for contrast: the same as the last but named by our hint */
    CHECK(json_case(cases[20].json, "{\"mwanda.gguf.pre\": \"gpt-2\"}", &err) == MW_OK);
    clear_dir();
    mw_vocab v;
    CHECK(from_dir("llama", &v, &err) == MW_ERR_NOT_FOUND && one_line(MW_ERR_NOT_FOUND, &err));
}

/* Every truncation and many corruptions of a valid tokenizer.model parse or fail cleanly. */
static void test_hostile_spm(void) {
    mw_vocab v, back;
    mw_spm_info info;
    mw_buf b = {0};
    mw_err err;
    spm_vocab(&v);
    CHECK(mw_spm_write(&v, &b, &err) == MW_OK);
    CHECK(mw_spm_parse(b.data, b.len, &back, &info, &err) == MW_OK);
    CHECK(back.n == v.n && info.model_type == 2 && !info.add_dummy_prefix && info.unk_id == 3);
    CHECK(back.type[3] == MW_TOK_UNKNOWN); /* SentencePiece's unknown piece */
    CHECK(strcmp(back.tok[4], "\xe2\x96\x81\xe2\x96\x81") == 0 &&
          back.type[4] == MW_TOK_USER_DEFINED);
    mw_vocab_free(&back);
    for (size_t n = 0; n < b.len; n++) {
        enum mw_status s = mw_spm_parse(b.data, n, &back, &info, &err);
        CHECK(s == MW_OK || (s == MW_ERR_FORMAT && one_line(s, &err)));
        if (!s) mw_vocab_free(&back);
    }
    unsigned char *copy = malloc(b.len);
    const unsigned char bytes[] = {0x00, 0x80, 0xff, 0x0a, 0x07};
    for (size_t i = 0; copy && i < b.len; i++) {
        for (size_t k = 0; k < sizeof bytes; k++) {
            memcpy(copy, b.data, b.len);
            copy[i] = bytes[k];
            enum mw_status s = mw_spm_parse(copy, b.len, &back, &info, &err);
            CHECK(s == MW_OK || (s == MW_ERR_FORMAT && one_line(s, &err)));
            if (!s) mw_vocab_free(&back);
        }
    }
    free(copy);
    static const struct {
        const char *bytes;
        size_t n;
    } bad[] = {
        {"\x0a\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01", 11},     /* length far past the end */
        {"\x0a\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80", 12}, /* an endless varint */
        {"\x0b\x0a\x00", 3},                                      /* a group */
        {"\x02\x01", 2},                                          /* field 0 */
        {"\x0d\x01\x02\x03\x04", 5},                              /* pieces with a fixed32 */
        {"\x0a\x02\x0a\x00", 4},                                  /* an empty piece */
        {"\x0a\x03\x0a\x01\xff", 5},                              /* not UTF-8 */
        {"\x0a\x05\x0a\x01"
         "a\x18\x09",
         7}, /* type 9 */
        {"", 0},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        enum mw_status s = mw_spm_parse(bad[i].bytes, bad[i].n, &back, &info, &err);
        CHECK(s == MW_ERR_FORMAT && one_line(s, &err));
    }
    /* through the folder: truncated file, a Unigram model, a bad added_tokens_decoder */
    clear_dir();
    write_file("tokenizer.model", b.data, b.len / 2);
    CHECK(from_dir("llama", &back, &err) == MW_ERR_FORMAT && one_line(MW_ERR_FORMAT, &err));
    write_file("tokenizer.model",
               "\x0a\x03\x0a\x01"
               "a\x12\x02\x18\x01",
               9);
    CHECK(from_dir("llama", &back, &err) == MW_ERR_UNSUPPORTED && strstr(err.msg, "Unigram"));
    write_file("tokenizer.model", b.data, b.len);
    write_text("tokenizer_config.json",
               "{\"added_tokens_decoder\": {\"x1\": {\"content\": \"a\"}}}");
    CHECK(from_dir("llama", &back, &err) == MW_ERR_FORMAT && one_line(MW_ERR_FORMAT, &err));
    write_text("tokenizer_config.json",
               "{\"added_tokens_decoder\": {\"99\": {\"content\": \"a\"}}}");
    CHECK(from_dir("llama", &back, &err) == MW_OK); /* past the vocabulary: ignored */
    CHECK(back.type[4] == MW_TOK_NORMAL); /* llama.cpp reads unlisted user-defined as normal */
    mw_vocab_free(&back);
    free(b.data);
    mw_vocab_free(&v);
    clear_dir();
}

static void expect_gguf_error(const mw_vocab *v, const char *key, const char *value,
                              enum mw_status want) {
    mw_err err;
    mw_hf_file *files;
    size_t n;
    mw_gguf *g = gguf_of(v, key, value);
    enum mw_status s = mw_hf_tokenizer_from_gguf(g, &files, &n, &err);
    if (s != want || !one_line(s, &err)) fprintf(stderr, "got %d '%s'\n", (int)s, err.msg);
    CHECK(s == want && one_line(s, &err));
    if (!s) mw_hf_files_free(files, n);
    mw_gguf_close(g);
}

static void test_bad_gguf(void) {
    mw_vocab v;
    spm_vocab(&v);
    expect_gguf_error(&v, "tokenizer.ggml.model", "bert", MW_ERR_UNSUPPORTED);
    free(v.tok[7]);
    v.tok[7] = strdup("ab"); /* a duplicate */
    expect_gguf_error(&v, NULL, NULL, MW_ERR_UNSUPPORTED);
    free(v.tok[7]);
    v.tok[7] = strdup("\xc3\x28"); /* not UTF-8 */
    expect_gguf_error(&v, NULL, NULL, MW_ERR_UNSUPPORTED);
    mw_vocab_free(&v);
    gpt2_vocab(&v);
    expect_gguf_error(&v, "tokenizer.ggml.pre", "tekken", MW_ERR_UNSUPPORTED);
    free(v.merges[1]);
    v.merges[1] = strdup("a c");
    expect_gguf_error(&v, NULL, NULL, MW_ERR_FORMAT);
    v.special[MW_SP_EOS] = 7; /* past the vocabulary */
    expect_gguf_error(&v, NULL, NULL, MW_ERR_FORMAT);
    mw_vocab_free(&v);
    expect_gguf_error(NULL, "tokenizer.ggml.model", "llama", MW_ERR_NOT_FOUND); /* no tokens */
    expect_gguf_error(NULL, NULL, NULL, MW_ERR_NOT_FOUND); /* no tokenizer at all */
    clear_dir();
}

int main(int argc, char **argv) {
    (void)argc, (void)argv;
    const char *tmp = getenv("TMPDIR");
    snprintf(dir, sizeof dir, "%s/mw-tok-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    test_spm_round_trip();
    test_gpt2_round_trip();
    test_bad_tokenizer_json();
    test_hostile_spm();
    test_bad_gguf();
    clear_dir();
    rmdir(dir);
    if (g_failures) fprintf(stderr, "%d check(s) failed\n", g_failures);
    return g_failures ? 1 : 0;
}
