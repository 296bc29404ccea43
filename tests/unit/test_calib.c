/* Calibration: window sampling (determinism, seeds, llama-imatrix chunks),
 * sets of windows, the accumulation of one input's sums against a naive
 * loop, and mw_calib_run against a naive block-by-block loop on a small
 * GGUF model written here, with and without a hook that changes weights. */
#include "st_testutil.h"

#include "calib/calib.h"
#include "core/err.h"
#include "model/head.h"

#include <math.h>
#include <omp.h>

/* ---- sampling ---- */

static void test_splitmix(void) {
    /* the published first outputs of splitmix64 from state 0 */
    uint64_t s = 0;
    CHECK(mw_splitmix64(&s) == 0xe220a8397b1dcdafull);
    CHECK(mw_splitmix64(&s) == 0x6e789e6aa1b965f4ull);
}

static int32_t g_text[1000];

static void sample(int64_t n, int64_t ctx, int32_t bos, int64_t samples, uint64_t seed, bool lcpp,
                   int32_t **w, int64_t *n_win) {
    mw_err err = {{0}};
    mw_sample_opts o = {.ctx = ctx, .samples = samples, .seed = seed, .llamacpp = lcpp};
    CHECK_OK(mw_calib_sample(g_text, n, bos, &o, w, n_win, &err), err);
}

/* Start (in text tokens) of each plain window; -1 if a window is not BOS
 * plus consecutive text. */
static void starts(const int32_t *w, int64_t n_win, int64_t ctx, int32_t bos, int64_t *out) {
    int64_t lead = bos >= 0;
    for (int64_t i = 0; i < n_win; i++) {
        const int32_t *x = w + i * ctx;
        out[i] = x[lead];
        if (lead && x[0] != bos) out[i] = -1;
        for (int64_t j = lead; j < ctx; j++)
            if (x[j] != x[lead] + (j - lead)) out[i] = -1;
    }
}

static void test_sampling(void) {
    for (int i = 0; i < 1000; i++)
        g_text[i] = i;
    int32_t *a, *b, *c;
    int64_t na, nb, nc, sa[111], sc[111];
    /* BOS + 9 text tokens: 111 full windows, the last 1 token dropped */
    sample(1000, 10, 7777, 5, 1, false, &a, &na);
    sample(1000, 10, 7777, 5, 1, false, &b, &nb);
    CHECK(na == 5 && nb == 5 && memcmp(a, b, 50 * sizeof *a) == 0); /* same seed, same windows */
    starts(a, na, 10, 7777, sa);
    for (int i = 0; i < 5; i++)
        CHECK(sa[i] >= 0 && sa[i] % 9 == 0 && sa[i] <= 990 && (i == 0 || sa[i] > sa[i - 1]));
    free(b);
    sample(1000, 10, 7777, 5, 2, false, &b, &nb);
    CHECK(memcmp(a, b, 50 * sizeof *a) != 0); /* another seed, another choice */
    /* a larger sample extends the smaller one (the first places of one shuffle) */
    sample(1000, 10, 7777, 6, 1, false, &c, &nc);
    starts(c, nc, 10, 7777, sc);
    int found = 0;
    for (int i = 0; i < 5; i++)
        for (int j = 0; j < 6; j++)
            found += sa[i] == sc[j];
    CHECK(found == 5);
    free(a);
    free(b);
    free(c);
    /* all windows, in order; asking for more than there are gives all */
    sample(1000, 10, 7777, -1, 9, false, &a, &na);
    sample(1000, 10, 7777, 500, 9, false, &b, &nb);
    CHECK(na == 111 && nb == 111 && memcmp(a, b, 1110 * sizeof *a) == 0);
    starts(a, na, 10, 7777, sa);
    for (int i = 0; i < 111; i++)
        CHECK(sa[i] == 9 * i);
    free(a);
    free(b);
    /* no BOS: windows of 10 text tokens */
    sample(1000, 10, -1, -1, 0, false, &a, &na);
    starts(a, na, 10, -1, sa);
    CHECK(na == 100 && sa[0] == 0 && sa[99] == 990);
    free(a);
    /* llama-imatrix: the first chunks of 10, each led by BOS */
    sample(995, 10, 7777, 3, 123, true, &a, &na);
    CHECK(na == 3 && a[0] == 7777 && a[1] == 1 && a[10] == 7777 && a[11] == 11 && a[29] == 29);
    free(a);
    sample(995, 10, -1, -1, 0, true, &a, &na);
    CHECK(na == 99 && a[0] == 0 && a[980] == 980);
    free(a);
    /* too little text, bad options */
    mw_err err = {{0}};
    mw_sample_opts o = {.ctx = 10, .samples = 1};
    CHECK_ERR(mw_calib_sample(g_text, 8, 5, &o, &a, &na, &err), MW_ERR_ARG, err, "fewer than");
    CHECK(a == NULL && na == 0);
    o.samples = 0;
    CHECK_ERR(mw_calib_sample(g_text, 100, 5, &o, &a, &na, &err), MW_ERR_ARG, err, NULL);
    o = (mw_sample_opts){.ctx = 1, .samples = 1};
    CHECK_ERR(mw_calib_sample(g_text, 100, 5, &o, &a, &na, &err), MW_ERR_ARG, err, NULL);
}

static void test_sets(void) {
    mw_err err = {{0}};
    mw_calib_set s, t;
    int32_t w[3][4] = {{1, 2, 3, 4}, {5, 6, 7, 8}, {9, 10, 11, 12}};
    CHECK_OK(mw_calib_set_create(&s, 4, &err), err);
    CHECK_OK(mw_calib_set_add(&s, "fr", &w[0][0], 2, &err), err);
    CHECK_OK(mw_calib_set_add(&s, "de", &w[2][0], 1, &err), err);
    CHECK(s.n_lang == 2 && !strcmp(s.langs[0], "de") && !strcmp(s.langs[1], "fr"));
    CHECK(s.n_win == 3 && s.lang[0] == 1 && s.lang[1] == 1 && s.lang[2] == 0);
    CHECK(s.tokens[4] == 5 && s.tokens[8] == 9);
    CHECK_OK(mw_calib_set_create(&t, 4, &err), err);
    CHECK_OK(mw_calib_set_add(&t, "sw", &w[1][0], 1, &err), err);
    CHECK_OK(mw_calib_set_add(&t, "de", &w[0][0], 1, &err), err);
    CHECK_OK(mw_calib_set_merge(&s, &t, &err), err);
    CHECK(s.n_lang == 3 && !strcmp(s.langs[2], "sw") && s.n_win == 5);
    CHECK(s.lang[0] == 1 && s.lang[2] == 0 && s.lang[3] == 2 && s.lang[4] == 0);
    CHECK(s.tokens[12] == 5 && s.tokens[16] == 1);
    mw_calib_set_free(&t);
    CHECK_OK(mw_calib_set_create(&t, 5, &err), err);
    CHECK_ERR(mw_calib_set_merge(&s, &t, &err), MW_ERR_ARG, err, "tokens");
    mw_calib_set_free(&t);
    mw_calib_set_free(&s);
}

/* ---- one input's sums ---- */

static void naive_add(double *sum2, double *sum, double *pos, const float *x, int64_t rows,
                      int64_t n) {
    for (int64_t r = 0; r < rows; r++)
        for (int64_t j = 0; j < n; j++) {
            double v = x[r * n + j];
            sum2[j] += v * v;
            sum[j] += v;
            pos[j] += x[r * n + j] > 0;
        }
}

static uint64_t g_rng = 1;

static float rnd(float scale) {
    g_rng = g_rng * 6364136223846793005ull + 1442695040888963407ull;
    return scale * ((float)(g_rng >> 40) / (float)(1 << 24) * 2 - 1);
}

static void test_accumulate(void) {
    enum { N = 333, ROWS = 57 };
    float *x = malloc(ROWS * N * sizeof *x);
    for (int i = 0; i < ROWS * N; i++)
        x[i] = i % 7 == 0 ? 0.0f : rnd(3.0f);
    double ref[3][N] = {{0}};
    naive_add(ref[0], ref[1], ref[2], x, ROWS, N);
    naive_add(ref[0], ref[1], ref[2], x, 20, N);
    for (int threads = 1; threads <= 3; threads++) {
        omp_set_num_threads(threads);
        double *d = calloc(6 * N + 2, sizeof *d);
        mw_input_stats s = {N, d, d + 2 * N, d + 4 * N, d + 6 * N};
        mw_input_stats_add(&s, 1, x, ROWS);
        mw_input_stats_add(&s, 1, x, 20);
        int bad = 0;
        for (int j = 0; j < N; j++) {
            bad += s.sum2[N + j] != ref[0][j] || s.sum[N + j] != ref[1][j];
            bad += s.pos[N + j] != ref[2][j] || s.sum2[j] != 0 || s.pos[j] != 0;
        }
        CHECK(bad == 0 && s.tokens[1] == ROWS + 20 && s.tokens[0] == 0);
        free(d);
    }
    omp_set_num_threads(2);
    free(x);
}

/* ---- the runner on a small model ---- */

#define E     32
#define HD    8
#define NH    2
#define FF    48
#define VOCAB 50
#define NL    3

static void add_tensor(mw_gguf_writer *w, const char *name, int64_t rows, int64_t cols) {
    mw_err err = {{0}};
    int64_t ne[2] = {cols, rows};
    CHECK_OK(mw_gguf_writer_add_tensor(w, name, MW_TYPE_F32, rows > 1 ? 2 : 1, ne, &err), err);
}

static void write_model(const char *path) {
    mw_err err = {{0}};
    mw_gguf_writer *w = NULL;
    CHECK_OK(mw_gguf_writer_create(path, &w, &err), err);
    if (!w) exit(1);
    CHECK_OK(mw_gguf_writer_set_str(w, "general.architecture", "llama", &err), err);
    const char *keys[] = {"block_count",          "context_length",
                          "embedding_length",     "feed_forward_length",
                          "attention.head_count", "attention.head_count_kv",
                          "attention.key_length", "attention.value_length"};
    uint32_t vals[] = {NL, 64, E, FF, NH, 1, HD, HD};
    for (int i = 0; i < 8; i++) {
        char key[96];
        snprintf(key, sizeof key, "llama.%s", keys[i]);
        CHECK_OK(mw_gguf_writer_set_u32(w, key, vals[i], &err), err);
    }
    struct {
        char name[64];
        int64_t rows, cols;
        float scale, base;
    } s[64];
    int n = 0;
#define T(r, c, sc, b) (s[n].rows = r, s[n].cols = c, s[n].scale = sc, s[n].base = b, n++)
    snprintf(s[n].name, 64, "token_embd.weight"), T(VOCAB, E, 1.0f, 0.0f);
    snprintf(s[n].name, 64, "output_norm.weight"), T(1, E, 0.2f, 1.0f);
    for (int l = 0; l < NL; l++) {
        const char *nm[] = {"attn_norm", "attn_q",   "attn_k", "attn_v",  "attn_output",
                            "ffn_norm",  "ffn_gate", "ffn_up", "ffn_down"};
        int64_t rc[][2] = {{1, E}, {NH * HD, E}, {HD, E}, {HD, E}, {E, NH * HD},
                           {1, E}, {FF, E},      {FF, E}, {E, FF}};
        for (int i = 0; i < 9; i++) {
            snprintf(s[n].name, 64, "blk.%d.%s.weight", l, nm[i]);
            T(rc[i][0], rc[i][1], rc[i][0] == 1 ? 0.2f : 0.4f, rc[i][0] == 1 ? 1.0f : 0.0f);
        }
    }
#undef T
    for (int i = 0; i < n; i++)
        add_tensor(w, s[i].name, s[i].rows, s[i].cols);
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

/* Naive statistics: the observer sums every reported input in double. */
struct naive {
    const mw_calib_set *set;
    mw_stats *st;
};

static void naive_observe(void *user, int64_t block, enum mw_linear lin, const float *x,
                          int64_t n_tokens, int64_t n_in) {
    struct naive *nv = user;
    if (lin == MW_LIN_K || lin == MW_LIN_V || lin == MW_LIN_UP) return;
    mw_input_stats *s = &nv->st->in[block * MW_IN_COUNT + mw_linear_input(lin)];
    for (int64_t r = 0; r < n_tokens; r++) {
        int l = nv->set->lang[r / nv->set->T];
        naive_add(s->sum2 + l * n_in, s->sum + l * n_in, s->pos + l * n_in, x + r * n_in, 1, n_in);
        s->tokens[l] += 1;
    }
}

/* Zeroes every other weight of attn_q, attn_output and ffn_down (a pruning
 * stand-in). */
static void prune_some(mw_block *b) {
    for (int lin = 0; lin < MW_LIN_COUNT; lin += 3)
        for (int64_t i = 0; i < b->rows[lin] * b->cols[lin]; i += 2)
            b->w[lin][i] = 0.0f;
}

/* All windows at once, block by block, optionally pruning before outputs. */
static void naive_run(const mw_model *m, const mw_calib_set *set, bool prune, mw_stats *st) {
    mw_err err = {{0}};
    int64_t n = set->n_win * set->T;
    float *x = malloc((size_t)(n * E) * sizeof *x), *copy = malloc((size_t)(n * E) * sizeof *x);
    CHECK_OK(mw_embed(m, set->tokens, n, x, &err), err);
    mw_block_scratch s;
    CHECK_OK(mw_block_scratch_init(&s, mw_model_hparams(m), set->n_win, set->T, &err), err);
    struct naive nv = {set, st};
    mw_observer obs = {naive_observe, &nv};
    for (int64_t bi = 0; bi < NL; bi++) {
        mw_block b;
        CHECK_OK(mw_block_load(m, bi, &b, &err), err);
        memcpy(copy, x, (size_t)(n * E) * sizeof *x);
        mw_block_forward(m, &b, copy, set->n_win, set->T, &s, &obs);
        if (prune) prune_some(&b);
        mw_block_forward(m, &b, x, set->n_win, set->T, &s, NULL);
        mw_block_free(&b);
    }
    mw_block_scratch_free(&s);
    free(x);
    free(copy);
}

static double max_rel(const mw_stats *a, const mw_stats *b) {
    double worst = 0;
    for (int64_t i = 0; i < NL * MW_IN_COUNT; i++) {
        const mw_input_stats *p = &a->in[i], *q = &b->in[i];
        for (int64_t j = 0; j < a->n_lang * p->n_in; j++) {
            worst = fmax(worst, fabs(p->sum2[j] - q->sum2[j]) / fmax(fabs(q->sum2[j]), 1e-12));
            worst = fmax(worst, fabs(p->sum[j] - q->sum[j]) / fmax(fabs(q->sum2[j]), 1e-12));
            worst = fmax(worst, fabs(p->pos[j] - q->pos[j]));
        }
        for (int l = 0; l < a->n_lang; l++)
            worst = fmax(worst, fabs(p->tokens[l] - q->tokens[l]));
    }
    return worst;
}

struct hook_log {
    int calls;
    bool complete;
    bool fail_at_1;
    double tokens;
};

static enum mw_status hook(void *user, int64_t block, mw_block *b, const mw_stats *st,
                           mw_err *err) {
    struct hook_log *h = user;
    h->calls++;
    /* this block's statistics are complete, the next block's untouched */
    const mw_input_stats *in = &st->in[block * MW_IN_COUNT];
    for (int i = 0; i < MW_IN_COUNT; i++)
        if (in[i].tokens[0] + in[i].tokens[1] != h->tokens) h->complete = false;
    if (block + 1 < NL && st->in[(block + 1) * MW_IN_COUNT].tokens[0] != 0) h->complete = false;
    if (h->fail_at_1 && block == 1) return mw_fail(err, MW_ERR_ARG, "hook says no");
    prune_some(b);
    return MW_OK;
}

/* Weights that make the next block's inputs overflow. */
static enum mw_status blow_up(void *user, int64_t block, mw_block *b, const mw_stats *st,
                              mw_err *err) {
    for (int64_t i = 0; i < b->rows[MW_LIN_DOWN] * b->cols[MW_LIN_DOWN]; i++)
        b->w[MW_LIN_DOWN][i] = 3e38f;
    return MW_OK;
}

static void test_run(void) {
    mw_err err = {{0}};
    write_model(at("tiny.gguf"));
    mw_model *m = NULL;
    CHECK_OK(mw_model_open(at("tiny.gguf"), &m, &err), err);
    if (!m) return;
    /* 2 languages, windows interleaved; more than one group of 8192 tokens */
    enum { T = 128, NW = 70 };
    mw_calib_set set;
    CHECK_OK(mw_calib_set_create(&set, T, &err), err);
    int32_t w[T];
    for (int k = 0; k < NW; k++) {
        for (int j = 0; j < T; j++)
            w[j] = (int32_t)((k * 31 + j * 7 + (j * j) % 13) % VOCAB);
        CHECK_OK(mw_calib_set_add(&set, k % 3 ? "xx" : "aa", w, 1, &err), err);
    }
    mw_stats ref = {0}, ref_pruned = {0}, got = {0}, got_hook = {0};
    const char *langs[] = {"aa", "xx"};
    CHECK_OK(mw_stats_create_for(&ref, m, 2, langs, &err), err);
    CHECK_OK(mw_stats_create_for(&ref_pruned, m, 2, langs, &err), err);
    naive_run(m, &set, false, &ref);
    naive_run(m, &set, true, &ref_pruned);

    CHECK_OK(mw_calib_run(m, &set, NULL, NULL, &got, NULL, NULL, &err), err);
    double d = max_rel(&got, &ref);
    printf("runner vs naive: max rel diff %.3g\n", d);
    CHECK(d < 1e-9 && got.n_lang == 2 && got.ctx == T);
    CHECK(got.windows[0] == 24 && got.windows[1] == 46);
    CHECK(got.in[MW_IN_FFN_DOWN].tokens[0] == 24 * T && got.in[MW_IN_FFN_DOWN].n_in == FF);

    struct hook_log h = {0, true, false, (double)NW * T};
    CHECK_OK(mw_calib_run(m, &set, hook, &h, &got_hook, NULL, NULL, &err), err);
    d = max_rel(&got_hook, &ref_pruned);
    printf("runner with hook vs naive sequential pruning: max rel diff %.3g\n", d);
    CHECK(d < 1e-9 && h.calls == NL && h.complete);
    /* block 0 is observed dense either way; later blocks see pruned inputs */
    CHECK(max_rel(&got_hook, &got) > 1e-3);

    /* accumulating on top: twice the sums */
    CHECK_OK(mw_calib_run(m, &set, NULL, NULL, &got, NULL, NULL, &err), err);
    CHECK(got.windows[1] == 92 && got.in[0].tokens[1] == 2 * 46 * T);
    CHECK(fabs(got.in[5].sum2[7] - 2 * ref.in[5].sum2[7]) < 1e-9 * ref.in[5].sum2[7]);

    /* a failing hook stops the run with its message */
    h = (struct hook_log){0, true, true, (double)NW * T};
    mw_stats st = {0};
    CHECK_ERR(mw_calib_run(m, &set, hook, &h, &st, NULL, NULL, &err), MW_ERR_ARG, err, "hook says");
    CHECK(h.calls == 2);
    mw_stats_free(&st);
    /* overflowing activations are an error that names the block */
    CHECK_ERR(mw_calib_run(m, &set, blow_up, NULL, &st, NULL, NULL, &err), MW_ERR_ARG, err,
              "block 1");
    mw_stats_free(&st);
    /* statistics of another shape or other languages are refused */
    int64_t n_in[NL * MW_IN_COUNT];
    for (int i = 0; i < NL * MW_IN_COUNT; i++)
        n_in[i] = 16;
    CHECK_OK(mw_stats_create(&st, 2, langs, NL, n_in, &err), err);
    CHECK_ERR(mw_calib_run(m, &set, NULL, NULL, &st, NULL, NULL, &err), MW_ERR_SHAPE, err, NULL);
    mw_stats_free(&st);
    const char *other[] = {"aa", "zz"};
    CHECK_OK(mw_stats_create_for(&st, m, 2, other, &err), err);
    CHECK_ERR(mw_calib_run(m, &set, NULL, NULL, &st, NULL, NULL, &err), MW_ERR_ARG, err, "zz");
    mw_stats_free(&st);

    mw_stats_free(&ref);
    mw_stats_free(&ref_pruned);
    mw_stats_free(&got);
    mw_stats_free(&got_hook);
    mw_calib_set_free(&set);
    mw_model_close(m);
}

int main(void) {
    make_root();
    test_splitmix();
    test_sampling();
    test_sets();
    test_accumulate();
    test_run();
    rm_rf(g_root);
    if (g_failures) {
        fprintf(stderr, "%d check(s) failed\n", g_failures);
        return 1;
    }
    printf("test_calib: all checks passed\n");
    return 0;
}
