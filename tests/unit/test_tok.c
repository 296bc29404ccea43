/* The tokenizers on tiny hand-made vocabularies whose results can be worked out by hand:
 * SentencePiece merges by score (with byte fallback and the space prefix), byte-level BPE
 * by merge rank (with ignore_merges), a tokenizer.json BPE with byte fallback and fused
 * unknowns, the two rules for finding added tokens in text, decoding, bad input and
 * encoding from several threads at once. The real models are tested in
 * tests/py/test_tokenize*.py. */
#include "check.h"
#include "io/hf_tokenizer.h"
#include "tok/tok.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char dir[256];

#define META "\xe2\x96\x81" /* U+2581 */

/* Whether encoding text gives exactly the ids listed (n of them). */
static bool encodes(const mw_tokenizer *t, const char *text, unsigned flags, int n, ...) {
    mw_tokens ids = {0};
    mw_err err = {{0}};
    bool same =
        mw_tokenize(t, text, strlen(text), flags, &ids, &err) == MW_OK && ids.n == (size_t)n;
    va_list ap;
    va_start(ap, n);
    for (int i = 0; i < n; i++) {
        int want = va_arg(ap, int);
        same = same && ids.ids[i] == want;
    }
    va_end(ap);
    if (!same) {
        fprintf(stderr, "  '%s' gave [", text);
        for (size_t i = 0; i < ids.n; i++)
            fprintf(stderr, "%s%d", i ? ", " : "", ids.ids[i]);
        fprintf(stderr, "] %s\n", err.msg);
    }
    mw_tokens_free(&ids);
    return same;
}

/* Whether decoding ids gives text. */
static bool decodes(const mw_tokenizer *t, unsigned flags, const char *text, size_t text_len, int n,
                    const int32_t *ids) {
    char *out = NULL;
    size_t len = 0;
    mw_err err;
    bool same = mw_detokenize(t, ids, (size_t)n, flags, &out, &len, &err) == MW_OK &&
                len == text_len && memcmp(out, text, len) == 0;
    if (!same) fprintf(stderr, "  decoded '%.*s', wanted '%s'\n", (int)len, out ? out : "", text);
    free(out);
    return same;
}

static bool round_trips(const mw_tokenizer *t, const char *text, size_t n) {
    mw_tokens ids = {0};
    mw_err err;
    bool ok = mw_tokenize(t, text, n, 0, &ids, &err) == MW_OK &&
              decodes(t, 0, text, n, (int)ids.n, ids.ids);
    mw_tokens_free(&ids);
    return ok;
}
#define ROUND_TRIPS(t, literal) round_trips(t, literal, sizeof(literal) - 1)

/* ---- vocabularies ------------------------------------------------------- */

static void add(mw_vocab *v, const char *text, int type, float score) {
    v->tok[v->n] = strdup(text);
    v->type[v->n] = type;
    if (v->score) v->score[v->n] = score;
    v->n++;
}

static mw_tokenizer *open_vocab(const mw_vocab *v) {
    char p[512];
    mw_err err;
    mw_gguf_writer *w;
    mw_tokenizer *t = NULL;
    snprintf(p, sizeof p, "%s/vocab.gguf", dir);
    CHECK(mw_gguf_writer_create(p, &w, &err) == MW_OK);
    CHECK(mw_gguf_writer_set_str(w, "general.architecture", "llama", &err) == MW_OK);
    CHECK(mw_vocab_to_gguf(v, w, &err) == MW_OK);
    CHECK(mw_gguf_writer_finish(w, &err) == MW_OK);
    enum mw_status s = mw_tokenizer_open(p, &t, &err);
    if (s) fprintf(stderr, "  %s\n", err.msg);
    CHECK(s == MW_OK);
    unlink(p);
    return t;
}

/* ids of the SentencePiece vocabulary */
enum { S_UNK, S_BOS, S_EOS, S_BYTE0, S_A = S_BYTE0 + 256, S_B, S_C, S_META, S_AB, S_BC, S_MA };
enum { S_MAB = S_MA + 1, S_AA };

static mw_tokenizer *spm_tokenizer(void) {
    mw_vocab v;
    char hex[8];
    mw_vocab_init(&v);
    CHECK(mw_vocab_alloc(&v, 300, true, NULL) == MW_OK);
    v.n = 0;
    v.spm = true;
    add(&v, "<unk>", MW_TOK_UNKNOWN, 0);
    add(&v, "<s>", MW_TOK_CONTROL, 0);
    add(&v, "</s>", MW_TOK_CONTROL, 0);
    for (int b = 0; b < 256; b++) {
        snprintf(hex, sizeof hex, "<0x%02X>", b);
        add(&v, hex, MW_TOK_BYTE, 0);
    }
    add(&v, "a", MW_TOK_NORMAL, -10);
    add(&v, "b", MW_TOK_NORMAL, -10);
    add(&v, "c", MW_TOK_NORMAL, -10);
    add(&v, META, MW_TOK_NORMAL, -10);
    add(&v, "ab", MW_TOK_NORMAL, -2);
    add(&v, "bc", MW_TOK_NORMAL, -1);
    add(&v, META "a", MW_TOK_NORMAL, -3);
    add(&v, META "ab", MW_TOK_NORMAL, -0.5f);
    add(&v, "aa", MW_TOK_NORMAL, -4);
    v.special[MW_SP_BOS] = S_BOS, v.special[MW_SP_EOS] = S_EOS, v.special[MW_SP_UNK] = S_UNK;
    v.add_bos = 1, v.add_eos = 1, v.add_space_prefix = 1;
    mw_tokenizer *t = open_vocab(&v);
    mw_vocab_free(&v);
    return t;
}

static void test_spm(void) {
    mw_tokenizer *t = spm_tokenizer();
    if (!t) return;
    /* "_abc": bc (-1) beats ab (-2) and _a (-3), then _a merges; _abc is no token */
    CHECK(encodes(t, "abc", 0, 2, S_MA, S_BC));
    /* "_ab": ab (-2) before _a (-3), then _ab (-0.5) */
    CHECK(encodes(t, "ab", 0, 1, S_MAB));
    /* equal scores: the leftmost aa first; x is no token: its byte */
    CHECK(encodes(t, "xaaa", 0, 4, S_META, S_BYTE0 + 'x', S_AA, S_A));
    CHECK(encodes(t, "\xc3\xa9", 0, 3, S_META, S_BYTE0 + 0xc3, S_BYTE0 + 0xa9));
    CHECK(encodes(t, "a b", 0, 3, S_MA, S_META, S_B));
    CHECK(encodes(t, "ab", MW_TOK_ADD_SPECIAL, 3, S_BOS, S_MAB, S_EOS));
    CHECK(encodes(t, "", 0, 0));
    CHECK(encodes(t, "", MW_TOK_ADD_SPECIAL, 2, S_BOS, S_EOS));
    /* special text: a token only when asked, and the space prefix comes after it */
    CHECK(encodes(t, "a</s>b", MW_TOK_SPECIAL, 4, S_MA, S_EOS, S_META, S_B));
    CHECK(encodes(t, "a</s>b", 0, 6, S_MA, S_BYTE0 + '<', S_BYTE0 + '/', S_BYTE0 + 's',
                  S_BYTE0 + '>', S_B));
    int32_t ids[] = {S_BOS, S_MA, S_BC, S_EOS, S_META, S_B};
    /* the space the encoder puts after an added token goes again */
    CHECK(decodes(t, 0, "abcb", 4, 6, ids));
    CHECK(decodes(t, MW_TOK_SPECIAL, "<s>abc</s>b", 11, 6, ids));
    CHECK(ROUND_TRIPS(t, " a  b\xc3\xa9\n"));
    CHECK(ROUND_TRIPS(t, "x\0y"));
    CHECK(mw_tokenizer_adds_bos(t) && mw_tokenizer_adds_eos(t));
    CHECK(mw_tokenizer_bos(t) == S_BOS && mw_tokenizer_is_special(t, S_UNK));
    CHECK(strcmp(mw_tokenizer_token(t, S_MAB), META "ab") == 0);
    mw_tokenizer_free(t);
}

/* ids of the byte-level vocabulary: 0..255 are the bytes' characters */
enum { G_GT = 256, G_HE, G_GTHE, G_TH, G_EOT, G_TOOL, G_THE, G_XY, G_YZW };

static mw_tokenizer *gpt2_tokenizer(const char *pre) {
    mw_vocab v;
    size_t len;
    mw_vocab_init(&v);
    CHECK(mw_vocab_alloc(&v, 300, false, NULL) == MW_OK);
    v.n = 0;
    for (int b = 0; b < 256; b++) {
        char c[4] = {0};
        const char *ch = tok_byte_char((unsigned char)b, &len);
        memcpy(c, ch, len);
        add(&v, c, MW_TOK_NORMAL, 0);
    }
    add(&v, "\xc4\xa0t", MW_TOK_NORMAL, 0); /* U+0120 is the byte-level space */
    add(&v, "he", MW_TOK_NORMAL, 0);
    add(&v, "\xc4\xa0the", MW_TOK_NORMAL, 0);
    add(&v, "th", MW_TOK_NORMAL, 0);
    add(&v, "<|endoftext|>", MW_TOK_CONTROL, 0);
    add(&v, "<tool>", MW_TOK_USER_DEFINED, 0);
    add(&v, "the", MW_TOK_NORMAL, 0);
    add(&v, "xy", MW_TOK_USER_DEFINED, 0);
    add(&v, "yzw", MW_TOK_USER_DEFINED, 0);
    const char *merges[] = {"h e", "\xc4\xa0 t", "t h", "\xc4\xa0t he"};
    v.merges = calloc(4, sizeof *v.merges);
    for (int i = 0; i < 4; i++)
        v.merges[i] = strdup(merges[i]);
    v.n_merges = 4;
    snprintf(v.pre, sizeof v.pre, "%s", pre);
    v.special[MW_SP_BOS] = v.special[MW_SP_EOS] = G_EOT;
    mw_tokenizer *t = open_vocab(&v);
    mw_vocab_free(&v);
    return t;
}

static void test_byte_level(void) {
    mw_tokenizer *t = gpt2_tokenizer("gpt-2");
    if (!t) return;
    /* "Gthe": he (rank 0), then Gt (1), then Gt+he (3); th (2) never gets its turn */
    CHECK(encodes(t, " the", 0, 1, G_GTHE));
    CHECK(encodes(t, "the", 0, 2, 't', G_HE));
    CHECK(encodes(t, "the the", 0, 3, 't', G_HE, G_GTHE));
    /* the regex cuts "x1" and "!" apart; bytes are their own characters */
    CHECK(encodes(t, "x1!", 0, 3, 'x', '1', '!'));
    CHECK(encodes(t, "\n", 0, 1, '\n'));
    /* user-defined text is always a token, control text only on request */
    CHECK(encodes(t, "<tool>x<|endoftext|>", MW_TOK_SPECIAL, 3, G_TOOL, 'x', G_EOT));
    CHECK(encodes(t, "<tool><|", 0, 3, G_TOOL, '<', '|'));
    /* llama.cpp: the longer added token claims first, so "xy" loses to "yzw" */
    CHECK(encodes(t, "xyzw", 0, 2, 'x', G_YZW));
    CHECK(!mw_tokenizer_adds_bos(t));
    CHECK(encodes(t, "the", MW_TOK_ADD_SPECIAL, 2, 't', G_HE));
    /* llama.cpp writes a byte token as the byte, valid UTF-8 or not */
    int32_t ids[] = {'t', G_HE, G_GTHE, G_TOOL, 0xe9};
    CHECK(decodes(t, 0, "the the<tool>\xe9", 14, 5, ids));
    CHECK(ROUND_TRIPS(t, "the  the\t\n x\xc3\xa9\xe2\x82\xac\0"));
    mw_tokenizer_free(t);
    /* with Llama 3's pre-tokenizer a word that is a token skips the merges */
    t = gpt2_tokenizer("llama-bpe");
    if (!t) return;
    CHECK(encodes(t, "the", 0, 1, G_THE));
    CHECK(mw_tokenizer_adds_bos(t)); /* llama.cpp's default for this pre-tokenizer */
    mw_tokenizer_free(t);
}

/* ---- tokenizer.json ------------------------------------------------------ */

static mw_tokenizer *open_json(const char *text) {
    char p[512];
    mw_err err;
    mw_tokenizer *t = NULL;
    snprintf(p, sizeof p, "%s/tokenizer.json", dir);
    FILE *f = fopen(p, "wb");
    CHECK(f && fputs(text, f) >= 0);
    if (f) fclose(f);
    enum mw_status s = mw_tokenizer_open(dir, &t, &err);
    if (s) fprintf(stderr, "  %s\n", err.msg);
    CHECK(s == MW_OK);
    return t;
}

static const char SPM_JSON[] =
    "{\"model\": {\"type\": \"BPE\", \"byte_fallback\": true, \"fuse_unk\": true,"
    " \"unk_token\": \"<unk>\", \"vocab\": {\"<unk>\": 0, \"<s>\": 1, \"a\": 2, \"b\": 3,"
    " \"ab\": 4, \"" META "\": 5, \"" META "ab\": 6, \"<0xC3>\": 7, \"<0xA9>\": 8, \"xy\": 9,"
    " \"yzw\": 10}, \"merges\": [\"a b\", [\"" META "\", \"ab\"]]},"
    " \"added_tokens\": ["
    "  {\"id\": 1, \"content\": \"<s>\", \"special\": true, \"normalized\": false},"
    "  {\"id\": 9, \"content\": \"xy\", \"special\": false, \"normalized\": false},"
    "  {\"id\": 10, \"content\": \"yzw\", \"special\": false, \"normalized\": false}],"
    " \"normalizer\": {\"type\": \"Replace\", \"pattern\": {\"String\": \" \"},"
    "  \"content\": \"" META "\"},"
    " \"pre_tokenizer\": null,"
    " \"post_processor\": {\"type\": \"TemplateProcessing\", \"single\": [{\"SpecialToken\":"
    "  {\"id\": \"<s>\", \"type_id\": 0}}, {\"Sequence\": {\"id\": \"A\", \"type_id\": 0}}],"
    "  \"special_tokens\": {\"<s>\": {\"id\": \"<s>\", \"ids\": [1], \"tokens\": [\"<s>\"]}}},"
    " \"decoder\": {\"type\": \"Sequence\", \"decoders\": [{\"type\": \"Replace\", \"pattern\":"
    "  {\"String\": \"" META "\"}, \"content\": \" \"}, {\"type\": \"ByteFallback\"},"
    "  {\"type\": \"Fuse\"}]}}";

static void test_json_bpe(void) {
    mw_tokenizer *t = open_json(SPM_JSON);
    if (!t) return;
    CHECK(encodes(t, " ab", 0, 1, 6));
    CHECK(encodes(t, "ab", MW_TOK_ADD_SPECIAL, 2, 1, 4));
    CHECK(encodes(t, "\xc3\xa9", 0, 2, 7, 8)); /* byte fallback */
    CHECK(encodes(t,
                  "\xc3\xbc\xc3\xbc"
                  "a",
                  0, 2, 0, 2)); /* no <0xBC>: one fused unk */
    CHECK(encodes(t, "<s>a", MW_TOK_SPECIAL, 2, 1, 2));
    /* Hugging Face: the leftmost added token wins, "xy" before "yzw" */
    CHECK(encodes(t, "xyzw", 0, 2, 9, 0)); /* z and w are fused into one unk */
    /* ByteFallback: bytes that are no UTF-8 become one U+FFFD each */
    int32_t ids[] = {1, 6, 7, 8, 5, 7, 7};
    CHECK(decodes(t, 0, " ab\xc3\xa9 \xef\xbf\xbd\xef\xbf\xbd", 12, 7, ids));
    CHECK(decodes(t, MW_TOK_SPECIAL, "<s> ab\xc3\xa9 \xef\xbf\xbd\xef\xbf\xbd", 15, 7, ids));
    CHECK(ROUND_TRIPS(t, "ab \xc3\xa9"));
    CHECK(mw_tokenizer_adds_bos(t) && mw_tokenizer_bos(t) == 1);
    mw_tokenizer_free(t);
}

/* A minimal byte-fallback BPE with one piece replaced (or added) by `piece`. */
static const char *const HOSTILE[] = {
    "\"normalizer\": {\"type\": \"Sequence\", \"normalizers\": [{\"type\": \"Precompiled\"}]}",
    "\"normalizer\": {\"type\": \"Replace\", \"pattern\": {\"String\": \"a\"}}",
    "\"normalizer\": {\"type\": \"Replace\", \"pattern\": {\"Regex\": \"(\"}, \"content\": \"\"}",
    "\"normalizer\": 7",
    "\"pre_tokenizer\": {\"type\": \"Split\", \"pattern\": {\"Regex\": \"(\"}, \"behavior\": "
    "\"Isolated\"}",
    "\"pre_tokenizer\": {\"type\": \"Split\", \"pattern\": {\"Regex\": \"[\\\\S]\"}, "
    "\"behavior\": \"Isolated\"}",
    "\"pre_tokenizer\": {\"type\": \"Split\", \"pattern\": {\"String\": \"x\"}, \"behavior\": "
    "\"Sideways\"}",
    "\"pre_tokenizer\": {\"type\": \"Metaspace\", \"replacement\": \"\"}",
    "\"pre_tokenizer\": {\"type\": 3}",
    "\"pre_tokenizer\": {\"type\": \"Sequence\", \"pretokenizers\": [{\"type\": \"Sequence\", "
    "\"pretokenizers\": [{\"type\": \"Sequence\", \"pretokenizers\": [{\"type\": \"Sequence\", "
    "\"pretokenizers\": [{\"type\": \"Sequence\", \"pretokenizers\": [{\"type\": \"Sequence\", "
    "\"pretokenizers\": [{\"type\": \"Sequence\", \"pretokenizers\": [{\"type\": \"Sequence\", "
    "\"pretokenizers\": [{\"type\": \"Sequence\", \"pretokenizers\": [{\"type\": \"Sequence\", "
    "\"pretokenizers\": []}]}]}]}]}]}]}]}]}",
    "\"decoder\": {\"type\": \"WordPiece\"}",
    "\"decoder\": {\"type\": \"Strip\", \"content\": \"\", \"start\": 1, \"stop\": 0}",
    "\"decoder\": {\"type\": \"Strip\", \"content\": \" \", \"start\": -1, \"stop\": 0}",
    "\"added_tokens\": [{\"id\": 1, \"content\": \"\", \"special\": true}]",
    "\"added_tokens\": [{\"id\": -1, \"content\": \"x\", \"special\": true}]",
};

static void test_hostile_json(void) {
    char text[2048];
    for (size_t i = 0; i < sizeof HOSTILE / sizeof *HOSTILE; i++) {
        snprintf(text, sizeof text,
                 "{\"model\": {\"type\": \"BPE\", \"byte_fallback\": true, \"vocab\": "
                 "{\"a\": 0, \"<0x41>\": 1}, \"merges\": []}, %s}",
                 HOSTILE[i]);
        char p[512];
        mw_err err = {{0}};
        mw_tokenizer *t = NULL;
        snprintf(p, sizeof p, "%s/tokenizer.json", dir);
        FILE *f = fopen(p, "wb");
        CHECK(f && fputs(text, f) >= 0);
        if (f) fclose(f);
        enum mw_status s = mw_tokenizer_open(p, &t, &err);
        if (s == MW_OK) fprintf(stderr, "  accepted: %s\n", HOSTILE[i]);
        CHECK(s != MW_OK && !t && err.msg[0] && !strchr(err.msg, '\n'));
    }
    /* no decoder: tokens joined by spaces, as tokenizers does; a template id out of range
     * is left out */
    mw_tokenizer *t = open_json(
        "{\"model\": {\"type\": \"BPE\", \"byte_fallback\": true, \"vocab\": {\"a\": 0, "
        "\"b\": 1}, \"merges\": []}, \"post_processor\": {\"type\": \"TemplateProcessing\", "
        "\"single\": [{\"SpecialToken\": {\"id\": \"x\"}}], \"special_tokens\": {\"x\": {\"ids\": "
        "[4294967297]}}}}");
    if (!t) return;
    int32_t ids[] = {0, 1, 0};
    CHECK(decodes(t, 0, "a b a", 5, 3, ids));
    CHECK(encodes(t, "ab", MW_TOK_ADD_SPECIAL, 2, 0, 1));
    mw_tokenizer_free(t);
}

/* ---- bad input and threads ----------------------------------------------- */

static void test_bad_input(void) {
    mw_tokenizer *t = spm_tokenizer();
    if (!t) return;
    const char *bad[] = {"\xc0\xaf",   "\xe0\x80\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80",
                         "ab\xe2\x82", "\x80",         "\xff"};
    mw_tokens ids = {0};
    mw_err err;
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        CHECK(mw_tokenize(t, bad[i], strlen(bad[i]), 0, &ids, &err) == MW_ERR_ARG);
        CHECK(ids.n == 0 && strstr(err.msg, "UTF-8") && !strchr(err.msg, '\n'));
    }
    int32_t out_of_range[] = {S_A, 300}, negative[] = {-1};
    char *text = NULL;
    size_t len;
    CHECK(mw_detokenize(t, out_of_range, 2, 0, &text, &len, &err) == MW_ERR_ARG && !text);
    CHECK(mw_detokenize(t, negative, 1, 0, &text, &len, &err) == MW_ERR_ARG && !text);
    mw_tokenizer_free(t);
    CHECK(mw_tokenizer_open("/nonexistent/tokenizer.json", &t, &err) != MW_OK && !t);
}

typedef struct job {
    const mw_tokenizer *t;
    const char *text;
    size_t want;
    bool ok;
} job;

static void *encode_many(void *arg) {
    job *j = arg;
    j->ok = true;
    for (int k = 0; k < 50; k++) {
        mw_tokens ids = {0};
        mw_err err;
        j->ok = j->ok && mw_tokenize(j->t, j->text, strlen(j->text), 0, &ids, &err) == MW_OK &&
                ids.n == j->want;
        mw_tokens_free(&ids);
    }
    return NULL;
}

static void test_threads(void) {
    mw_tokenizer *t = gpt2_tokenizer("smollm");
    if (!t) return;
    const char *text = "the the <tool> 123 xyzw\n\n";
    mw_tokens ids = {0};
    mw_err err;
    CHECK(mw_tokenize(t, text, strlen(text), 0, &ids, &err) == MW_OK);
    pthread_t th[4];
    job jobs[4];
    for (int i = 0; i < 4; i++) {
        jobs[i] = (job){t, text, ids.n, false};
        CHECK(pthread_create(&th[i], NULL, encode_many, &jobs[i]) == 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        CHECK(jobs[i].ok);
    }
    mw_tokens_free(&ids);
    mw_tokenizer_free(t);
}

int main(int argc, char **argv) {
    (void)argc, (void)argv;
    const char *tmp = getenv("TMPDIR");
    snprintf(dir, sizeof dir, "%s/mw-tok-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    test_spm();
    test_byte_level();
    test_json_bpe();
    test_hostile_json();
    test_bad_input();
    test_threads();
    char p[512];
    snprintf(p, sizeof p, "%s/tokenizer.json", dir);
    unlink(p);
    rmdir(dir);
    if (g_failures) fprintf(stderr, "%d check(s) failed\n", g_failures);
    return g_failures ? 1 : 0;
}
