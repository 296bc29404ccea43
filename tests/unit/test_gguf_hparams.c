/* Hyperparameters from GGUF metadata and the tensor checks of mw_model_open:
 * a tiny but complete llama-shaped file, then one key or tensor changed at
 * a time. Each must be refused with the right status and a one-line message
 * naming what is wrong. */
#include "gguf_testutil.h"

/* What to change in the tiny model. */
struct change {
    const char *drop_key;  /* leave this key out */
    const mw_gguf_kv *kv;  /* set this entry (added or replacing) */
    const mw_gguf_kv *kv2; /* and this one */
    const char *drop_t;    /* leave this tensor out */
    const char *reshape_t; /* give this tensor the shape below */
    int64_t ne[2];         /* (2-D) */
    const char *extra_t;   /* add this tensor with shape ne */
};

static const char *const BLOCK[] = {"attn_norm", "attn_q",   "attn_k", "attn_v",  "attn_output",
                                    "ffn_norm",  "ffn_gate", "ffn_up", "ffn_down"};

/* llama, 2 blocks, hidden 32, 4 heads of 8, 2 kv heads, ffn 64, vocab 16. */
static void shape_of(const char *part, int64_t ne[2], uint32_t *n_dims) {
    int64_t E = 32, KV = 16, F = 64, V = 16;
    *n_dims = 2;
    ne[1] = 1;
    if (strstr(part, "norm")) {
        *n_dims = 1, ne[0] = E;
    } else if (!strcmp(part, "attn_k") || !strcmp(part, "attn_v")) {
        ne[0] = E, ne[1] = KV;
    } else if (!strcmp(part, "ffn_gate") || !strcmp(part, "ffn_up")) {
        ne[0] = E, ne[1] = F;
    } else if (!strcmp(part, "ffn_down")) {
        ne[0] = F, ne[1] = E;
    } else if (!strcmp(part, "token_embd")) {
        ne[0] = E, ne[1] = V;
    } else {
        ne[0] = E, ne[1] = E;
    }
}

static enum mw_status add_tensor(mw_gguf_writer *w, const char *name, const char *part,
                                 const struct change *c, float **data, uint64_t *n, mw_err *err) {
    int64_t ne[2];
    uint32_t n_dims;
    if (c->drop_t && !strcmp(c->drop_t, name)) return MW_OK;
    shape_of(part, ne, &n_dims);
    if (c->reshape_t && !strcmp(c->reshape_t, name)) {
        ne[0] = c->ne[0], ne[1] = c->ne[1];
        n_dims = ne[1] == 1 ? 1 : 2;
    }
    uint64_t k = (uint64_t)(ne[0] * ne[1]);
    data[*n] = calloc(k ? k : 1, sizeof(float));
    n[1 + *n] = k;
    (*n)++;
    return mw_gguf_writer_add_tensor(w, name, MW_TYPE_F32, n_dims, ne, err);
}

static enum mw_status write_tiny(const char *path, const struct change *c, mw_err *err) {
    static const struct {
        const char *key;
        uint32_t v;
    } U32[] = {{"llama.block_count", 2},
               {"llama.embedding_length", 32},
               {"llama.feed_forward_length", 64},
               {"llama.attention.head_count", 4},
               {"llama.attention.head_count_kv", 2},
               {"llama.context_length", 128}};
    mw_gguf_writer *w = NULL;
    enum mw_status s = mw_gguf_writer_create(path, &w, err);
    if (s) return s;
    if (!c->drop_key || strcmp(c->drop_key, "general.architecture"))
        s = mw_gguf_writer_set_str(w, "general.architecture", "llama", err);
    for (size_t i = 0; !s && i < sizeof U32 / sizeof U32[0]; i++)
        if (!c->drop_key || strcmp(c->drop_key, U32[i].key))
            s = mw_gguf_writer_set_u32(w, U32[i].key, U32[i].v, err);
    if (!s) s = mw_gguf_writer_set_f32(w, "llama.attention.layer_norm_rms_epsilon", 1e-5f, err);
    if (!s && c->kv) s = mw_gguf_writer_set_kv(w, c->kv, err);
    if (!s && c->kv2) s = mw_gguf_writer_set_kv(w, c->kv2, err);
    float *data[64];
    uint64_t counts[65] = {0}; /* counts[0] = tensors so far, then sizes */
    char name[64];
    if (!s) s = add_tensor(w, "token_embd.weight", "token_embd", c, data, counts, err);
    if (!s) s = add_tensor(w, "output_norm.weight", "output_norm", c, data, counts, err);
    for (int b = 0; !s && b < 2; b++)
        for (size_t p = 0; !s && p < sizeof BLOCK / sizeof BLOCK[0]; p++) {
            snprintf(name, sizeof name, "blk.%d.%s.weight", b, BLOCK[p]);
            s = add_tensor(w, name, BLOCK[p], c, data, counts, err);
        }
    if (!s && c->extra_t) s = add_tensor(w, c->extra_t, "extra", c, data, counts, err);
    for (uint64_t i = 0; i < counts[0]; i++) {
        if (!s) s = mw_gguf_writer_write_tensor(w, data[i], counts[1 + i] * 4, err);
        free(data[i]);
    }
    if (s) {
        mw_gguf_writer_free(w);
        return s;
    }
    return mw_gguf_writer_finish(w, err);
}

static int g_cases;

static void expect(int line, const struct change *c, enum mw_status want, const char *part) {
    mw_err err = {{0}};
    const char *path = at("tiny.gguf");
    enum mw_status s = write_tiny(path, c, &err);
    if (s) {
        fprintf(stderr, "%s:%d: cannot write the model: %s\n", __FILE__, line, err.msg);
        g_failures++;
        return;
    }
    mw_model *m = NULL;
    s = mw_model_open(path, &m, &err);
    check_err(__FILE__, line, s, want, &err, part);
    if (s != MW_OK && (m || !one_line(&err))) {
        fprintf(stderr, "%s:%d: a failed open left a model or a bad message\n", __FILE__, line);
        g_failures++;
    }
    mw_model_close(m);
    g_cases++;
}
#define EXPECT(want, part, ...) expect(__LINE__, &(struct change){__VA_ARGS__}, want, part)

static const uint32_t U_ZERO = 0, U_THREE = 3, U_30 = 30, U_MANY = 200000, U_BIG = 1u << 31;
static const float F_NEG = -1.0f, F_NAN = __builtin_nanf("");
static const int64_t I_HUGE = 1ll << 40, I_TOO_HUGE = (1ll << 40) + 1;
static const mw_str S_MAMBA = {"mamba", 5}, S_GEMMA = {"gemma3", 6};
static mw_str TOKENS[20];

#define KV(k, t, v) (&(mw_gguf_kv){k, t, t, 1, &(v)})

static void test_good(void) {
    mw_err err = {{0}};
    CHECK_OK(write_tiny(at("tiny.gguf"), &(struct change){0}, &err), err);
    mw_model *m = NULL;
    CHECK_OK(mw_model_open(at("tiny.gguf"), &m, &err), err);
    if (!m) return;
    const mw_hparams *hp = mw_model_hparams(m);
    CHECK(strcmp(hp->arch, "llama") == 0 && hp->n_vocab == 16 && hp->n_ctx_train == 128);
    CHECK(hp->n_embd == 32 && hp->n_layer == 2 && hp->n_head == 4 && hp->n_head_kv == 2);
    CHECK(hp->head_dim == 8 && hp->n_ff == 64 && hp->tied_output);
    CHECK(hp->norm_eps == (double)1e-5f && hp->rope_base == 10000.0 && hp->sliding_window == 0);
    CHECK(mw_model_n_tensors(m) == 20 && mw_model_format(m) == MW_FORMAT_GGUF);
    mw_model_close(m);
    EXPECT(MW_OK, NULL, .extra_t = "output.weight", .reshape_t = "output.weight", .ne = {32, 16});
    printf("tiny llama GGUF: hyperparameters and 20 tensors as written\n");
}

static void test_keys(void) {
    EXPECT(MW_ERR_NOT_FOUND, "missing GGUF key general.architecture",
           .drop_key = "general.architecture");
    EXPECT(MW_ERR_FORMAT, "general.architecture must be a string",
           .kv = KV("general.architecture", MW_GGUF_UINT32, U_THREE));
    EXPECT(MW_ERR_UNSUPPORTED, "architecture 'mamba' is not supported",
           .kv = KV("general.architecture", MW_GGUF_STRING, S_MAMBA));
    static const char *const NEEDED[] = {"llama.block_count", "llama.embedding_length",
                                         "llama.feed_forward_length", "llama.attention.head_count",
                                         "llama.context_length"};
    for (int i = 0; i < 5; i++) {
        char part[80];
        snprintf(part, sizeof part, "missing GGUF key %s", NEEDED[i]);
        EXPECT(MW_ERR_NOT_FOUND, part, .drop_key = NEEDED[i]);
        snprintf(part, sizeof part, "GGUF key %s must be a positive integer", NEEDED[i]);
        EXPECT(MW_ERR_FORMAT, part, .kv = KV(NEEDED[i], MW_GGUF_UINT32, U_ZERO));
        EXPECT(MW_ERR_FORMAT, part, .kv = KV(NEEDED[i], MW_GGUF_FLOAT32, F_NEG));
        EXPECT(MW_ERR_FORMAT, part, .kv = KV(NEEDED[i], MW_GGUF_STRING, S_MAMBA));
        EXPECT(MW_ERR_FORMAT, part, .kv = KV(NEEDED[i], MW_GGUF_INT64, I_TOO_HUGE));
    }
    EXPECT(MW_ERR_FORMAT, "head_count_kv must be a positive divisor",
           .kv = KV("llama.attention.head_count_kv", MW_GGUF_UINT32, U_THREE));
    EXPECT(MW_ERR_FORMAT, "head_count_kv must be a positive divisor",
           .kv = KV("llama.attention.head_count_kv", MW_GGUF_UINT32, U_ZERO));
    EXPECT(MW_ERR_FORMAT, "head_count_kv",
           .kv = &(mw_gguf_kv){"llama.attention.head_count_kv", MW_GGUF_ARRAY, MW_GGUF_UINT32, 1,
                               &U_THREE});
    EXPECT(MW_ERR_FORMAT, "rms_epsilon must be a non-negative number",
           .kv = KV("llama.attention.layer_norm_rms_epsilon", MW_GGUF_FLOAT32, F_NAN));
    EXPECT(MW_ERR_FORMAT, "rope.freq_base must be a non-negative number",
           .kv = KV("llama.rope.freq_base", MW_GGUF_FLOAT32, F_NEG));
    EXPECT(MW_ERR_FORMAT, "rope.freq_base",
           .kv = KV("llama.rope.freq_base", MW_GGUF_STRING, S_MAMBA));
    /* sizes that do not divide or do not fit */
    EXPECT(MW_ERR_FORMAT, "embedding_length 30 is not a multiple of the head count 4",
           .kv = KV("llama.embedding_length", MW_GGUF_UINT32, U_30));
    EXPECT(MW_ERR_FORMAT, "head count x key length is too large",
           .kv = KV("llama.attention.key_length", MW_GGUF_INT64, I_HUGE));
    /* 2^40 heads of 2^40: the query size would overflow int64 */
    EXPECT(MW_ERR_FORMAT, "head count x key length is too large",
           .kv = KV("llama.attention.key_length", MW_GGUF_INT64, I_HUGE),
           .kv2 = KV("llama.attention.head_count", MW_GGUF_INT64, I_HUGE));
    EXPECT(MW_ERR_FORMAT, "block_count 200000 is more than 100000",
           .kv = KV("llama.block_count", MW_GGUF_UINT32, U_MANY));
    EXPECT(MW_ERR_FORMAT, "block_count 2147483648 is more than",
           .kv = KV("llama.block_count", MW_GGUF_UINT32, U_BIG));
    /* keys are looked up under the architecture's name */
    EXPECT(MW_ERR_NOT_FOUND, "missing GGUF key gemma3.block_count",
           .kv = KV("general.architecture", MW_GGUF_STRING, S_GEMMA));
    printf("metadata: %d cases refused with the right status\n", g_cases);
}

static void test_tensors(void) {
    int before = g_cases;
    /* no tokenizer and no embedding: nothing gives the vocabulary size */
    EXPECT(MW_ERR_FORMAT, "vocabulary size is unknown", .drop_t = "token_embd.weight");
    EXPECT(MW_ERR_NOT_FOUND, "missing tensor blk.1.ffn_down.weight",
           .drop_t = "blk.1.ffn_down.weight");
    EXPECT(MW_ERR_NOT_FOUND, "missing tensor output_norm.weight", .drop_t = "output_norm.weight");
    EXPECT(MW_ERR_SHAPE, "tensor blk.0.attn_k.weight has shape [32, 32",
           .reshape_t = "blk.0.attn_k.weight", .ne = {32, 32});
    EXPECT(MW_ERR_SHAPE, "blk.1.ffn_down.weight", .reshape_t = "blk.1.ffn_down.weight",
           .ne = {32, 64});
    EXPECT(MW_ERR_SHAPE, "blk.0.attn_norm.weight", .reshape_t = "blk.0.attn_norm.weight",
           .ne = {32, 2});
    EXPECT(MW_ERR_SHAPE, "output.weight", .extra_t = "output.weight", .reshape_t = "output.weight",
           .ne = {32, 15});
    /* the vocabulary comes from the tokenizer when there is one */
    EXPECT(MW_ERR_SHAPE, "token_embd.weight",
           .kv = &(mw_gguf_kv){"tokenizer.ggml.tokens", MW_GGUF_ARRAY, MW_GGUF_STRING, 20, TOKENS});
    printf("tensors: %d missing or wrong-shaped tensors refused\n", g_cases - before);
}

int main(void) {
    make_root();
    for (int i = 0; i < 20; i++)
        TOKENS[i] = (mw_str){"a", 1};
    test_good();
    test_keys();
    test_tensors();
    rm_rf(g_root);
    if (g_failures) fprintf(stderr, "%d check(s) failed\n", g_failures);
    return g_failures ? 1 : 0;
}
