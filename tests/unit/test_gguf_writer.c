/* GGUF writer: what it refuses, and that a writer that fails or is freed
 * leaves no file behind (it writes <path>.tmp-XXXXXX and renames). */
#include "gguf_testutil.h"

static char g_dir[4096];
static int g_cases;

/* A fresh, empty folder for one case. */
static const char *case_dir(void) {
    if ((size_t)snprintf(g_dir, sizeof g_dir, "%s/case%d", g_root, ++g_cases) >= sizeof g_dir ||
        mkdir(g_dir, 0755) != 0) {
        perror(g_dir);
        exit(1);
    }
    return g_dir;
}

static const char *in_dir(const char *name) {
    static char p[4096];
    if ((size_t)snprintf(p, sizeof p, "%s/%s", g_dir, name) >= sizeof p) abort();
    return p;
}

/* The case folder holds nothing: no output, no temporary file. */
static void expect_clean(int line) {
    int n = count_entries(g_dir, "");
    if (n != 0) {
        fprintf(stderr, "%s:%d: %s holds %d entries after a failed write\n", __FILE__, line, g_dir,
                n);
        g_failures++;
    }
}
#define EXPECT_CLEAN() expect_clean(__LINE__)

static mw_gguf_writer *new_writer(void) {
    mw_err err = {{0}};
    mw_gguf_writer *w = NULL;
    case_dir();
    CHECK_OK(mw_gguf_writer_create(in_dir("out.gguf"), &w, &err), err);
    if (!w) exit(1);
    CHECK(count_entries(g_dir, "out.gguf.tmp-") == 1);
    return w;
}

static const int64_t NE4[2] = {4, 1};
static const float DATA4[4] = {1, 2, 3, 4};

static void test_tensor_refusals(void) {
    mw_err err = {{0}};
    mw_gguf_writer *w = new_writer();
    char name[80];
    memset(name, 'n', sizeof name);
    name[64] = 0; /* 64 bytes: one too many */
    CHECK_ERR(mw_gguf_writer_add_tensor(w, name, MW_TYPE_F32, 1, NE4, &err), MW_ERR_ARG, err,
              "1 to 63");
    name[63] = 0;
    CHECK_OK(mw_gguf_writer_add_tensor(w, name, MW_TYPE_F32, 1, NE4, &err), err);
    CHECK_ERR(mw_gguf_writer_add_tensor(w, "", MW_TYPE_F32, 1, NE4, &err), MW_ERR_ARG, err,
              "1 to 63");
    CHECK_ERR(mw_gguf_writer_add_tensor(w, name, MW_TYPE_F16, 1, NE4, &err), MW_ERR_ARG, err,
              "added twice");
    CHECK_ERR(mw_gguf_writer_add_tensor(w, "bad\xff", MW_TYPE_F32, 1, NE4, &err), MW_ERR_ARG, err,
              "UTF-8");
    CHECK_ERR(mw_gguf_writer_add_tensor(w, "rank0", MW_TYPE_F32, 0, NE4, &err), MW_ERR_ARG, err,
              "rank");
    int64_t ne5[5] = {1, 1, 1, 1, 1};
    CHECK_ERR(mw_gguf_writer_add_tensor(w, "rank5", MW_TYPE_F32, 5, ne5, &err), MW_ERR_ARG, err,
              "rank");
    CHECK_ERR(mw_gguf_writer_add_tensor(w, "type4", (enum mw_type)4, 1, NE4, &err), MW_ERR_ARG, err,
              "type");
    CHECK_ERR(mw_gguf_writer_add_tensor(w, "type40", MW_TYPE_COUNT, 1, NE4, &err), MW_ERR_ARG, err,
              "type");
    int64_t neg[2] = {4, -1}, big[2] = {INT64_MAX, 2}, q[2] = {48, 2};
    CHECK_ERR(mw_gguf_writer_add_tensor(w, "neg", MW_TYPE_F32, 2, neg, &err), MW_ERR_SHAPE, err,
              "invalid shape");
    CHECK_ERR(mw_gguf_writer_add_tensor(w, "big", MW_TYPE_F32, 2, big, &err), MW_ERR_SHAPE, err,
              "invalid shape");
    CHECK_ERR(mw_gguf_writer_add_tensor(w, "q8", MW_TYPE_Q8_0, 2, q, &err), MW_ERR_SHAPE, err,
              "Q8_0 blocks");
    CHECK_ERR(mw_gguf_writer_add_tensor(w, "q4k", MW_TYPE_Q4_K, 2, q, &err), MW_ERR_SHAPE, err,
              "Q4_K blocks");
    CHECK_OK(mw_gguf_writer_add_tensor(w, "second", MW_TYPE_F32, 2, NE4, &err), err);
    CHECK_OK(mw_gguf_writer_set_u32(w, "early", 1, &err), err);

    CHECK_ERR(mw_gguf_writer_write_tensor(w, DATA4, 12, &err), MW_ERR_ARG, err,
              "needs 16 bytes, got 12");
    CHECK_ERR(mw_gguf_writer_write_tensor(w, DATA4, 20, &err), MW_ERR_ARG, err, "needs 16 bytes");
    CHECK_OK(mw_gguf_writer_write_tensor(w, DATA4, 16, &err), err);
    /* metadata and tensors are fixed once data is being written */
    CHECK_ERR(mw_gguf_writer_set_u32(w, "late", 1, &err), MW_ERR_ARG, err, "after data");
    CHECK_ERR(mw_gguf_writer_add_tensor(w, "late", MW_TYPE_F32, 1, NE4, &err), MW_ERR_ARG, err,
              "after data");
    CHECK(!mw_gguf_writer_remove_kv(w, "early"));
    /* finish with one of two tensors written: refused, and no file */
    CHECK_ERR(mw_gguf_writer_finish(w, &err), MW_ERR_ARG, err, "1 of 2 tensors written");
    EXPECT_CLEAN();

    w = new_writer();
    CHECK_OK(mw_gguf_writer_add_tensor(w, "only", MW_TYPE_F32, 1, NE4, &err), err);
    CHECK_OK(mw_gguf_writer_write_tensor(w, DATA4, 16, &err), err);
    CHECK_ERR(mw_gguf_writer_write_tensor(w, DATA4, 16, &err), MW_ERR_ARG, err,
              "more tensor data than tensors");
    CHECK_OK(mw_gguf_writer_finish(w, &err), err);
    CHECK(count_entries(g_dir, "") == 1 && exists(in_dir("out.gguf")));

    w = new_writer();
    CHECK_OK(mw_gguf_writer_add_tensor(w, "never", MW_TYPE_F32, 1, NE4, &err), err);
    CHECK_ERR(mw_gguf_writer_finish(w, &err), MW_ERR_ARG, err, "0 of 1 tensors written");
    EXPECT_CLEAN();
    printf("writer: tensor name, rank, type, shape, size and order refusals checked\n");
}

static void test_kv_refusals(void) {
    mw_err err = {{0}};
    mw_gguf_writer *w = new_writer();
    uint32_t v = 1;
    mw_gguf_kv bad[] = {
        {"t13", (enum mw_gguf_vtype)13, (enum mw_gguf_vtype)13, 1, &v},
        {"nested", MW_GGUF_ARRAY, MW_GGUF_ARRAY, 1, &v},
        {"elem99", MW_GGUF_ARRAY, (enum mw_gguf_vtype)99, 1, &v},
        {"scalar_n2", MW_GGUF_UINT32, MW_GGUF_UINT32, 2, &v},
        {"mixed", MW_GGUF_UINT32, MW_GGUF_INT32, 1, &v},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        CHECK_ERR(mw_gguf_writer_set_kv(w, &bad[i], &err), MW_ERR_ARG, err, "invalid value type");
    CHECK_ERR(mw_gguf_writer_set_u32(w, "", 1, &err), MW_ERR_ARG, err, "invalid key");
    CHECK_ERR(mw_gguf_writer_set_u32(w, "k\xc3", 1, &err), MW_ERR_ARG, err, "UTF-8");
    CHECK_ERR(mw_gguf_writer_set_u32(w, "k\xed\xa0\x80", 1, &err), MW_ERR_ARG, err, "UTF-8");

    /* replacing and removing */
    CHECK_OK(mw_gguf_writer_set_u32(w, "dup", 1, &err), err);
    CHECK_OK(mw_gguf_writer_set_str(w, "dup", "two", &err), err);
    CHECK_OK(mw_gguf_writer_set_bool(w, "gone", true, &err), err);
    CHECK_OK(mw_gguf_writer_set_i32(w, "keep", -7, &err), err);
    CHECK(mw_gguf_writer_remove_kv(w, "gone") && !mw_gguf_writer_remove_kv(w, "gone"));
    CHECK_OK(mw_gguf_writer_set_f32(w, "f", 0.25f, &err), err);
    CHECK_OK(mw_gguf_writer_finish(w, &err), err);
    mw_gguf *g = NULL;
    CHECK_OK(mw_gguf_open(in_dir("out.gguf"), &g, &err), err);
    if (g) {
        int64_t i = 0;
        double f = 0;
        CHECK(mw_gguf_n_kv(g) == 3);
        CHECK(strcmp(mw_gguf_kv_str(mw_gguf_kv_at(g, 0)), "two") == 0);
        CHECK(strcmp(mw_gguf_kv_at(g, 0)->key, "dup") == 0);
        CHECK(mw_gguf_kv_int(mw_gguf_find_kv(g, "keep"), &i) && i == -7);
        CHECK(mw_gguf_kv_float(mw_gguf_find_kv(g, "f"), &f) && f == 0.25);
        CHECK(mw_gguf_find_kv(g, "gone") == NULL);
    }
    mw_gguf_close(g);

    /* general.alignment: a power-of-two uint32, checked when the header is written */
    w = new_writer();
    CHECK_OK(mw_gguf_writer_set_u32(w, "general.alignment", 48, &err), err);
    CHECK_ERR(mw_gguf_writer_finish(w, &err), MW_ERR_ARG, err, "power-of-two");
    EXPECT_CLEAN();
    w = new_writer();
    CHECK_OK(mw_gguf_writer_set_u32(w, "general.alignment", 0, &err), err);
    CHECK_OK(mw_gguf_writer_add_tensor(w, "x", MW_TYPE_F32, 1, NE4, &err), err);
    CHECK_ERR(mw_gguf_writer_write_tensor(w, DATA4, 16, &err), MW_ERR_ARG, err, "power-of-two");
    mw_gguf_writer_free(w);
    EXPECT_CLEAN();
    w = new_writer();
    CHECK_OK(mw_gguf_writer_set_str(w, "general.alignment", "64", &err), err);
    CHECK_ERR(mw_gguf_writer_finish(w, &err), MW_ERR_ARG, err, "uint32");
    EXPECT_CLEAN();
    printf("writer: value type, key and alignment refusals checked\n");
}

static void test_no_leftovers(void) {
    mw_err err = {{0}};
    /* freed without finish, before and after data */
    mw_gguf_writer *w = new_writer();
    CHECK_OK(mw_gguf_writer_set_u32(w, "a", 1, &err), err);
    mw_gguf_writer_free(w);
    EXPECT_CLEAN();
    w = new_writer();
    CHECK_OK(mw_gguf_writer_add_tensor(w, "x", MW_TYPE_F32, 1, NE4, &err), err);
    CHECK_OK(mw_gguf_writer_add_tensor(w, "y", MW_TYPE_F32, 1, NE4, &err), err);
    CHECK_OK(mw_gguf_writer_write_tensor(w, DATA4, 16, &err), err);
    mw_gguf_writer_free(w);
    EXPECT_CLEAN();
    mw_gguf_writer_free(NULL);

    /* a destination that cannot be created, or renamed over */
    case_dir();
    CHECK_ERR(mw_gguf_writer_create(in_dir("missing/out.gguf"), &w, &err), MW_ERR_IO, err,
              "cannot create");
    CHECK(w == NULL);
    EXPECT_CLEAN();
    w = new_writer();
    if (mkdir(in_dir("out.gguf"), 0755) != 0 || mkdir(in_dir("out.gguf/sub"), 0755) != 0) abort();
    CHECK_ERR(mw_gguf_writer_finish(w, &err), MW_ERR_IO, err, "cannot rename");
    CHECK(count_entries(g_dir, "") == 1 && count_entries(in_dir("out.gguf"), "") == 1);

    /* an existing file is replaced only by a complete one */
    case_dir();
    put_file(in_dir("out.gguf"), "old", 3);
    CHECK_OK(mw_gguf_writer_create(in_dir("out.gguf"), &w, &err), err);
    CHECK_OK(mw_gguf_writer_add_tensor(w, "x", MW_TYPE_F32, 1, NE4, &err), err);
    CHECK_ERR(mw_gguf_writer_finish(w, &err), MW_ERR_ARG, err, "0 of 1");
    size_t size;
    unsigned char *b = slurp(in_dir("out.gguf"), &size);
    CHECK(size == 3 && memcmp(b, "old", 3) == 0 && count_entries(g_dir, "") == 1);
    free(b);
    CHECK_OK(mw_gguf_writer_create(in_dir("out.gguf"), &w, &err), err);
    CHECK_OK(mw_gguf_writer_finish(w, &err), err);
    b = slurp(in_dir("out.gguf"), &size);
    CHECK(size == 32 && memcmp(b, "GGUF", 4) == 0 && count_entries(g_dir, "") == 1);
    free(b);
    printf("writer: %d cases, no output or temporary file left by a failed or freed writer\n",
           g_cases);
}

/* The reader on paths that are not GGUF files. */
static void test_open_paths(void) {
    mw_err err = {{0}};
    mw_gguf *g = NULL;
    case_dir();
    CHECK_ERR(mw_gguf_open(in_dir("absent.gguf"), &g, &err), MW_ERR_IO, err, "absent.gguf");
    CHECK(g == NULL && one_line(&err));
    CHECK_ERR(mw_gguf_open(g_dir, &g, &err), MW_ERR_IO, err, "not a regular file");
    put_file(in_dir("empty.gguf"), "", 0);
    CHECK_ERR(mw_gguf_open(in_dir("empty.gguf"), &g, &err), MW_ERR_FORMAT, err, "0 bytes");
    CHECK(g == NULL && one_line(&err));
    printf("reader: missing file, folder and empty file refused\n");
}

int main(void) {
    make_root();
    test_tensor_refusals();
    test_kv_refusals();
    test_no_leftovers();
    test_open_paths();
    rm_rf(g_root);
    if (g_failures) fprintf(stderr, "%d check(s) failed\n", g_failures);
    return g_failures ? 1 : 0;
}
