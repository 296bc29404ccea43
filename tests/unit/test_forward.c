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
#include <omp.h>

#define E     16   /* hidden */
#define HD    8    /* head dim */
#define NH    2    /* query heads */
#define FF    32   /* FFN */
#define VOCAB 4100 /* two chunks of the output head and a bit */

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

/* Distance in units in the last place between two finite floats. */
static double ulps(float a, double exact) {
    return fabs((double)a - exact) / (nextafterf((float)exact, INFINITY) - (float)exact);
}

/* The vectorized exp and what is built on it. */
static void test_exp(void) {
    double worst = 0;
    for (float x = -87.0f; x <= 88.0f; x = nextafterf(x + 0.000731f * fabsf(x), INFINITY))
        worst = fmax(worst, ulps(mw_expf(x), exp((double)x)));
    printf("mw_expf on [-87, 88]: max error %.2f ulp\n", worst);
    CHECK(worst <= 2.0);
    CHECK(mw_expf(0) == 1.0f && mw_expf(-INFINITY) == 0 && mw_expf(-100) == 0);
    CHECK(mw_expf(1000) == mw_expf(88) && isfinite(mw_expf(INFINITY)) && isnan(mw_expf(NAN)));

    /* sums and stored terms of every length past a vector, the tails too;
     * each term the same bits wherever it falls */
    float x[37], y[37];
    for (int i = 0; i < 37; i++)
        x[i] = -0.37f * (float)((i * 7) % 19);
    for (int n = 1; n <= 37; n++) {
        double want = 0, got = mw_exp_sum(x, y, n, 0.5f);
        for (int i = 0; i < n; i++) {
            want += exp((double)x[i] - 0.5);
            CHECK(y[i] == mw_expf(x[i] - 0.5f));
        }
        CHECK(fabs(got - want) < 1e-6 * want && got == mw_exp_sum(x, NULL, n, 0.5f));
        float mx = x[0];
        for (int i = 1; i < n; i++)
            mx = fmaxf(mx, x[i]);
        CHECK(mw_max(x, n) == mx);
    }
    float g[37], u[37], o[37];
    for (int i = 0; i < 37; i++) {
        g[i] = 0.4f * (float)(i - 18);
        u[i] = 1.0f - 0.05f * (float)i;
    }
    for (int silu = 0; silu < 2; silu++) {
        (silu ? mw_swiglu_row : mw_geglu_tanh_row)(o, g, u, 37);
        double err = 0;
        for (int i = 0; i < 37; i++) {
            /* 0.5 a (1 + tanh v) as a / (1 + exp(-2v)): 1 + tanh v cancels in
             * double too when v < -18 */
            double a = g[i], v = 0.7978845608028654 * (a + 0.044715 * a * a * a);
            double want = silu ? a / (1 + exp(-a)) : a / (1 + exp(-2 * v));
            err = fmax(err, fabs(o[i] - want * u[i]) / (fabs(want * u[i]) + 1e-30));
        }
        /* f32 rounding of the exponent is amplified by up to its size (|2v| < 40
         * here): a few 1e-6 */
        printf("%s: max relative error %.1e\n", silu ? "swiglu" : "geglu (tanh)", err);
        CHECK(err < 1e-5);
    }

    /* RoPE tables give the plain definition's bits, both layouts, scaled */
    mw_rope_table t;
    CHECK(mw_rope_table_init(&t, 40, HD, 1e6, 8.0));
    for (int neox = 0; neox < 2; neox++) {
        float a[2 * HD * 40], b[2 * HD * 40];
        for (int i = 0; i < 2 * HD * 40; i++)
            a[i] = b[i] = sinf(0.37f * (float)i);
        mw_rope_rows(a, 40, 2 * HD, 2, HD, 0, 1e6, 8.0, neox);
        for (int p = 0; p < 40; p++)
            mw_rope_row(b + p * 2 * HD, 2, &t, p, neox);
        CHECK(memcmp(a, b, sizeof a) == 0);
    }
    mw_rope_table_free(&t);
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

/* Final hidden states of n_seq windows of T tokens: x is [n_seq][T][E],
 * with scratch made for `room` windows (>= n_seq). */
static void run_in(const mw_model *m, const int32_t *tok, int64_t n_seq, int64_t T, float *x,
                   int64_t room) {
    mw_err err = {{0}};
    const mw_hparams *hp = mw_model_hparams(m);
    CHECK_OK(mw_embed(m, tok, n_seq * T, x, &err), err);
    mw_block_scratch s;
    CHECK_OK(mw_block_scratch_init(&s, hp, room, T, &err), err);
    for (int64_t b = 0; b < hp->n_layer; b++) {
        mw_block blk;
        CHECK_OK(mw_block_load(m, b, &blk, &err), err);
        mw_block_forward(m, &blk, x, n_seq, T, &s, NULL);
        mw_block_free(&blk);
    }
    mw_block_scratch_free(&s);
}

static void run(const mw_model *m, const int32_t *tok, int64_t n_seq, int64_t T, float *x) {
    run_in(m, tok, n_seq, T, x, n_seq);
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

/* Whether each of T positions moves when the token at `pos` changes. */
static void moved_long(const mw_model *m, int64_t T, int64_t pos, bool *out) {
    int32_t *t1 = malloc((size_t)T * sizeof *t1), *t2 = malloc((size_t)T * sizeof *t2);
    float *x1 = malloc((size_t)(T * E) * sizeof(float)),
          *x2 = malloc((size_t)(T * E) * sizeof(float));
    for (int64_t i = 0; i < T; i++)
        t1[i] = t2[i] = (int32_t)((7 * i + 3) % VOCAB);
    t2[pos] = (t1[pos] + 11) % VOCAB;
    run(m, t1, 1, T, x1);
    run(m, t2, 1, T, x2);
    for (int64_t i = 0; i < T; i++)
        out[i] = !same_row(x1 + i * E, x2 + i * E);
    free(t1);
    free(t2);
    free(x1);
    free(x2);
}

/* Windows longer than an attention unit (64 query rows): the units' key
 * ranges at the sliding window's edge and the causal diagonal. */
static void test_long_masks(void) {
    enum { T = 150, W = 70 };
    mw_err err = {{0}};
    mw_model *m = NULL;
    bool mv[T];
    write_model(at("long-local.gguf"), true, 1, W);
    CHECK_OK(mw_model_open(at("long-local.gguf"), &m, &err), err);
    if (!m) return;
    int64_t pos[] = {10, 63, 64, 100};
    int bad = 0;
    for (int k = 0; k < 4; k++) {
        moved_long(m, T, pos[k], mv);
        for (int64_t i = 0; i < T; i++)
            bad += mv[i] != (i >= pos[k] && i < pos[k] + W);
    }
    mw_model_close(m);
    write_model(at("long-llama.gguf"), false, 2, 0);
    CHECK_OK(mw_model_open(at("long-llama.gguf"), &m, &err), err);
    if (!m) return;
    for (int k = 0; k < 4; k++) {
        moved_long(m, T, pos[k], mv);
        for (int64_t i = 0; i < T; i++)
            bad += mv[i] != (i >= pos[k]);
    }
    mw_model_close(m);
    printf("windows of %d tokens, window %d: %d positions wrongly (un)affected\n", T, W, bad);
    CHECK(bad == 0);
}

/* The same bits with 1, 2 and 3 threads (blocks and head), and with scratch
 * made for more windows than a call runs (a last, smaller group). */
static void test_threads(void) {
    enum { T = 150, N = 2 };
    mw_err err = {{0}};
    mw_model *m = NULL;
    write_model(at("threads.gguf"), true, 6, 40);
    CHECK_OK(mw_model_open(at("threads.gguf"), &m, &err), err);
    if (!m) return;
    int32_t tok[N * T];
    for (int i = 0; i < N * T; i++)
        tok[i] = (int32_t)((i * i + 5 * i + 1) % VOCAB);
    size_t bytes = (size_t)(N * T * E) * sizeof(float);
    float *x[4];
    double nll[4][T - 1];
    int max_threads = omp_get_max_threads();
    for (int k = 0; k < 4; k++) {
        x[k] = malloc(bytes);
        omp_set_num_threads(k < 3 ? k + 1 : 2);
        run_in(m, tok, N, T, x[k], k < 3 ? N : N + 3);
        float h[(T - 1) * E];
        memcpy(h, x[k], sizeof h);
        CHECK_OK(mw_head_nll(m, h, T - 1, tok + 1, nll[k], &err), err);
    }
    omp_set_num_threads(max_threads);
    int same = 0;
    for (int k = 1; k < 4; k++)
        same += memcmp(x[k], x[0], bytes) == 0 && memcmp(nll[k], nll[0], sizeof nll[0]) == 0;
    printf("1, 2, 3 threads and a larger scratch: %d/3 runs give the bits of the first\n", same);
    CHECK(same == 3);
    for (int k = 0; k < 4; k++)
        free(x[k]);
    mw_model_close(m);
}

int main(void) {
    make_root();
    test_ops();
    test_exp();
    test_masks();
    test_batch_and_head();
    test_long_masks();
    test_threads();
    rm_rf(g_root);
    if (g_failures)
        fprintf(stderr, "%d check(s) failed\n", g_failures);
    else
        printf("forward: OK\n");
    return g_failures ? 1 : 0;
}
