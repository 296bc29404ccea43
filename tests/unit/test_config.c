/* Hugging Face config.json: hyperparameters of the four families from real
 * configs, defaults, every kind of bad config, and the round trip
 * mw_hparams_to_config -> mw_hparams_from_config. */
#include "st_testutil.h"

#include "model/hparams.h"

#include <math.h>

/* Parses text (strictly: duplicate keys are an error) and reads it. */
static enum mw_status from_text(const char *text, mw_hparams *hp, const mw_arch **arch,
                                mw_err *err) {
    json_error_t je;
    json_t *c = json_loads(text, JSON_REJECT_DUPLICATES, &je);
    if (!c) {
        fprintf(stderr, "bad test JSON: %s\n%s\n", je.text, text);
        exit(1);
    }
    enum mw_status s = mw_hparams_from_config(c, hp, arch, err);
    json_decref(c);
    return s;
}

/* Shapes as in the published configs (SmolLM2-135M, Qwen2.5-0.5B, Qwen3-0.6B,
 * gemma-3-270m), trimmed to what we read plus a few keys we ignore. */
static const char LLAMA[] =
    "{\"architectures\": [\"LlamaForCausalLM\"], \"model_type\": \"llama\", \"vocab_size\": "
    "49152, \"hidden_size\": 576, \"intermediate_size\": 1536, \"num_hidden_layers\": 30, "
    "\"num_attention_heads\": 9, \"num_key_value_heads\": 3, \"max_position_embeddings\": 8192, "
    "\"rms_norm_eps\": 1e-05, \"rope_theta\": 100000, \"tie_word_embeddings\": true, "
    "\"rope_scaling\": null, \"torch_dtype\": \"bfloat16\", \"bos_token_id\": 0}";
static const char QWEN2[] =
    "{\"model_type\": \"qwen2\", \"vocab_size\": 151936, \"hidden_size\": 896, "
    "\"intermediate_size\": 4864, \"num_hidden_layers\": 24, \"num_attention_heads\": 14, "
    "\"num_key_value_heads\": 2, \"max_position_embeddings\": 32768, \"rms_norm_eps\": 1e-06, "
    "\"rope_theta\": 1000000.0, \"tie_word_embeddings\": true, \"sliding_window\": 32768, "
    "\"use_sliding_window\": false}";
static const char QWEN3[] =
    "{\"model_type\": \"qwen3\", \"vocab_size\": 151936, \"hidden_size\": 1024, "
    "\"intermediate_size\": 3072, \"num_hidden_layers\": 28, \"num_attention_heads\": 16, "
    "\"num_key_value_heads\": 8, \"head_dim\": 128, \"max_position_embeddings\": 40960, "
    "\"rms_norm_eps\": 1e-06, \"rope_theta\": 1000000, \"tie_word_embeddings\": false}";
static const char GEMMA3[] =
    "{\"model_type\": \"gemma3_text\", \"vocab_size\": 262144, \"hidden_size\": 640, "
    "\"intermediate_size\": 2048, \"num_hidden_layers\": 18, \"num_attention_heads\": 4, "
    "\"num_key_value_heads\": 1, \"head_dim\": 256, \"max_position_embeddings\": 32768, "
    "\"rms_norm_eps\": 1e-06, \"rope_theta\": 1000000.0, \"rope_local_base_freq\": 10000.0, "
    "\"sliding_window\": 512, \"_sliding_window_pattern\": 6, \"query_pre_attn_scalar\": 256}";

static bool same_hparams(const mw_hparams *a, const mw_hparams *b) {
    return strcmp(a->arch, b->arch) == 0 && a->n_vocab == b->n_vocab &&
           a->n_ctx_train == b->n_ctx_train && a->n_embd == b->n_embd && a->n_layer == b->n_layer &&
           a->n_head == b->n_head && a->n_head_kv == b->n_head_kv && a->head_dim == b->head_dim &&
           a->n_ff == b->n_ff && a->norm_eps == b->norm_eps && a->rope_base == b->rope_base &&
           a->rope_base_local == b->rope_base_local && a->sliding_window == b->sliding_window &&
           a->swa_pattern == b->swa_pattern && a->tied_output == b->tied_output &&
           a->attn_scale == b->attn_scale && a->rope_scale == b->rope_scale;
}

static void print_hp(const char *what, const mw_hparams *h) {
    fprintf(stderr,
            "  %s: %s vocab %lld ctx %lld embd %lld layers %lld heads %lld/%lld hd %lld ff %lld "
            "eps %g rope %g/%g swa %lld/%lld tied %d attn scale %g rope scale %g\n",
            what, h->arch, (long long)h->n_vocab, (long long)h->n_ctx_train, (long long)h->n_embd,
            (long long)h->n_layer, (long long)h->n_head, (long long)h->n_head_kv,
            (long long)h->head_dim, (long long)h->n_ff, h->norm_eps, h->rope_base,
            h->rope_base_local, (long long)h->sliding_window, (long long)h->swa_pattern,
            h->tied_output, h->attn_scale, h->rope_scale);
}

static void expect_hp(int line, const char *text, const mw_hparams *want) {
    mw_hparams hp;
    const mw_arch *arch = NULL;
    mw_err err = {{0}};
    enum mw_status s = from_text(text, &hp, &arch, &err);
    check_err(__FILE__, line, s, MW_OK, &err, NULL);
    if (s) return;
    if (!same_hparams(&hp, want) || !arch || strcmp(arch->name, want->arch) != 0) {
        fprintf(stderr, "%s:%d: hyperparameters differ\n", __FILE__, line);
        print_hp("got ", &hp);
        print_hp("want", want);
        g_failures++;
    }
}

static void test_good(void) {
    mw_hparams llama = {"llama", 49152, 8192, 576, 30, 9,    3, 64, 1536,
                        1e-5,    1e5,   0,    0,   0,  true, 0, 0};
    mw_hparams qwen2 = {"qwen2", 151936, 32768, 896, 24, 14,   2, 64, 4864,
                        1e-6,    1e6,    0,     0,   0,  true, 0, 0};
    mw_hparams qwen3 = {"qwen3", 151936, 40960, 1024, 28, 16,    8, 128, 3072,
                        1e-6,    1e6,    0,     0,    0,  false, 0, 0};
    mw_hparams gemma3 = {"gemma3", 262144, 32768, 640, 18, 4,    1, 256, 2048,
                         1e-6,     1e6,    1e4,   512, 6,  true, 0, 0};
    expect_hp(__LINE__, LLAMA, &llama);
    expect_hp(__LINE__, QWEN2, &qwen2);
    expect_hp(__LINE__, QWEN3, &qwen3);
    expect_hp(__LINE__, GEMMA3, &gemma3);
    /* defaults: context 2048, eps 1e-6, rope 10000, tied, kv heads = heads,
     * and for gemma3 a 4096 window, every 6th block global, local base 1e4 */
    mw_hparams dflt = {"llama", 10, 2048, 8, 1, 2, 2, 4, 16, 1e-6, 1e4, 0, 0, 0, true, 0, 0};
    expect_hp(__LINE__,
              "{\"model_type\": \"llama\", \"vocab_size\": 10, \"hidden_size\": 8, "
              "\"intermediate_size\": 16, \"num_hidden_layers\": 1, \"num_attention_heads\": 2}",
              &dflt);
    expect_hp(__LINE__,
              "{\"model_type\": \"llama\", \"vocab_size\": 10, \"hidden_size\": 8, "
              "\"intermediate_size\": 16, \"num_hidden_layers\": 1, \"num_attention_heads\": 2, "
              "\"num_key_value_heads\": null, \"head_dim\": null, \"rope_theta\": null, "
              "\"max_position_embeddings\": null, \"tie_word_embeddings\": null}",
              &dflt);
    mw_hparams g_dflt = {"gemma3", 10,  2048, 8,    1, 2,    2, 4, 16,
                         1e-6,     1e4, 1e4,  4096, 6, true, 0, 0};
    expect_hp(__LINE__,
              "{\"model_type\": \"gemma3_text\", \"vocab_size\": 10, \"hidden_size\": 8, "
              "\"intermediate_size\": 16, \"num_hidden_layers\": 1, \"num_attention_heads\": 2}",
              &g_dflt);
    g_dflt.swa_pattern = 3, g_dflt.sliding_window = 64, g_dflt.rope_base_local = 5e3;
    expect_hp(__LINE__,
              "{\"model_type\": \"gemma3_text\", \"vocab_size\": 10, \"hidden_size\": 8, "
              "\"intermediate_size\": 16, \"num_hidden_layers\": 1, \"num_attention_heads\": 2, "
              "\"sliding_window_pattern\": 3, \"sliding_window\": 64, "
              "\"rope_local_base_freq\": 5000}",
              &g_dflt);
    printf("good configs: llama, qwen2, qwen3, gemma3_text and defaults read\n");
}

/* A small valid llama config with one key replaced (value NULL: removed). */
static char *with_key(const char *key, const char *value) {
    json_t *c = json_loads("{\"model_type\": \"llama\", \"vocab_size\": 32, \"hidden_size\": 64, "
                           "\"intermediate_size\": 128, \"num_hidden_layers\": 2, "
                           "\"num_attention_heads\": 4, \"num_key_value_heads\": 2}",
                           0, NULL);
    if (value) {
        json_t *v = json_loads(value, JSON_DECODE_ANY, NULL);
        if (!v) abort();
        json_object_set_new(c, key, v);
    } else {
        json_object_del(c, key);
    }
    char *text = json_dumps(c, JSON_COMPACT);
    json_decref(c);
    return text;
}

static int g_bad;

static void expect_bad(int line, const char *key, const char *value, enum mw_status want,
                       const char *part) {
    char *text = with_key(key, value);
    mw_hparams hp;
    const mw_arch *arch = NULL;
    mw_err err = {{0}};
    enum mw_status s = from_text(text, &hp, &arch, &err);
    check_err(__FILE__, line, s, want, &err, part);
    if (s != MW_OK && (!err.msg[0] || strchr(err.msg, '\n'))) {
        fprintf(stderr, "%s:%d: message is not one line\n", __FILE__, line);
        g_failures++;
    }
    g_bad++;
    free(text);
}
#define BAD(key, value, want, part) expect_bad(__LINE__, key, value, want, part)

static void test_bad(void) {
    BAD("model_type", NULL, MW_ERR_NOT_FOUND, "no \"model_type\"");
    BAD("model_type", "null", MW_ERR_NOT_FOUND, "no \"model_type\"");
    BAD("model_type", "3", MW_ERR_FORMAT, "\"model_type\" must be a string");
    BAD("model_type", "[\"llama\"]", MW_ERR_FORMAT, "\"model_type\" must be a string");
    BAD("model_type", "\"gemma3\"", MW_ERR_UNSUPPORTED, "'gemma3' is not supported");
    BAD("model_type", "\"mistral\"", MW_ERR_UNSUPPORTED, "'mistral' is not supported");
    BAD("model_type", "\"Llama\"", MW_ERR_UNSUPPORTED, "not supported");
    BAD("model_type", "\"\"", MW_ERR_UNSUPPORTED, "not supported");
    BAD("model_type", "\"bad\\nline\"", MW_ERR_UNSUPPORTED, "bad?line");
    static const char *const REQUIRED[] = {"vocab_size", "hidden_size", "intermediate_size",
                                           "num_hidden_layers", "num_attention_heads"};
    for (int i = 0; i < 5; i++) {
        char part[64];
        snprintf(part, sizeof part, "no \"%s\"", REQUIRED[i]);
        BAD(REQUIRED[i], NULL, MW_ERR_NOT_FOUND, part);
        BAD(REQUIRED[i], "null", MW_ERR_NOT_FOUND, part);
        snprintf(part, sizeof part, "\"%s\" must be a positive integer", REQUIRED[i]);
        static const char *const WRONG[] = {"0",
                                            "-4",
                                            "\"64\"",
                                            "64.0",
                                            "true",
                                            "[64]",
                                            "{}",
                                            "1099511627777",
                                            "-9223372036854775808"};
        for (int k = 0; k < 9; k++)
            BAD(REQUIRED[i], WRONG[k], MW_ERR_FORMAT, part);
    }
    static const char *const OPTIONAL[] = {"num_key_value_heads", "head_dim",
                                           "max_position_embeddings"};
    for (int i = 0; i < 3; i++) {
        char part[64];
        snprintf(part, sizeof part, "\"%s\" must be a positive integer", OPTIONAL[i]);
        BAD(OPTIONAL[i], "0", MW_ERR_FORMAT, part);
        BAD(OPTIONAL[i], "-2", MW_ERR_FORMAT, part);
        BAD(OPTIONAL[i], "\"2\"", MW_ERR_FORMAT, part);
    }
    BAD("rms_norm_eps", "-1e-6", MW_ERR_FORMAT, "\"rms_norm_eps\" must be a non-negative number");
    BAD("rms_norm_eps", "\"1e-6\"", MW_ERR_FORMAT, "\"rms_norm_eps\"");
    BAD("rope_theta", "-10000", MW_ERR_FORMAT, "\"rope_theta\"");
    BAD("rope_theta", "[]", MW_ERR_FORMAT, "\"rope_theta\"");
    BAD("tie_word_embeddings", "\"yes\"", MW_ERR_FORMAT, "\"tie_word_embeddings\" must be");
    BAD("tie_word_embeddings", "1", MW_ERR_FORMAT, "\"tie_word_embeddings\" must be");
    /* heads that do not divide */
    BAD("num_key_value_heads", "3", MW_ERR_FORMAT, "num_key_value_heads must divide");
    BAD("num_key_value_heads", "8", MW_ERR_FORMAT, "num_key_value_heads must divide");
    BAD("num_attention_heads", "6", MW_ERR_FORMAT, "hidden_size");   /* 64 / 6 */
    BAD("num_attention_heads", "128", MW_ERR_FORMAT, "hidden_size"); /* head_dim would be 0 */
    /* sizes whose products do not fit: heads x head_dim, absurd block counts */
    BAD("head_dim", "1099511627776", MW_ERR_FORMAT, "too large");
    BAD("num_hidden_layers", "1099511627776", MW_ERR_FORMAT, "num_hidden_layers");
    BAD("num_hidden_layers", "100001", MW_ERR_FORMAT, "100001 is more than 100000");
    printf("bad configs: %d refused with the right status and message\n", g_bad);

    /* not an object at all */
    static const char *const NOT_OBJECTS[] = {"[]", "3", "\"llama\"", "null", "true"};
    for (int i = 0; i < 5; i++) {
        json_t *c = json_loads(NOT_OBJECTS[i], JSON_DECODE_ANY, NULL);
        mw_hparams hp;
        const mw_arch *arch = NULL;
        mw_err err = {{0}};
        CHECK_ERR(mw_hparams_from_config(c, &hp, &arch, &err), MW_ERR_FORMAT, err, "not an object");
        json_decref(c);
    }
    mw_hparams hp;
    const mw_arch *arch = NULL;
    mw_err err = {{0}};
    CHECK_ERR(mw_hparams_from_config(NULL, &hp, &arch, &err), MW_ERR_FORMAT, err, "not an object");
}

/* A small gemma3_text config with extra keys (JSON members, no braces). */
static void gemma_with(int line, const char *extra, enum mw_status want, const char *part,
                       mw_hparams *hp) {
    char text[1024];
    snprintf(text, sizeof text,
             "{\"model_type\": \"gemma3_text\", \"vocab_size\": 10, \"hidden_size\": 64, "
             "\"intermediate_size\": 16, \"num_hidden_layers\": 2, \"num_attention_heads\": 4, "
             "\"head_dim\": 32%s%s}",
             extra[0] ? ", " : "", extra);
    const mw_arch *arch = NULL;
    mw_err err = {{0}};
    enum mw_status s = from_text(text, hp, &arch, &err);
    check_err(__FILE__, line, s, want, &err, part);
}

/* Gemma 3's attention scale and the linear RoPE scaling of global blocks,
 * as transformers 4 and 5 write them. */
static void test_rope_and_attn_scale(void) {
    mw_hparams hp;
    /* gemma-3-4b: query_pre_attn_scalar = head_dim (the default), rope_scaling
     * linear 8 for the global blocks */
    gemma_with(__LINE__,
               "\"query_pre_attn_scalar\": 32, \"rope_theta\": 1000000, "
               "\"rope_scaling\": {\"rope_type\": \"linear\", \"factor\": 8.0}",
               MW_OK, NULL, &hp);
    CHECK(hp.attn_scale == 0 && hp.rope_scale == 8 && hp.rope_base == 1e6);
    /* gemma-3-27b: hidden / heads, not head_dim; "type" as older configs spell it */
    gemma_with(__LINE__,
               "\"query_pre_attn_scalar\": 168, \"rope_scaling\": {\"type\": \"linear\", "
               "\"factor\": 8}",
               MW_OK, NULL, &hp);
    CHECK(hp.attn_scale == 1 / sqrt(168.0) && hp.rope_scale == 8);
    /* transformers 5: rope_parameters per layer type */
    gemma_with(__LINE__,
               "\"rope_parameters\": {\"full_attention\": {\"rope_type\": \"linear\", "
               "\"factor\": 8.0, \"rope_theta\": 1000000.0}, \"sliding_attention\": "
               "{\"rope_type\": \"default\", \"rope_theta\": 5000.0}}",
               MW_OK, NULL, &hp);
    CHECK(hp.rope_scale == 8 && hp.rope_base == 1e6 && hp.rope_base_local == 5000);
    /* flat rope_parameters; default and null scaling are none */
    gemma_with(__LINE__, "\"rope_parameters\": {\"rope_type\": \"default\", \"rope_theta\": 2e5}",
               MW_OK, NULL, &hp);
    CHECK(hp.rope_scale == 0 && hp.rope_base == 2e5);
    gemma_with(__LINE__, "\"rope_scaling\": null, \"query_pre_attn_scalar\": null", MW_OK, NULL,
               &hp);
    CHECK(hp.rope_scale == 0 && hp.attn_scale == 0);
    gemma_with(__LINE__, "\"rope_scaling\": {\"rope_type\": \"linear\", \"factor\": 1}", MW_OK,
               NULL, &hp);
    CHECK(hp.rope_scale == 0);
    /* what we do not compute is refused rather than ignored */
    gemma_with(__LINE__, "\"rope_scaling\": {\"rope_type\": \"yarn\", \"factor\": 4}",
               MW_ERR_UNSUPPORTED, "'yarn' is not supported", &hp);
    gemma_with(__LINE__,
               "\"rope_parameters\": {\"sliding_attention\": {\"rope_type\": \"linear\", "
               "\"factor\": 2}}",
               MW_ERR_UNSUPPORTED, "sliding-window layers", &hp);
    gemma_with(__LINE__, "\"rope_scaling\": {\"rope_type\": \"linear\"}", MW_ERR_FORMAT,
               "positive \"factor\"", &hp);
    gemma_with(__LINE__, "\"rope_scaling\": {\"rope_type\": \"linear\", \"factor\": -8}",
               MW_ERR_FORMAT, "positive \"factor\"", &hp);
    gemma_with(__LINE__, "\"rope_scaling\": \"linear\"", MW_ERR_FORMAT,
               "\"rope_scaling\" must be an object", &hp);
    gemma_with(__LINE__, "\"rope_scaling\": {\"rope_type\": 1}", MW_ERR_FORMAT,
               "type must be a string", &hp);
    gemma_with(__LINE__, "\"rope_parameters\": []", MW_ERR_FORMAT,
               "\"rope_parameters\" must be an object", &hp);
    gemma_with(__LINE__, "\"query_pre_attn_scalar\": -1", MW_ERR_FORMAT,
               "\"query_pre_attn_scalar\"", &hp);
    printf("rope scaling and attention scale: transformers 4 and 5 forms read, 8 bad ones "
           "refused\n");
}

static void test_files(void) {
    json_t *j = NULL;
    mw_err err = {{0}};
    put_file(at("config.json"), LLAMA, strlen(LLAMA));
    CHECK_OK(mw_json_load_file(at("config.json"), &j, &err), err);
    CHECK(json_is_object(j));
    json_decref(j);
    static const struct {
        const char *text;
        const char *part;
    } BAD_FILES[] = {
        {"", "not valid JSON (line 1"},          {"not json", "not valid JSON"},
        {"{\"a\": 1,}", "not valid JSON"},       {"{\"a\": 1} {}", "not valid JSON"},
        {"{\"a\": 1, \"a\": 2}", "duplicate"},   {"{\n\"a\":\n}", "line 3"},
        {"{\"a\": \"\xff\"}", "not valid JSON"}, {"{\"a\": \"\\u0000\"}", "not valid JSON"},
    };
    for (size_t i = 0; i < sizeof BAD_FILES / sizeof BAD_FILES[0]; i++) {
        put_file(at("config.json"), BAD_FILES[i].text, strlen(BAD_FILES[i].text));
        j = (json_t *)1;
        CHECK_ERR(mw_json_load_file(at("config.json"), &j, &err), MW_ERR_FORMAT, err,
                  BAD_FILES[i].part);
        CHECK(j == NULL && strstr(err.msg, "config.json") && !strchr(err.msg, '\n'));
    }
    CHECK_ERR(mw_json_load_file(at("absent.json"), &j, &err), MW_ERR_IO, err, "absent.json");
    CHECK(j == NULL);
    printf("files: %zu bad JSON files and a missing one refused\n",
           sizeof BAD_FILES / sizeof BAD_FILES[0]);
}

/* hparams -> config.json -> hparams is exact for every family. */
static void test_round_trip(void) {
    const char *const CONFIGS[] = {LLAMA, QWEN2, QWEN3, GEMMA3};
    static const enum mw_type TYPES[] = {MW_TYPE_F32, MW_TYPE_F16, MW_TYPE_BF16, MW_TYPE_F32};
    static const char *const DTYPES[] = {"float32", "float16", "bfloat16", "float32"};
    int n = 0;
    for (int i = 0; i < 4; i++) {
        mw_hparams hp, back;
        const mw_arch *arch = NULL, *arch2 = NULL;
        mw_err err = {{0}};
        CHECK_OK(from_text(CONFIGS[i], &hp, &arch, &err), err);
        /* odd values survive too */
        hp.norm_eps = 1.0 / 3.0;
        hp.rope_base = 12345.678;
        hp.tied_output = i % 2 == 0;
        if (i == 0) hp.rope_scale = 4;
        if (i == 3) hp.attn_scale = 1 / sqrt(168.0), hp.rope_scale = 8;
        json_t *c = mw_hparams_to_config(&hp, TYPES[i], i == 0 ? 1 : -1, i == 0 ? 2 : -1);
        CHECK(c != NULL);
        if (!c) continue;
        CHECK(strcmp(json_string_value(json_object_get(c, "torch_dtype")), DTYPES[i]) == 0);
        CHECK(strcmp(json_string_value(json_object_get(c, "model_type")), arch->hf_model_type) ==
              0);
        CHECK(strcmp(json_string_value(json_array_get(json_object_get(c, "architectures"), 0)),
                     arch->hf_class) == 0);
        CHECK((json_object_get(c, "bos_token_id") != NULL) == (i == 0));
        if (arch->swa_pattern) {
            json_t *types = json_object_get(c, "layer_types");
            CHECK(json_array_size(types) == (size_t)hp.n_layer);
            CHECK(strcmp(json_string_value(json_array_get(types, 5)), "full_attention") == 0);
            CHECK(strcmp(json_string_value(json_array_get(types, 4)), "sliding_attention") == 0);
        }
        /* through text, as it is saved */
        char *text = json_dumps(c, JSON_INDENT(2));
        json_decref(c);
        enum mw_status s = from_text(text, &back, &arch2, &err);
        free(text);
        CHECK_OK(s, err);
        bool ok = !s && arch2 == arch && same_hparams(&hp, &back);
        if (!ok) {
            print_hp("before", &hp);
            print_hp("after ", &back);
        }
        CHECK(ok);
        n += ok;
    }
    mw_hparams bad = {"mamba", 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, false, 0, 0};
    CHECK(mw_hparams_to_config(&bad, MW_TYPE_F32, -1, -1) == NULL);
    printf("round trip: %d/4 families give the same hyperparameters back\n", n);
}

int main(void) {
    make_root();
    test_good();
    test_bad();
    test_rope_and_attn_scale();
    test_files();
    test_round_trip();
    rm_rf(g_root);
    if (g_failures) fprintf(stderr, "%d check(s) failed\n", g_failures);
    return g_failures ? 1 : 0;
}
