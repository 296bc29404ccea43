/* The statistics file: write/read round trip, the pooled imatrix tensors,
 * merging, and hostile files (truncated, wrong shapes or types, NaN,
 * impossible counts, missing keys) that must fail with a message. */
#include "st_testutil.h"

#include "calib/calib.h"

#include <math.h>

enum { NL = 2 };
static const int64_t N_IN[NL * MW_IN_COUNT] = {6, 4, 6, 10, 6, 4, 6, 10};

/* Statistics with distinct, deterministic values. */
static void make(mw_stats *st, int n, const char *const *langs, double base) {
    mw_err err = {{0}};
    CHECK_OK(mw_stats_create(st, n, langs, NL, N_IN, &err), err);
    snprintf(st->arch, sizeof st->arch, "llama");
    st->ctx = 64;
    st->samples = 8;
    st->seed = 0xfedcba9876543210ull;
    for (int l = 0; l < n; l++)
        st->windows[l] = 3 + l;
    for (int i = 0; i < NL * MW_IN_COUNT; i++) {
        mw_input_stats *s = &st->in[i];
        for (int64_t j = 0; j < n * s->n_in; j++) {
            s->sum2[j] = base + 0.1 * (double)(i * 100 + j) + 1.0 / 3.0;
            s->sum[j] = -base + 0.01 * (double)(j - i);
            s->pos[j] = (double)(j % 5);
        }
        for (int l = 0; l < n; l++)
            s->tokens[l] = 64.0 * (double)(3 + l);
    }
    CHECK_OK(mw_stats_add_dataset(st, "corpus/de.txt", &err), err);
}

static bool same(const mw_stats *a, const mw_stats *b) {
    if (a->n_lang != b->n_lang || a->n_layer != b->n_layer || a->ctx != b->ctx ||
        a->samples != b->samples || a->seed != b->seed || a->llamacpp != b->llamacpp ||
        strcmp(a->arch, b->arch) || a->n_datasets != b->n_datasets)
        return false;
    for (int l = 0; l < a->n_lang; l++)
        if (strcmp(a->langs[l], b->langs[l]) || a->windows[l] != b->windows[l]) return false;
    for (int i = 0; i < a->n_datasets; i++)
        if (strcmp(a->datasets[i], b->datasets[i])) return false;
    for (int i = 0; i < a->n_layer * MW_IN_COUNT; i++) {
        const mw_input_stats *p = &a->in[i], *q = &b->in[i];
        size_t k = (size_t)(a->n_lang * p->n_in) * sizeof(double);
        if (p->n_in != q->n_in || memcmp(p->sum2, q->sum2, k) || memcmp(p->sum, q->sum, k) ||
            memcmp(p->pos, q->pos, k) ||
            memcmp(p->tokens, q->tokens, (size_t)a->n_lang * sizeof(double)))
            return false;
    }
    return true;
}

static void test_round_trip(void) {
    mw_err err = {{0}};
    const char *langs[] = {"de", "fr", "zh-Hant"};
    mw_stats a, b;
    make(&a, 3, langs, 2.0);
    a.llamacpp = true;
    CHECK_OK(mw_stats_write(&a, at("a.gguf"), &err), err);
    CHECK_OK(mw_stats_read(at("a.gguf"), &b, &err), err);
    CHECK(same(&a, &b));
    /* the pooled tensors llama.cpp reads */
    mw_gguf *g = NULL;
    CHECK_OK(mw_gguf_open(at("a.gguf"), &g, &err), err);
    if (g) {
        const mw_tensor *q = mw_gguf_find_tensor(g, "blk.1.attn_k.weight.in_sum2");
        const mw_tensor *c = mw_gguf_find_tensor(g, "blk.1.ffn_down.weight.counts");
        const mw_tensor *d = mw_gguf_find_tensor(g, "blk.0.ffn_down.weight.in_sum2");
        CHECK(q && q->type == MW_TYPE_F32 && q->ne[0] == 6 && q->ne[1] == 1);
        CHECK(c && c->type == MW_TYPE_F32 && c->n_elems == 1 && d && d->ne[0] == 10);
        const mw_input_stats *s = &a.in[1 * MW_IN_COUNT + MW_IN_ATTN];
        for (int j = 0; q && j < 6; j++)
            CHECK(((const float *)q->data)[j] ==
                  (float)(s->sum2[j] + s->sum2[6 + j] + s->sum2[12 + j]));
        if (c) CHECK(((const float *)c->data)[0] == 64.0f * (3 + 4 + 5));
        const mw_gguf_kv *n = mw_gguf_find_kv(g, "imatrix.chunk_count");
        int64_t v = 0;
        CHECK(n && mw_gguf_kv_int(n, &v) && v == 3 + 4 + 5);
        CHECK(mw_gguf_n_tensors(g) == NL * (2 * MW_LIN_COUNT + 4 * MW_IN_COUNT));
        mw_gguf_close(g);
    }
    mw_stats_free(&a);
    mw_stats_free(&b);
}

static void test_merge(void) {
    mw_err err = {{0}};
    const char *la[] = {"de", "fr"}, *lb[] = {"fr", "sw"};
    mw_stats a, b, c;
    make(&a, 2, la, 1.0);
    make(&b, 2, lb, 5.0);
    b.samples = 4;
    CHECK_OK(mw_stats_merge(&c, &a, &b, &err), err);
    CHECK(c.n_lang == 3 && !strcmp(c.langs[0], "de") && !strcmp(c.langs[1], "fr") &&
          !strcmp(c.langs[2], "sw"));
    CHECK(c.windows[0] == 3 && c.windows[1] == 4 + 3 && c.windows[2] == 4);
    CHECK(c.samples == 0 && c.seed == a.seed && c.n_datasets == 2 && c.ctx == 64);
    int bad = 0;
    for (int i = 0; i < NL * MW_IN_COUNT; i++) {
        int64_t n = a.in[i].n_in;
        for (int64_t j = 0; j < n; j++) {
            bad += c.in[i].sum2[j] != a.in[i].sum2[j];
            bad += c.in[i].sum2[n + j] != a.in[i].sum2[n + j] + b.in[i].sum2[j];
            bad += c.in[i].sum[n + j] != a.in[i].sum[n + j] + b.in[i].sum[j];
            bad += c.in[i].pos[2 * n + j] != b.in[i].pos[n + j];
        }
        bad += c.in[i].tokens[1] != a.in[i].tokens[1] + b.in[i].tokens[0];
    }
    CHECK(bad == 0);
    mw_stats_free(&c);
    /* other window lengths, kinds, families or shapes are refused */
    b.ctx = 128;
    CHECK_ERR(mw_stats_merge(&c, &a, &b, &err), MW_ERR_ARG, err, "windows");
    b.ctx = 64;
    b.llamacpp = true;
    CHECK_ERR(mw_stats_merge(&c, &a, &b, &err), MW_ERR_ARG, err, "llama.cpp");
    b.llamacpp = false;
    snprintf(b.arch, sizeof b.arch, "qwen2");
    CHECK_ERR(mw_stats_merge(&c, &a, &b, &err), MW_ERR_SHAPE, err, "qwen2");
    mw_stats_free(&b);
    int64_t n_in[NL * MW_IN_COUNT];
    memcpy(n_in, N_IN, sizeof n_in);
    n_in[3] = 12;
    CHECK_OK(mw_stats_create(&b, 2, lb, NL, n_in, &err), err);
    snprintf(b.arch, sizeof b.arch, "llama");
    b.ctx = 64;
    CHECK_ERR(mw_stats_merge(&c, &a, &b, &err), MW_ERR_SHAPE, err, "different models");
    mw_stats_free(&a);
    mw_stats_free(&b);
}

/* ---- hostile files: a valid file copied with one change ---- */

struct change {
    const char *tensor; /* tensor to change (NULL: none) */
    bool drop;          /* leave it out */
    int64_t ne1;        /* > 0: its second dimension instead */
    bool retype;        /* write it as `type` */
    enum mw_type type;
    int64_t poke;           /* 1 + index of an element set to value; 0: none */
    double value;           /* (as the tensor's type) */
    const char *kv;         /* key to drop or replace */
    const mw_gguf_kv *with; /* replacement value (NULL: drop) */
};

static void rewrite(const char *src, const char *dst, const struct change *c) {
    mw_err err = {{0}};
    mw_gguf *g = NULL;
    mw_gguf_writer *w = NULL;
    CHECK_OK(mw_gguf_open(src, &g, &err), err);
    CHECK_OK(mw_gguf_writer_create(dst, &w, &err), err);
    if (!g || !w) exit(1);
    for (int64_t i = 0; i < mw_gguf_n_kv(g); i++) {
        const mw_gguf_kv *kv = mw_gguf_kv_at(g, i);
        if (c->kv && !strcmp(kv->key, c->kv)) {
            if (c->with) CHECK_OK(mw_gguf_writer_set_kv(w, c->with, &err), err);
            continue;
        }
        CHECK_OK(mw_gguf_writer_set_kv(w, kv, &err), err);
    }
    int64_t n = mw_gguf_n_tensors(g);
    for (int pass = 0; pass < 2; pass++)
        for (int64_t i = 0; i < n; i++) {
            const mw_tensor *t = mw_gguf_tensor_at(g, i);
            bool hit = c->tensor && !strcmp(t->name, c->tensor);
            if (hit && c->drop) continue;
            int64_t ne[2] = {t->ne[0], hit && c->ne1 > 0 ? c->ne1 : t->ne[1]};
            enum mw_type type = hit && c->retype ? c->type : t->type;
            size_t esz = type == MW_TYPE_F64 ? 8 : 4;
            size_t k = (size_t)(ne[0] * ne[1]);
            if (pass == 0) {
                CHECK_OK(mw_gguf_writer_add_tensor(w, t->name, type, 2, ne, &err), err);
                continue;
            }
            unsigned char *d = calloc(k, esz);
            size_t have = t->n_bytes < k * esz ? t->n_bytes : k * esz;
            memcpy(d, t->data, have);
            if (hit && c->poke > 0) {
                if (esz == 8)
                    ((double *)d)[c->poke - 1] = c->value;
                else
                    ((float *)d)[c->poke - 1] = (float)c->value;
            }
            CHECK_OK(mw_gguf_writer_write_tensor(w, d, k * esz, &err), err);
            free(d);
        }
    CHECK_OK(mw_gguf_writer_finish(w, &err), err);
    mw_gguf_close(g);
}

static void expect_bad(const struct change *c, enum mw_status want, const char *part) {
    mw_err err = {{0}};
    mw_stats st;
    rewrite(at("good.gguf"), at("bad.gguf"), c);
    enum mw_status s = mw_stats_read(at("bad.gguf"), &st, &err);
    CHECK_ERR(s, want, err, part);
    CHECK(!strchr(err.msg, '\n'));
    if (!s) mw_stats_free(&st);
}

static void test_hostile(void) {
    mw_err err = {{0}};
    const char *langs[] = {"de", "fr"};
    mw_stats a, b;
    make(&a, 2, langs, 1.0);
    CHECK_OK(mw_stats_write(&a, at("good.gguf"), &err), err);
    /* the copy itself reads back the same */
    rewrite(at("good.gguf"), at("copy.gguf"), &(struct change){0});
    CHECK_OK(mw_stats_read(at("copy.gguf"), &b, &err), err);
    CHECK(same(&a, &b));
    mw_stats_free(&b);

    /* every truncation fails cleanly */
    FILE *f = fopen(at("good.gguf"), "rb");
    unsigned char *bytes = malloc(1 << 20);
    size_t n = fread(bytes, 1, 1 << 20, f);
    fclose(f);
    int ok = 0;
    for (size_t cut = 0; cut < n; cut += cut < 600 ? 7 : 131) {
        put_file(at("cut.gguf"), bytes, cut);
        if (mw_stats_read(at("cut.gguf"), &b, &err) == MW_OK) {
            ok++;
            mw_stats_free(&b);
        }
    }
    CHECK(ok == 0);
    free(bytes);

    const mw_gguf_kv notsorted_v[] = {{.key = "mwanda.calib.languages",
                                       .type = MW_GGUF_ARRAY,
                                       .elem_type = MW_GGUF_STRING,
                                       .n = 2,
                                       .data = (mw_str[]){{"fr", 2}, {"de", 2}}}};
    const mw_gguf_kv badcode_v = {.key = "mwanda.calib.languages",
                                  .type = MW_GGUF_ARRAY,
                                  .elem_type = MW_GGUF_STRING,
                                  .n = 2,
                                  .data = (mw_str[]){{"de", 2}, {"f/r", 3}}};
    const mw_gguf_kv type_v = {.key = "general.type",
                               .type = MW_GGUF_STRING,
                               .elem_type = MW_GGUF_STRING,
                               .n = 1,
                               .data = &(mw_str){"model", 5}};
    int64_t neg[2] = {3, -1};
    const mw_gguf_kv win_v = {.key = "mwanda.calib.windows",
                              .type = MW_GGUF_ARRAY,
                              .elem_type = MW_GGUF_INT64,
                              .n = 2,
                              .data = neg};
    const mw_gguf_kv win1_v = {.key = "mwanda.calib.windows",
                               .type = MW_GGUF_ARRAY,
                               .elem_type = MW_GGUF_INT64,
                               .n = 1,
                               .data = neg};
#define BAD(part, ...) expect_bad(&(struct change){__VA_ARGS__}, MW_ERR_FORMAT, part)
    BAD("languages", .kv = "mwanda.calib.languages");
    BAD("sorted", .kv = "mwanda.calib.languages", .with = notsorted_v);
    BAD("invalid language", .kv = "mwanda.calib.languages", .with = &badcode_v);
    BAD("imatrix", .kv = "general.type", .with = &type_v);
    BAD("negative", .kv = "mwanda.calib.windows", .with = &win_v);
    BAD("length", .kv = "mwanda.calib.windows", .with = &win1_v);
    BAD("key", .kv = "imatrix.chunk_size");
    BAD("key", .kv = "imatrix.datasets");
    BAD("blk.0.mw.attn.sum2", .tensor = "blk.0.mw.attn.sum2", .drop = true);
    BAD("blk.1.mw.ffn_down.pos", .tensor = "blk.1.mw.ffn_down.pos", .drop = true);
    BAD("blk.1.ffn_up.weight.counts", .tensor = "blk.1.ffn_up.weight.counts", .drop = true);
    BAD("blk.0.mw.ffn.sum", .tensor = "blk.0.mw.ffn.sum", .ne1 = 3);
    BAD("blk.1.mw.attn.sum2", .tensor = "blk.1.mw.attn.sum2", .ne1 = 1);
    BAD("blk.0.mw.attn_out.tokens", .tensor = "blk.0.mw.attn_out.tokens", .retype = true,
        .type = MW_TYPE_F32);
    BAD("blk.0.attn_q.weight.in_sum2", .tensor = "blk.0.attn_q.weight.in_sum2", .retype = true,
        .type = MW_TYPE_F64);
    BAD("non-finite", .tensor = "blk.1.mw.ffn.sum", .poke = 4, .value = NAN);
    BAD("non-finite", .tensor = "blk.0.mw.attn.sum2", .poke = 1, .value = INFINITY);
    BAD("non-finite", .tensor = "blk.0.mw.attn.sum2", .poke = 8, .value = -1.0);
    BAD("impossible", .tensor = "blk.0.mw.ffn_down.pos", .poke = 3, .value = 1e9);
    BAD("token count", .tensor = "blk.1.mw.attn.tokens", .poke = 2, .value = -64);
    BAD("blk.0.attn_v.weight.in_sum2", .tensor = "blk.0.attn_v.weight.in_sum2", .poke = 2,
        .value = NAN);
#undef BAD
    /* a file that is not GGUF at all */
    put_file(at("text.gguf"), "hello", 5);
    CHECK(mw_stats_read(at("text.gguf"), &b, &err) != MW_OK);
    CHECK(mw_stats_read(at("missing.gguf"), &b, &err) == MW_ERR_IO);
    mw_stats_free(&a);
}

int main(void) {
    make_root();
    test_round_trip();
    test_merge();
    test_hostile();
    rm_rf(g_root);
    if (g_failures) {
        fprintf(stderr, "%d check(s) failed\n", g_failures);
        return 1;
    }
    printf("test_calib_file: all checks passed\n");
    return 0;
}
