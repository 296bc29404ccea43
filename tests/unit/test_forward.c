/* Forward pass checks that need no reference implementation: the row
 * operations against closed forms, and properties of the block forward on
 * small GGUF models written here with seeded weights:
 *   - causality: changing a token leaves every earlier position as it was;
 *   - the sliding window: a local block at position t sees exactly the
 *     tokens t - window + 1 .. t;
 *   - batching: windows run together give what each gives alone;
 *   - the chunked output head equals a plain log-softmax over the logits.
 * The numerical agreement with Hugging Face semantics is checked against
 * numpy in tests/py/test_forward_ref.py. */
#include "st_testutil.h"

#include "kernels/ops.h"
#include "model/block.h"
#include "model/head.h"

#include <math.h>

#define E     16 /* hidden */
#define HD    8  /* head dim */
#define NH    2  /* query heads */
#define FF    32 /* FFN */
#define VOCAB 40

/* ---- row operations ---- */

static void test_ops(void) {
    /* hd = 2: one pair rotated by pos * base^0 = pos radians, both layouts */
    for (int neox = 0; neox < 2; neox++) {
        float x[2 * 2] = {1, 0, 1, 0};
        mw_rope_rows(x, 2, 2, 1, 2, 3, 10000.0, 1.0, neox);
        CHECK(fabsf(x[0] - cosf(3)) < 1e-6f && fabsf(x[1] - sinf(3)) < 1e-6f);
        CHECK(fabsf(x[2] - cosf(4)) < 1e-6f && fabsf(x[3] - sinf(4)) < 1e-6f);
    }
    /* rotate-half on rows reordered (i, i + d/2) -> (2i, 2i + 1) equals the
     * adjacent-pair RoPE: the identity behind llama.cpp's q/k permutation */
    float a[3][HD], b[3][HD];
    for (int t = 0; t < 3; t++)
        for (int i = 0; i < HD; i++)
            a[t][i] = sinf(0.7f * (float)(t * HD + i) + 0.3f);
    for (int t = 0; t < 3; t++)
        for (int i = 0; i < HD / 2; i++) {
            b[t][2 * i] = a[t][i];
            b[t][2 * i + 1] = a[t][i + HD / 2];
        }
    mw_rope_rows(&a[0][0], 3, HD, 1, HD, 5, 500.0, 1.0, true);
    mw_rope_rows(&b[0][0], 3, HD, 1, HD, 5, 500.0, 1.0, false);
    double worst = 0;
    for (int t = 0; t < 3; t++)
        for (int i = 0; i < HD / 2; i++)
            worst = fmax(
                worst, fmax(fabs(b[t][2 * i] - a[t][i]), fabs(b[t][2 * i + 1] - a[t][i + HD / 2])));
    CHECK(worst < 1e-6);

    float s[4] = {1, 2, 3, -INFINITY};
    double lse = mw_softmax(s, 3);
    CHECK(fabs(lse - log(exp(1) + exp(2) + exp(3))) < 1e-6);
    CHECK(fabsf(s[0] + s[1] + s[2] - 1) < 1e-6f && fabsf(s[2] - 0.66524096f) < 1e-6f);

    /* GELU (tanh form) and SiLU times the up projection */
    float g[3] = {1.0f, -2.0f, 0.5f}, up[3] = {1.0f, 1.0f, 2.0f};
    mw_geglu_tanh(g, up, 3);
    CHECK(fabsf(g[0] - 0.84119199f) < 1e-6f && fabsf(g[1] + 0.04540231f) < 1e-6f);
    CHECK(fabsf(g[2] - 2 * 0.34571401f) < 1e-6f);
    float h[2] = {1.0f, -1.0f}, u2[2] = {3.0f, 1.0f};
    mw_swiglu(h, u2, 2);
    CHECK(fabsf(h[0] - 3 * 0.73105858f) < 1e-6f && fabsf(h[1] + 0.26894142f) < 1e-6f);

    float r[2][4] = {{1, 2, 3, 4}, {0, 0, 0, 2}}, w[4] = {1, 1, 1, 0.5f};
    mw_rmsnorm_rows(&r[0][0], &r[0][0], w, 2, 4, 0.0f, 4);
    CHECK(fabsf(r[0][0] - 1 / sqrtf(7.5f)) < 1e-6f && fabsf(r[1][3] - 1.0f) < 1e-6f);
}

/* ---- small models ---- */

static uint64_t g_rng;

static float rnd(float scale) {
    g_rng = g_rng * 6364136223846793005ull + 1442695040888963407ull;
    return scale * ((float)(g_rng >> 40) / (float)(1 << 24) * 2 - 1);
}

static void add(mw_gguf_writer *w, const char *name, int64_t rows, int64_t cols) {
    mw_err err = {{0}};
    int64_t ne[2] = {cols, rows};
    CHECK_OK(mw_gguf_writer_add_tensor(w, name, MW_TYPE_F32, rows > 1 ? 2 : 1, ne, &err), err);
}

/* The tensors of a model in writing order: name, rows, cols, scale, base
 * (values are base + uniform(-scale, scale)). */
struct spec {
    char name[64];
    int64_t rows, cols;
    float scale, base;
};

static int specs(bool gemma, int n_layer, struct spec *s) {
    int n = 0;
#define T(nm, r, c, sc, b)                                                                         \
    (snprintf(s[n].name, 64, "%s", nm), s[n].rows = r, s[n].cols = c, s[n].scale = sc,             \
     s[n].base = b, n++)
    T("token_embd.weight", VOCAB, E, 1.0f, 0.0f);
    T("output_norm.weight", 1, E, 0.2f, 1.0f);
    for (int l = 0; l < n_layer; l++) {
        char p[64];
#define B(suffix, r, c, sc, b) (snprintf(p, sizeof p, "blk.%d.%s", l, suffix), T(p, r, c, sc, b))
        B("attn_norm.weight", 1, E, 0.2f, 1.0f);
        B("attn_q.weight", NH * HD, E, 0.5f, 0.0f);
        B("attn_k.weight", HD, E, 0.5f, 0.0f);
        B("attn_v.weight", HD, E, 0.5f, 0.0f);
        B("attn_output.weight", E, NH * HD, 0.3f, 0.0f);
        B("ffn_norm.weight", 1, E, 0.2f, 1.0f);
        B("ffn_gate.weight", FF, E, 0.4f, 0.0f);
        B("ffn_up.weight", FF, E, 0.4f, 0.0f);
        B("ffn_down.weight", E, FF, 0.3f, 0.0f);
        if (gemma) {
            B("attn_q_norm.weight", 1, HD, 0.2f, 1.0f);
            B("attn_k_norm.weight", 1, HD, 0.2f, 1.0f);
            B("post_attention_norm.weight", 1, E, 0.2f, 1.0f);
            B("post_ffw_norm.weight", 1, E, 0.2f, 1.0f);
        }
#undef B
    }
#undef T
    return n;
}

static void write_model(const char *path, bool gemma, int n_layer, int window) {
    mw_err err = {{0}};
    mw_gguf_writer *w = NULL;
    CHECK_OK(mw_gguf_writer_create(path, &w, &err), err);
    if (!w) exit(1);
    const char *a = gemma ? "gemma3" : "llama";
    char key[96];
#define U32(k, v)                                                                                  \
    (snprintf(key, sizeof key, "%s.%s", a, k), mw_gguf_writer_set_u32(w, key, v, &err))
    CHECK_OK(mw_gguf_writer_set_str(w, "general.architecture", a, &err), err);
    CHECK_OK(U32("block_count", (uint32_t)n_layer), err);
    CHECK_OK(U32("context_length", 64), err);
    CHECK_OK(U32("embedding_length", E), err);
    CHECK_OK(U32("feed_forward_length", FF), err);
    CHECK_OK(U32("attention.head_count", NH), err);
    CHECK_OK(U32("attention.head_count_kv", 1), err);
    CHECK_OK(U32("attention.key_length", HD), err);
    CHECK_OK(U32("attention.value_length", HD), err);
    if (gemma) CHECK_OK(U32("attention.sliding_window", (uint32_t)window), err);
#undef U32
    struct spec s[128];
    int n = specs(gemma, n_layer, s);
    for (int i = 0; i < n; i++)
        add(w, s[i].name, s[i].rows, s[i].cols);
    g_rng = 42;
    for (int i = 0; i < n; i++) {
        size_t k = (size_t)(s[i].rows * s[i].cols);
        float *d = malloc(k * sizeof(float));
        for (size_t j = 0; j < k; j++)
            d[j] = s[i].base + rnd(s[i].scale);
        CHECK_OK(mw_gguf_writer_write_tensor(w, d, k * sizeof(float), &err), err);
        free(d);
    }
    CHECK_OK(mw_gguf_writer_finish(w, &err), err);
}

/* Final hidden states of n_seq windows of T tokens: x is [n_seq][T][E]. */
static void run(const mw_model *m, const int32_t *tok, int64_t n_seq, int64_t T, float *x) {
    mw_err err = {{0}};
    const mw_hparams *hp = mw_model_hparams(m);
    CHECK_OK(mw_embed(m, tok, n_seq * T, x, &err), err);
    mw_block_scratch s;
    CHECK_OK(mw_block_scratch_init(&s, hp, n_seq, T, &err), err);
    for (int64_t b = 0; b < hp->n_layer; b++) {
        mw_block blk;
        CHECK_OK(mw_block_load(m, b, &blk, &err), err);
        mw_block_forward(m, &blk, x, n_seq, T, &s, NULL);
        mw_block_free(&blk);
    }
    mw_block_scratch_free(&s);
}

static bool same_row(const float *a, const float *b) {
    return memcmp(a, b, E * sizeof(float)) == 0;
}

#define LEN 12

/* Changes the token at `pos` and reports which positions moved. */
static void moved(const mw_model *m, int pos, bool out[LEN]) {
    int32_t t1[LEN], t2[LEN];
    for (int i = 0; i < LEN; i++)
        t1[i] = t2[i] = (int32_t)((7 * i + 3) % VOCAB);
    t2[pos] = (t1[pos] + 11) % VOCAB;
    float x1[LEN * E], x2[LEN * E];
    run(m, t1, 1, LEN, x1);
    run(m, t2, 1, LEN, x2);
    for (int i = 0; i < LEN; i++)
        out[i] = !same_row(x1 + i * E, x2 + i * E);
}

static void test_masks(void) {
    mw_err err = {{0}};
    mw_model *m = NULL;
    bool mv[LEN];
    /* one gemma3 block: local (only every 6th is global), window 3 */
    write_model(at("local.gguf"), true, 1, 3);
    CHECK_OK(mw_model_open(at("local.gguf"), &m, &err), err);
    if (!m) return;
    moved(m, 4, mv);
    for (int i = 0; i < LEN; i++)
        if (mv[i] != (i >= 4 && i <= 6)) {
            fprintf(stderr, "local block: position %d %s\n", i, mv[i] ? "moved" : "did not move");
            g_failures++;
        }
    mw_model_close(m);
    /* six gemma3 blocks: the last is global and sees everything before */
    write_model(at("six.gguf"), true, 6, 2);
    CHECK_OK(mw_model_open(at("six.gguf"), &m, &err), err);
    if (!m) return;
    CHECK(mw_model_hparams(m)->sliding_window == 2);
    moved(m, 1, mv);
    for (int i = 0; i < LEN; i++)
        CHECK(mv[i] == (i >= 1));
    mw_model_close(m);
    /* llama: full causal attention */
    write_model(at("llama.gguf"), false, 2, 0);
    CHECK_OK(mw_model_open(at("llama.gguf"), &m, &err), err);
    if (!m) return;
    moved(m, 5, mv);
    for (int i = 0; i < LEN; i++)
        CHECK(mv[i] == (i >= 5));
    mw_model_close(m);
}

static void test_batch_and_head(void) {
    mw_err err = {{0}};
    mw_model *m = NULL;
    write_model(at("batch.gguf"), true, 6, 4);
    CHECK_OK(mw_model_open(at("batch.gguf"), &m, &err), err);
    if (!m) return;
    int32_t tok[3 * LEN];
    for (int i = 0; i < 3 * LEN; i++)
        tok[i] = (int32_t)((i * i + 5 * i + 1) % VOCAB);
    float all[3 * LEN * E], one[LEN * E];
    run(m, tok, 3, LEN, all);
    double worst = 0;
    for (int k = 0; k < 3; k++) {
        run(m, tok + k * LEN, 1, LEN, one);
        for (int i = 0; i < LEN * E; i++)
            worst = fmax(worst, fabs(one[i] - all[k * LEN * E + i]));
    }
    printf("batch of 3 windows vs one at a time: maxdiff %.1e\n", worst);
    CHECK(worst < 1e-6);

    /* the head against a plain log-softmax in double */
    float x[LEN * E], embd[VOCAB * E], norm[E];
    memcpy(x, all, sizeof x);
    double nll[LEN - 1];
    CHECK_OK(mw_head_nll(m, x, LEN - 1, tok + 1, nll, &err), err);
    const mw_tensor *t0 = mw_model_tensor_at(m, 0);
    int64_t ie = mw_model_find_tensor(m, "token_embd.weight") - t0;
    int64_t in = mw_model_find_tensor(m, "output_norm.weight") - t0;
    CHECK_OK(mw_model_tensor_f32(m, ie, embd, &err), err);
    CHECK_OK(mw_model_tensor_f32(m, in, norm, &err), err);
    worst = 0;
    for (int t = 0; t < LEN - 1; t++) {
        const float *h = all + t * E;
        double ss = 0, z[VOCAB], mx = -INFINITY, sum = 0;
        for (int j = 0; j < E; j++)
            ss += (double)h[j] * h[j];
        double sc = 1 / sqrt(ss / E + mw_model_hparams(m)->norm_eps);
        for (int v = 0; v < VOCAB; v++) {
            z[v] = 0;
            for (int j = 0; j < E; j++)
                z[v] += h[j] * sc * norm[j] * embd[v * E + j];
            mx = fmax(mx, z[v]);
        }
        for (int v = 0; v < VOCAB; v++)
            sum += exp(z[v] - mx);
        worst = fmax(worst, fabs(nll[t] - (mx + log(sum) - z[tok[t + 1]])));
    }
    printf("chunked head vs plain log-softmax: maxdiff %.1e\n", worst);
    CHECK(worst < 1e-5);
    mw_model_close(m);
}

int main(void) {
    make_root();
    test_ops();
    test_masks();
    test_batch_and_head();
    rm_rf(g_root);
    if (g_failures)
        fprintf(stderr, "%d check(s) failed\n", g_failures);
    else
        printf("forward: OK\n");
    return g_failures ? 1 : 0;
}
