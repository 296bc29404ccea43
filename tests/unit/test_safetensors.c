/* safetensors writer and reader: round trips (single file and shards, every
 * writable type, 0 to 4 dims) and the writer's refusals and clean-ups.
 * Crafted bad files are in test_safetensors_bad.c. */
#include "st_testutil.h"

struct spec {
    const char *name;
    enum mw_type type;
    uint32_t n_dims;
    int64_t ne[4];
};

static const struct spec SPECS[] = {
    {"a.vec", MW_TYPE_F32, 1, {5}},
    {"b.mat", MW_TYPE_F16, 2, {3, 2}},
    {"c.cube", MW_TYPE_BF16, 3, {4, 3, 2}},
    {"d.four", MW_TYPE_F32, 4, {2, 3, 1, 2}},
    {"e.scalar", MW_TYPE_F32, 0, {0}},
    {"f.empty", MW_TYPE_F16, 2, {0, 7}},
    {"g.big", MW_TYPE_F32, 2, {16, 8}},
    {"h.ints", MW_TYPE_I32, 1, {3}},
    {"i.f64", MW_TYPE_F64, 1, {2}},
    {"j.\xc3\xa9t\xc3\xa9", MW_TYPE_BF16, 1, {9}}, /* a UTF-8 name */
};
#define N_SPECS (sizeof SPECS / sizeof SPECS[0])

static uint64_t spec_bytes(const struct spec *s) {
    uint64_t n = 1, b = 0;
    for (uint32_t k = 0; k < s->n_dims; k++)
        n *= (uint64_t)s->ne[k];
    mw_type_row_bytes(s->type, n, &b);
    return b;
}

/* Tensor i's bytes: a pattern that differs per tensor. */
static void fill(unsigned char *buf, uint64_t n, size_t i) {
    for (uint64_t k = 0; k < n; k++)
        buf[k] = (unsigned char)(k * 7 + i * 31 + 1);
}

/* Writes SPECS to dir with the given shard size; returns finish's status. */
static enum mw_status write_model(const char *dir, uint64_t shard, mw_err *err) {
    mw_st_writer *w = NULL;
    enum mw_status s = mw_st_writer_create(dir, shard, &w, err);
    if (s != MW_OK) return s;
    s = mw_st_writer_set_metadata(w, "note", "written by the unit test", err);
    for (size_t i = 0; s == MW_OK && i < N_SPECS; i++)
        s = mw_st_writer_add_tensor(w, SPECS[i].name, SPECS[i].type, SPECS[i].n_dims, SPECS[i].ne,
                                    err);
    static const char config[] = "{\"model_type\": \"test\"}\n";
    if (s == MW_OK) s = mw_st_writer_add_file(w, "config.json", config, sizeof config - 1, err);
    unsigned char buf[1024];
    for (size_t i = 0; s == MW_OK && i < N_SPECS; i++) {
        uint64_t n = spec_bytes(&SPECS[i]);
        fill(buf, n, i);
        s = mw_st_writer_write_tensor(w, buf, n, err);
    }
    if (s != MW_OK) {
        mw_st_writer_free(w);
        return s;
    }
    return mw_st_writer_finish(w, err);
}

/* Every SPECS tensor is in st, in order, with its shape and bytes. */
static void check_model(const mw_st *st) {
    mw_err err;
    CHECK(mw_st_n_tensors(st) == (int64_t)N_SPECS);
    unsigned char buf[1024];
    for (size_t i = 0; i < N_SPECS && (int64_t)i < mw_st_n_tensors(st); i++) {
        const mw_tensor *t = mw_st_tensor_at(st, (int64_t)i);
        const struct spec *s = &SPECS[i];
        CHECK(strcmp(t->name, s->name) == 0);
        CHECK(mw_st_find_tensor(st, s->name) == t);
        CHECK(t->type == s->type);
        CHECK(t->n_dims == s->n_dims);
        uint64_t n = 1;
        for (uint32_t k = 0; k < 4; k++) {
            int64_t want = k < s->n_dims ? s->ne[k] : 1;
            CHECK(t->ne[k] == want);
            n *= (uint64_t)want;
        }
        CHECK(t->n_elems == n);
        CHECK(t->n_bytes == spec_bytes(s));
        fill(buf, t->n_bytes, i);
        CHECK(t->n_bytes == 0 || memcmp(t->data, buf, t->n_bytes) == 0);
    }
    CHECK(mw_st_tensor_at(st, -1) == NULL);
    CHECK(mw_st_tensor_at(st, (int64_t)N_SPECS) == NULL);
    CHECK(mw_st_find_tensor(st, "nope") == NULL);
    const char *fmt = mw_st_metadata(st, "format");
    const char *note = mw_st_metadata(st, "note");
    CHECK(fmt && strcmp(fmt, "pt") == 0);
    CHECK(note && strcmp(note, "written by the unit test") == 0);
    CHECK(mw_st_metadata(st, "absent") == NULL);
    (void)err;
}

static void test_single(void) {
    mw_err err;
    mw_st *st = NULL;
    CHECK_OK(write_model(at("single"), 0, &err), err);
    CHECK(exists(at("single/model.safetensors")));
    CHECK(exists(at("single/config.json")));
    CHECK(!exists(at("single/model.safetensors.index.json")));
    CHECK(count_entries(g_root, ".tmp-") == 0);
    CHECK_OK(mw_st_open(at("single"), &st, &err), err);
    if (st) check_model(st);
    mw_st_close(st);
    st = NULL;
    CHECK_OK(mw_st_open(at("single/model.safetensors"), &st, &err), err);
    if (st) check_model(st);
    mw_st_close(st);

    /* the data starts 8-aligned and every header is padded with spaces */
    FILE *f = fopen(at("single/model.safetensors"), "rb");
    unsigned char len[8];
    CHECK(f && fread(len, 1, 8, f) == 8);
    CHECK(len[0] % 8 == 0);
    if (f) fclose(f);

    /* a big enough shard limit still gives one file */
    CHECK_OK(write_model(at("single2"), 1 << 20, &err), err);
    CHECK(exists(at("single2/model.safetensors")));
}

static void test_sharded(void) {
    mw_err err;
    mw_st *st = NULL;
    /* g.big (512 bytes) is larger than a shard: it gets one of its own */
    CHECK_OK(write_model(at("sharded"), 100, &err), err);
    CHECK(exists(at("sharded/model.safetensors.index.json")));
    CHECK(!exists(at("sharded/model.safetensors")));
    CHECK(exists(at("sharded/config.json")));
    int n = count_entries(at("sharded"), ".safetensors") - 1; /* less the index */
    char name[64];
    snprintf(name, sizeof name, "sharded/model-00001-of-%05d.safetensors", n);
    CHECK(n >= 3);
    CHECK(exists(at(name)));
    snprintf(name, sizeof name, "sharded/model-%05d-of-%05d.safetensors", n, n);
    CHECK(exists(at(name)));
    /* each shard holds at most 100 data bytes, unless it is one tensor */
    for (int k = 1; k <= n; k++) {
        snprintf(name, sizeof name, "sharded/model-%05d-of-%05d.safetensors", k, n);
        mw_st *one = NULL;
        CHECK_OK(mw_st_open(at(name), &one, &err), err);
        uint64_t total = 0;
        for (int64_t i = 0; one && i < mw_st_n_tensors(one); i++)
            total += mw_st_tensor_at(one, i)->n_bytes;
        CHECK(one && (total <= 100 || mw_st_n_tensors(one) == 1));
        mw_st_close(one);
    }
    CHECK_OK(mw_st_open(at("sharded"), &st, &err), err);
    if (st) check_model(st);
    mw_st_close(st);
    CHECK(count_entries(g_root, ".tmp-") == 0);
}

static void test_empty_model(void) {
    mw_err err;
    mw_st_writer *w = NULL;
    mw_st *st = NULL;
    CHECK_OK(mw_st_writer_create(at("nothing"), 0, &w, &err), err);
    CHECK_OK(mw_st_writer_finish(w, &err), err);
    CHECK_OK(mw_st_open(at("nothing"), &st, &err), err);
    CHECK(st && mw_st_n_tensors(st) == 0);
    CHECK(st && mw_st_metadata(st, "format") && strcmp(mw_st_metadata(st, "format"), "pt") == 0);
    mw_st_close(st);
}

/* The destination rules: absent or an empty folder; nothing left behind. */
static void test_destination(void) {
    mw_err err;
    mw_st_writer *w = NULL;
    mkdir(at("full"), 0755);
    put_file(at("full/keep.txt"), "x", 1);
    CHECK_ERR(mw_st_writer_create(at("full"), 0, &w, &err), MW_ERR_ARG, err, "not empty");
    CHECK(w == NULL);
    CHECK(exists(at("full/keep.txt")));
    put_file(at("plainfile"), "x", 1);
    CHECK_ERR(mw_st_writer_create(at("plainfile"), 0, &w, &err), MW_ERR_ARG, err, "not a folder");
    CHECK_ERR(mw_st_writer_create(at("no/such/parent"), 0, &w, &err), MW_ERR_IO, err, "temporary");
    CHECK_ERR(mw_st_writer_create("", 0, &w, &err), MW_ERR_ARG, err, NULL);
    CHECK(count_entries(g_root, ".tmp-") == 0);

    /* an empty folder is replaced, with a trailing slash in the name too */
    mkdir(at("emptydir"), 0755);
    char path[4200];
    snprintf(path, sizeof path, "%s/", at("emptydir"));
    CHECK_OK(write_model(path, 0, &err), err);
    CHECK(exists(at("emptydir/model.safetensors")));
    CHECK(count_entries(g_root, ".tmp-") == 0);
}

/* Aborted writes leave neither the output nor the temporary folder. */
static void test_abort(void) {
    mw_err err;
    mw_st_writer *w = NULL;
    int64_t ne[2] = {4, 2};
    float data[8] = {0};

    /* freed after some data and an extra file */
    CHECK_OK(mw_st_writer_create(at("aborted"), 16, &w, &err), err);
    CHECK(count_entries(g_root, "aborted.tmp-") == 1);
    CHECK_OK(mw_st_writer_add_tensor(w, "x", MW_TYPE_F32, 2, ne, &err), err);
    CHECK_OK(mw_st_writer_add_tensor(w, "y", MW_TYPE_F32, 2, ne, &err), err);
    CHECK_OK(mw_st_writer_add_file(w, "config.json", "{}", 2, &err), err);
    CHECK_OK(mw_st_writer_write_tensor(w, data, sizeof data, &err), err);
    mw_st_writer_free(w);
    CHECK(!exists(at("aborted")));
    CHECK(count_entries(g_root, "aborted") == 0);

    /* finish with a tensor's data missing fails and cleans up */
    CHECK_OK(mw_st_writer_create(at("aborted"), 0, &w, &err), err);
    CHECK_OK(mw_st_writer_add_tensor(w, "x", MW_TYPE_F32, 2, ne, &err), err);
    CHECK_OK(mw_st_writer_add_tensor(w, "y", MW_TYPE_F32, 2, ne, &err), err);
    CHECK_OK(mw_st_writer_write_tensor(w, data, sizeof data, &err), err);
    CHECK_ERR(mw_st_writer_finish(w, &err), MW_ERR_ARG, err, "1 of 2");
    CHECK(count_entries(g_root, "aborted") == 0);

    /* finish when the folder was filled meanwhile: refused, nothing lost */
    mkdir(at("raced"), 0755);
    CHECK_OK(mw_st_writer_create(at("raced"), 0, &w, &err), err);
    put_file(at("raced/other.txt"), "y", 1);
    CHECK_ERR(mw_st_writer_finish(w, &err), MW_ERR_IO, err, "rename");
    CHECK(exists(at("raced/other.txt")));
    CHECK(count_entries(g_root, "raced.tmp-") == 0);

    mw_st_writer_free(NULL);
}

/* Misuse of the writer is refused with MW_ERR_ARG and changes nothing. */
static void test_misuse(void) {
    mw_err err;
    mw_st_writer *w = NULL;
    int64_t ne[5] = {2, 2, 2, 2, 2}, neg[1] = {-1};
    uint16_t h[4] = {0};
    CHECK_OK(mw_st_writer_create(at("misuse"), 0, &w, &err), err);
    CHECK_ERR(mw_st_writer_add_tensor(w, "q", MW_TYPE_Q4_0, 1, ne, &err), MW_ERR_UNSUPPORTED, err,
              "Q4_0");
    CHECK_ERR(mw_st_writer_add_tensor(w, "five", MW_TYPE_F32, 5, ne, &err), MW_ERR_ARG, err, NULL);
    CHECK_ERR(mw_st_writer_add_tensor(w, "neg", MW_TYPE_F32, 1, neg, &err), MW_ERR_ARG, err, "-1");
    CHECK_ERR(mw_st_writer_add_tensor(w, "__metadata__", MW_TYPE_F32, 1, ne, &err), MW_ERR_ARG, err,
              NULL);
    CHECK_ERR(mw_st_writer_add_tensor(w, "bad\xff", MW_TYPE_F32, 1, ne, &err), MW_ERR_ARG, err,
              NULL);
    CHECK_ERR(mw_st_writer_set_metadata(w, "k", "\xc3", &err), MW_ERR_ARG, err, "UTF-8");
    CHECK_OK(mw_st_writer_add_tensor(w, "t", MW_TYPE_F16, 2, ne, &err), err);
    CHECK_ERR(mw_st_writer_add_tensor(w, "t", MW_TYPE_F16, 2, ne, &err), MW_ERR_ARG, err,
              "already");
    CHECK_ERR(mw_st_writer_add_file(w, "../escape", "x", 1, &err), MW_ERR_ARG, err, NULL);
    CHECK_ERR(mw_st_writer_add_file(w, "model.safetensors", "x", 1, &err), MW_ERR_ARG, err, NULL);
    CHECK_ERR(mw_st_writer_add_file(w, "model.safetensors.index.json", "x", 1, &err), MW_ERR_ARG,
              err, NULL);
    CHECK_OK(mw_st_writer_add_file(w, "tokenizer.json", "{}", 2, &err), err);
    CHECK_ERR(mw_st_writer_add_file(w, "tokenizer.json", "{}", 2, &err), MW_ERR_ARG, err, NULL);
    CHECK_ERR(mw_st_writer_write_tensor(w, h, 6, &err), MW_ERR_ARG, err, "needs 8 bytes");
    CHECK_OK(mw_st_writer_write_tensor(w, h, 8, &err), err);
    CHECK_ERR(mw_st_writer_write_tensor(w, h, 8, &err), MW_ERR_ARG, err, "already written");
    CHECK_ERR(mw_st_writer_add_tensor(w, "late", MW_TYPE_F16, 2, ne, &err), MW_ERR_ARG, err,
              "started");
    CHECK_ERR(mw_st_writer_set_metadata(w, "late", "x", &err), MW_ERR_ARG, err, "started");
    CHECK_OK(mw_st_writer_finish(w, &err), err);
    CHECK(exists(at("misuse/tokenizer.json")));
}

/* Many tensors: the writer's name map grows; the reader's order holds. */
static void test_many(void) {
    mw_err err;
    mw_st_writer *w = NULL;
    mw_st *st = NULL;
    enum { N = 1000 };
    int64_t ne[1] = {3};
    float v[3];
    char name[32];
    CHECK_OK(mw_st_writer_create(at("many"), 4096, &w, &err), err);
    for (int i = 0; i < N; i++) {
        snprintf(name, sizeof name, "blk.%d.w", N - i); /* not in name order */
        CHECK_OK(mw_st_writer_add_tensor(w, name, MW_TYPE_F32, 1, ne, &err), err);
    }
    for (int i = 0; i < N; i++) {
        v[0] = (float)i, v[1] = v[2] = -1;
        CHECK_OK(mw_st_writer_write_tensor(w, v, sizeof v, &err), err);
    }
    CHECK_OK(mw_st_writer_finish(w, &err), err);
    CHECK_OK(mw_st_open(at("many"), &st, &err), err);
    CHECK(st && mw_st_n_tensors(st) == N);
    for (int i = 0; st && i < N; i++) {
        const mw_tensor *t = mw_st_tensor_at(st, i);
        float x;
        memcpy(&x, t->data, sizeof x);
        snprintf(name, sizeof name, "blk.%d.w", N - i);
        CHECK(strcmp(t->name, name) == 0 && x == (float)i);
    }
    mw_st_close(st);
}

int main(int argc, char **argv) {
    (void)argc, (void)argv;
    make_root();
    test_single();
    test_sharded();
    test_empty_model();
    test_destination();
    test_abort();
    test_misuse();
    test_many();
    rm_rf(g_root);
    if (g_failures) fprintf(stderr, "%d check(s) failed\n", g_failures);
    return g_failures ? 1 : 0;
}
