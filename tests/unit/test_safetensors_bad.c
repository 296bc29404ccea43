/* safetensors reader on crafted bytes: every rule of the format broken once,
 * in memory and on disk, plus broken sharded folders. */
#include "st_testutil.h"

/* Opens header+data in memory and from a file; both must give `want` and a
 * message holding `part` (and, on disk, the file's path). */
static void expect(int line, const char *header, size_t n_data, enum mw_status want,
                   const char *part) {
    size_t size;
    unsigned char *b = craft(header, n_data, &size);
    mw_err err;
    mw_st *st = NULL;
    enum mw_status s = mw_st_open_memory(b, size, &st, &err);
    check_err(__FILE__, line, s, want, &err, part);
    if (want != MW_OK) CHECK(st == NULL);
    mw_st_close(st);
    st = NULL;
    put_file(at("crafted.safetensors"), b, size);
    s = mw_st_open(at("crafted.safetensors"), &st, &err);
    check_err(__FILE__, line, s, want, &err, part);
    if (want != MW_OK) check_err(__FILE__, line, s, want, &err, "crafted.safetensors");
    mw_st_close(st);
    free(b);
}

#define EXPECT(h, n, want, part) expect(__LINE__, h, n, want, part)
#define F32(name, shape, b, e)                                                                     \
    "\"" name "\":{\"dtype\":\"F32\",\"shape\":" shape ",\"data_offsets\":[" #b "," #e "]}"

static void test_header_bytes(void) {
    mw_err err;
    mw_st *st = NULL;
    unsigned char b[64] = {0};
    CHECK_ERR(mw_st_open_memory(b, 0, &st, &err), MW_ERR_FORMAT, err, "too short");
    CHECK_ERR(mw_st_open_memory(NULL, 0, &st, &err), MW_ERR_FORMAT, err, "too short");
    CHECK_ERR(mw_st_open_memory(b, 7, &st, &err), MW_ERR_FORMAT, err, "too short");
    b[0] = 9; /* 9 header bytes, 8 present */
    CHECK_ERR(mw_st_open_memory(b, 16, &st, &err), MW_ERR_FORMAT, err, "past the end");
    memset(b, 0xff, 8);
    CHECK_ERR(mw_st_open_memory(b, 64, &st, &err), MW_ERR_FORMAT, err, "larger than");
    b[0] = 0x01, b[1] = 0xe1, b[2] = 0xf5, b[3] = 0x05, memset(b + 4, 0, 4); /* 100000001 */
    CHECK_ERR(mw_st_open_memory(b, 64, &st, &err), MW_ERR_FORMAT, err, "larger than");
    memset(b, 0, 8); /* empty header */
    CHECK_ERR(mw_st_open_memory(b, 8, &st, &err), MW_ERR_FORMAT, err, "not valid JSON");

    EXPECT("{\"a\xff\":1}", 0, MW_ERR_FORMAT, "UTF-8");
    EXPECT("{\"a\xed\xa0\x80\":1}", 0, MW_ERR_FORMAT, "UTF-8"); /* a surrogate */
    EXPECT("not json", 0, MW_ERR_FORMAT, "not valid JSON");
    EXPECT("{\"a\":", 0, MW_ERR_FORMAT, "not valid JSON");
    EXPECT("{} x", 0, MW_ERR_FORMAT, "not valid JSON");
    EXPECT("[1,2]", 0, MW_ERR_FORMAT, "not a JSON object");
    EXPECT("{" F32("x", "[1]", 0, 4) "," F32("x", "[1]", 4, 8) "}", 8, MW_ERR_FORMAT, "JSON");
    EXPECT("{\"a\\u0000b\":{}}", 0, MW_ERR_FORMAT, "JSON");
    /* nesting deeper than the parser allows fails cleanly */
    char deep[5000];
    memset(deep, '[', sizeof deep - 1);
    deep[0] = '{', deep[1] = '"', deep[2] = 'a', deep[3] = '"', deep[4] = ':';
    deep[sizeof deep - 1] = 0;
    EXPECT(deep, 0, MW_ERR_FORMAT, "JSON");
}

static void test_entries(void) {
    EXPECT("{\"x\":[]}", 0, MW_ERR_FORMAT, "not an object");
    EXPECT("{\"x\":{\"shape\":[1],\"data_offsets\":[0,4]}}", 4, MW_ERR_FORMAT, "dtype");
    EXPECT("{\"x\":{\"dtype\":3,\"shape\":[1],\"data_offsets\":[0,4]}}", 4, MW_ERR_FORMAT, "dtype");
    EXPECT("{\"x\":{\"dtype\":\"F33\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4, MW_ERR_FORMAT,
           "unknown dtype \"F33\"");
    EXPECT("{\"x\":{\"dtype\":\"f32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4, MW_ERR_FORMAT,
           "unknown dtype");
    EXPECT("{\"x\":{\"dtype\":\"F32\",\"data_offsets\":[0,4]}}", 4, MW_ERR_FORMAT, "shape");
    EXPECT("{\"x\":{\"dtype\":\"F32\",\"shape\":1,\"data_offsets\":[0,4]}}", 4, MW_ERR_FORMAT,
           "shape");
    EXPECT("{" F32("x", "[-1]", 0, 4) "}", 4, MW_ERR_FORMAT, "shape entry 0");
    EXPECT("{" F32("x", "[1.0]", 0, 4) "}", 4, MW_ERR_FORMAT, "shape entry 0");
    EXPECT("{" F32("x", "[1,\"2\"]", 0, 8) "}", 8, MW_ERR_FORMAT, "shape entry 1");
    EXPECT("{" F32("x", "[99999999999999999999]", 0, 4) "}", 4, MW_ERR_FORMAT, "JSON");
    EXPECT("{" F32("x", "[4294967296,4294967296]", 0, 4) "}", 4, MW_ERR_FORMAT, "overflows");
    EXPECT("{" F32("x", "[4611686018427387904]", 0, 4) "}", 4, MW_ERR_FORMAT, "overflows");
    EXPECT("{" F32("x", "[1,1,1,1,1]", 0, 4) "}", 4, MW_ERR_UNSUPPORTED, "5 dimensions");
    EXPECT("{\"x\":{\"dtype\":\"F32\",\"shape\":[1]}}", 4, MW_ERR_FORMAT, "data_offsets");
    EXPECT("{\"x\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0]}}", 4, MW_ERR_FORMAT,
           "data_offsets");
    EXPECT("{\"x\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4,8]}}", 8, MW_ERR_FORMAT,
           "data_offsets");
    EXPECT("{\"x\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":{}}}", 4, MW_ERR_FORMAT,
           "data_offsets");
    EXPECT("{" F32("x", "[1]", -4, 0) "}", 4, MW_ERR_FORMAT, "data_offsets");
    EXPECT("{" F32("x", "[1]", 8, 4) "}", 8, MW_ERR_FORMAT, "before begin");
    EXPECT("{" F32("x", "[1]", 0, 8) "}", 4, MW_ERR_FORMAT, "past the data");
    EXPECT("{" F32("x", "[2]", 0, 4) "}", 4, MW_ERR_FORMAT, "need 8");
    EXPECT("{\"x\":{\"dtype\":\"F4\",\"shape\":[3],\"data_offsets\":[0,2]}}", 2, MW_ERR_FORMAT,
           "whole number of bytes");
    EXPECT("{\"__metadata__\":[]}", 0, MW_ERR_FORMAT, "__metadata__");
    EXPECT("{\"__metadata__\":{\"a\":1}}", 0, MW_ERR_FORMAT, "\"a\" is not a string");
}

static void test_tiling(void) {
    /* overlap, hole at the start, hole between, trailing bytes */
    EXPECT("{" F32("x", "[2]", 0, 8) "," F32("y", "[2]", 4, 12) "}", 12, MW_ERR_FORMAT, "overlaps");
    EXPECT("{" F32("x", "[1]", 4, 8) "}", 8, MW_ERR_FORMAT, "unused bytes");
    EXPECT("{" F32("x", "[1]", 0, 4) "," F32("y", "[1]", 8, 12) "}", 12, MW_ERR_FORMAT,
           "unused bytes");
    EXPECT("{" F32("x", "[1]", 0, 4) "}", 5, MW_ERR_FORMAT, "cover 4 bytes");
    EXPECT("{}", 1, MW_ERR_FORMAT, "cover 0 bytes");
    /* the same tensor twice (same range, other name) overlaps too */
    EXPECT("{" F32("x", "[1]", 0, 4) "," F32("y", "[1]", 0, 4) "}", 4, MW_ERR_FORMAT, "overlaps");
}

static void test_valid(void) {
    mw_err err;
    mw_st *st = NULL;
    size_t size;
    /* listed out of order, trailing spaces, unknown fields, every odd dtype */
    unsigned char *b =
        craft("{\"z\":{\"dtype\":\"U8\",\"shape\":[2,3],\"data_offsets\":[8,14],\"extra\":1},"
              "\"__metadata__\":{\"format\":\"pt\",\"k\":\"v\"},"
              "\"s\":{\"dtype\":\"F64\",\"shape\":[],\"data_offsets\":[0,8]},"
              "\"e\":{\"dtype\":\"BF16\",\"shape\":[0,5],\"data_offsets\":[14,14]},"
              "\"f4\":{\"dtype\":\"F4\",\"shape\":[4],\"data_offsets\":[14,16]},"
              "\"b\":{\"dtype\":\"BOOL\",\"shape\":[1],\"data_offsets\":[16,17]},"
              "\"i\":{\"dtype\":\"I16\",\"shape\":[1,1,1,1],\"data_offsets\":[17,19]}}   ",
              19, &size);
    CHECK_OK(mw_st_open_memory(b, size, &st, &err), err);
    static const char *order[] = {"s", "z", "e", "f4", "b", "i"};
    CHECK(st && mw_st_n_tensors(st) == 6);
    for (int i = 0; st && i < 6; i++)
        CHECK(!strcmp(mw_st_tensor_at(st, i)->name, order[i]));
    const mw_tensor *t = st ? mw_st_find_tensor(st, "s") : NULL;
    CHECK(t && t->type == MW_TYPE_F64 && t->n_dims == 0 && t->n_elems == 1 && t->ne[0] == 1);
    t = st ? mw_st_find_tensor(st, "z") : NULL;
    CHECK(t && t->type == MW_TYPE_COUNT && t->n_dims == 2 && t->ne[0] == 3 && t->ne[1] == 2);
    CHECK(t && t->n_bytes == 6 && t->data == b + size - 19 + 8);
    t = st ? mw_st_find_tensor(st, "e") : NULL;
    CHECK(t && t->type == MW_TYPE_BF16 && t->n_elems == 0 && t->n_bytes == 0 && t->ne[1] == 0);
    t = st ? mw_st_find_tensor(st, "f4") : NULL;
    CHECK(t && t->type == MW_TYPE_COUNT && t->n_elems == 4 && t->n_bytes == 2);
    t = st ? mw_st_find_tensor(st, "i") : NULL;
    CHECK(t && t->type == MW_TYPE_I16 && t->n_dims == 4);
    CHECK(st && mw_st_metadata(st, "k") && !strcmp(mw_st_metadata(st, "k"), "v"));
    mw_st_close(st);

    /* every truncation of a valid file fails cleanly */
    for (size_t n = 0; n < size; n++) {
        unsigned char *copy = malloc(n ? n : 1);
        memcpy(copy, b, n);
        st = NULL;
        CHECK(mw_st_open_memory(copy, n, &st, &err) == MW_ERR_FORMAT && st == NULL);
        free(copy);
    }
    free(b);
    /* null metadata is the same as none */
    EXPECT("{\"__metadata__\":null}", 0, MW_OK, NULL);
}

/* Writes a folder of crafted shards and an index. */
static void make_folder(const char *dir, const char *index, const char *s1, size_t d1,
                        const char *s2, size_t d2) {
    char path[4200];
    size_t size;
    rm_rf(at(dir));
    mkdir(at(dir), 0755);
    if (index) {
        snprintf(path, sizeof path, "%s/model.safetensors.index.json", at(dir));
        put_file(path, index, strlen(index));
    }
    unsigned char *b;
    if (s1) {
        b = craft(s1, d1, &size);
        snprintf(path, sizeof path, "%s/a.safetensors", at(dir));
        put_file(path, b, size);
        free(b);
    }
    if (s2) {
        b = craft(s2, d2, &size);
        snprintf(path, sizeof path, "%s/b.safetensors", at(dir));
        put_file(path, b, size);
        free(b);
    }
}

static void expect_dir(int line, const char *dir, enum mw_status want, const char *part) {
    mw_err err;
    mw_st *st = NULL;
    check_err(__FILE__, line, mw_st_open(at(dir), &st, &err), want, &err, part);
    if (want != MW_OK) CHECK(st == NULL);
    mw_st_close(st);
}

#define SHARD_A  "{\"__metadata__\":{\"format\":\"pt\"}," F32("x", "[1]", 0, 4) "}"
#define SHARD_B  "{" F32("y", "[2]", 0, 8) "," F32("w", "[1]", 8, 12) "}"
#define MAP(...) "{\"metadata\":{\"total_size\":16},\"weight_map\":{" __VA_ARGS__ "}}"

static void test_sharded(void) {
    mw_err err;
    mw_st *st = NULL;
    const char *good = MAP("\"y\":\"b.safetensors\",\"x\":\"a.safetensors\","
                           "\"w\":\"b.safetensors\"");
    make_folder("sh", good, SHARD_A, 4, SHARD_B, 12);
    CHECK_OK(mw_st_open(at("sh"), &st, &err), err);
    /* shards in name order, then offsets */
    CHECK(st && mw_st_n_tensors(st) == 3);
    CHECK(st && !strcmp(mw_st_tensor_at(st, 0)->name, "x"));
    CHECK(st && !strcmp(mw_st_tensor_at(st, 1)->name, "y"));
    CHECK(st && !strcmp(mw_st_tensor_at(st, 2)->name, "w"));
    CHECK(st && mw_st_metadata(st, "format") && !strcmp(mw_st_metadata(st, "format"), "pt"));
    mw_st_close(st);

    make_folder("sh", "{\"weight_map\":", SHARD_A, 4, SHARD_B, 12);
    expect_dir(__LINE__, "sh", MW_ERR_FORMAT, "not valid JSON");
    make_folder("sh", "", SHARD_A, 4, SHARD_B, 12);
    expect_dir(__LINE__, "sh", MW_ERR_FORMAT, "index");
    make_folder("sh", "{\"metadata\":{}}", SHARD_A, 4, SHARD_B, 12);
    expect_dir(__LINE__, "sh", MW_ERR_FORMAT, "weight_map missing");
    make_folder("sh", MAP(""), SHARD_A, 4, SHARD_B, 12);
    expect_dir(__LINE__, "sh", MW_ERR_FORMAT, "empty");
    make_folder("sh", MAP("\"x\":\"../a.safetensors\""), SHARD_A, 4, NULL, 0);
    expect_dir(__LINE__, "sh", MW_ERR_FORMAT, "inside the folder");
    make_folder("sh", MAP("\"x\":\"/etc/passwd\""), SHARD_A, 4, NULL, 0);
    expect_dir(__LINE__, "sh", MW_ERR_FORMAT, "inside the folder");
    make_folder("sh", MAP("\"x\":\"..\""), SHARD_A, 4, NULL, 0);
    expect_dir(__LINE__, "sh", MW_ERR_FORMAT, "inside the folder");
    make_folder("sh", MAP("\"x\":3"), SHARD_A, 4, NULL, 0);
    expect_dir(__LINE__, "sh", MW_ERR_FORMAT, "inside the folder");
    make_folder("sh", MAP("\"x\":\"a.safetensors\",\"x\":\"a.safetensors\""), SHARD_A, 4, NULL, 0);
    expect_dir(__LINE__, "sh", MW_ERR_FORMAT, "duplicate");
    /* a shard missing */
    make_folder("sh", good, SHARD_A, 4, NULL, 0);
    expect_dir(__LINE__, "sh", MW_ERR_IO, "lists shard b.safetensors");
    /* weight_map names a tensor its shard lacks, or puts it in the wrong one */
    make_folder("sh", MAP("\"x\":\"a.safetensors\",\"v\":\"a.safetensors\""), SHARD_A, 4, NULL, 0);
    expect_dir(__LINE__, "sh", MW_ERR_FORMAT, "puts \"v\" in a.safetensors");
    make_folder("sh", MAP("\"y\":\"a.safetensors\",\"x\":\"b.safetensors\""), SHARD_A, 4, SHARD_B,
                12);
    expect_dir(__LINE__, "sh", MW_ERR_FORMAT, "which lacks it");
    /* the same tensor in two shards */
    make_folder("sh", MAP("\"x\":\"a.safetensors\",\"y\":\"b.safetensors\""), SHARD_A, 4,
                "{" F32("x", "[1]", 0, 4) "," F32("y", "[1]", 4, 8) "}", 8);
    expect_dir(__LINE__, "sh", MW_ERR_FORMAT, "is in both");
    /* a bad shard is named in the message */
    make_folder("sh", good, SHARD_A, 4, SHARD_B, 11);
    expect_dir(__LINE__, "sh", MW_ERR_FORMAT, "b.safetensors");
    /* a tensor the weight_map does not list is still read */
    make_folder("sh", MAP("\"x\":\"a.safetensors\",\"y\":\"b.safetensors\""), SHARD_A, 4, SHARD_B,
                12);
    expect_dir(__LINE__, "sh", MW_OK, NULL);
    /* neither file: not found; both: the single file wins */
    make_folder("sh", NULL, NULL, 0, NULL, 0);
    expect_dir(__LINE__, "sh", MW_ERR_NOT_FOUND, "neither");
    expect_dir(__LINE__, "does-not-exist", MW_ERR_IO, "does-not-exist");
    /* a FIFO is refused, not opened (which would block) */
    CHECK(mkfifo(at("fifo.safetensors"), 0644) == 0);
    expect_dir(__LINE__, "fifo.safetensors", MW_ERR_IO, "not a regular file");
    make_folder("sh", MAP("\"x\":\"a.safetensors\",\"y\":\"f\""), SHARD_A, 4, NULL, 0);
    CHECK(mkfifo(at("sh/f"), 0644) == 0);
    expect_dir(__LINE__, "sh", MW_ERR_IO, "not a regular file");
    make_folder("sh", "not even json", SHARD_A, 4, NULL, 0);
    rename(at("sh/a.safetensors"), at("sh/model.safetensors"));
    expect_dir(__LINE__, "sh", MW_OK, NULL);
}

int main(int argc, char **argv) {
    (void)argc, (void)argv;
    make_root();
    test_header_bytes();
    test_entries();
    test_tiling();
    test_valid();
    test_sharded();
    rm_rf(g_root);
    if (g_failures) fprintf(stderr, "%d check(s) failed\n", g_failures);
    return g_failures ? 1 : 0;
}
