/* GGUF writer -> reader round trips: every metadata value type as a scalar
 * and as an array, general.alignment, tensors of several types and ranks
 * with their bytes, the layout llama.cpp demands, and the typed accessors.
 * The writer's refusals are in test_gguf_writer.c, crafted bad files in
 * test_gguf_bad.c. */
#include "gguf_testutil.h"

#include <math.h>

/* ---- metadata ---------------------------------------------------------- */

static const uint8_t A_U8[] = {0, 7, 255};
static const int8_t A_I8[] = {-128, 0, 127};
static const uint16_t A_U16[] = {65535, 1};
static const int16_t A_I16[] = {-32768, 32767, -1};
static const uint32_t A_U32[] = {4000000000u, 0, 17};
static const int32_t A_I32[] = {INT32_MIN, INT32_MAX};
static const float A_F32[] = {1.5f, -0.0f, 3.4e38f, 1e-45f};
static const uint8_t A_BOOL[] = {1, 0, 1, 1};
static const mw_str A_STR[] = {{"", 0}, {"x\0y", 3}, {"\xc3\xbcn\xc3\xaf", 5}, {"last", 4}};
static const uint64_t A_U64[] = {UINT64_MAX, 0};
static const int64_t A_I64[] = {INT64_MIN, INT64_MAX, -5};
static const double A_F64[] = {1e300, -2.5, 5e-324};

static const uint8_t S_U8 = 200, S_BOOL_T = 1, S_BOOL_F = 0;
static const int8_t S_I8 = -100;
static const uint16_t S_U16 = 60000;
static const int16_t S_I16 = -30000;
static const uint32_t S_U32 = 4000000000u;
static const int32_t S_I32 = -2000000000;
static const float S_F32 = 3.14159f;
static const uint64_t S_U64 = UINT64_MAX;
static const int64_t S_I64 = INT64_MIN;
static const double S_F64 = 1e300;
static const mw_str S_STR = {"h\xc3\xa9llo", 6}, S_NUL = {"a\0b", 3}, S_EMPTY = {"", 0};

#define SCALAR(k, t, v)                                                                            \
    { k, t, t, 1, &(v) }
#define ARRAY(k, t, a, n)                                                                          \
    { k, MW_GGUF_ARRAY, t, n, a }

static const mw_gguf_kv KVS[] = {
    SCALAR("s.uint8", MW_GGUF_UINT8, S_U8),
    SCALAR("s.int8", MW_GGUF_INT8, S_I8),
    SCALAR("s.uint16", MW_GGUF_UINT16, S_U16),
    SCALAR("s.int16", MW_GGUF_INT16, S_I16),
    SCALAR("s.uint32", MW_GGUF_UINT32, S_U32),
    SCALAR("s.int32", MW_GGUF_INT32, S_I32),
    SCALAR("s.float32", MW_GGUF_FLOAT32, S_F32),
    SCALAR("s.bool_true", MW_GGUF_BOOL, S_BOOL_T),
    SCALAR("s.bool_false", MW_GGUF_BOOL, S_BOOL_F),
    SCALAR("s.string", MW_GGUF_STRING, S_STR),
    SCALAR("s.string_nul", MW_GGUF_STRING, S_NUL),
    SCALAR("s.string_empty", MW_GGUF_STRING, S_EMPTY),
    SCALAR("s.uint64", MW_GGUF_UINT64, S_U64),
    SCALAR("s.int64", MW_GGUF_INT64, S_I64),
    SCALAR("s.float64", MW_GGUF_FLOAT64, S_F64),
    ARRAY("a.uint8", MW_GGUF_UINT8, A_U8, 3),
    ARRAY("a.int8", MW_GGUF_INT8, A_I8, 3),
    ARRAY("a.uint16", MW_GGUF_UINT16, A_U16, 2),
    ARRAY("a.int16", MW_GGUF_INT16, A_I16, 3),
    ARRAY("a.uint32", MW_GGUF_UINT32, A_U32, 3),
    ARRAY("a.int32", MW_GGUF_INT32, A_I32, 2),
    ARRAY("a.float32", MW_GGUF_FLOAT32, A_F32, 4),
    ARRAY("a.bool", MW_GGUF_BOOL, A_BOOL, 4),
    ARRAY("a.string", MW_GGUF_STRING, A_STR, 4),
    ARRAY("a.uint64", MW_GGUF_UINT64, A_U64, 2),
    ARRAY("a.int64", MW_GGUF_INT64, A_I64, 3),
    ARRAY("a.float64", MW_GGUF_FLOAT64, A_F64, 3),
    ARRAY("a.empty_uint8", MW_GGUF_UINT8, A_U8, 0),
    ARRAY("a.empty_string", MW_GGUF_STRING, A_STR, 0),
    ARRAY("a.empty_float64", MW_GGUF_FLOAT64, A_F64, 0),
    SCALAR("\xc3\xa9t\xc3\xa9.utf8_key", MW_GGUF_UINT8, S_U8),
};
#define N_KVS (sizeof KVS / sizeof KVS[0])

/* Element-wise equality of two entries (strings by length and bytes). */
static bool same_kv(const mw_gguf_kv *a, const mw_gguf_kv *b) {
    if (strcmp(a->key, b->key) || a->type != b->type || a->elem_type != b->elem_type ||
        a->n != b->n)
        return false;
    if (a->elem_type != MW_GGUF_STRING)
        return a->n == 0 || memcmp(a->data, b->data, a->n * mw_gguf_vtype_size(a->elem_type)) == 0;
    const mw_str *x = a->data, *y = b->data;
    for (uint64_t i = 0; i < a->n; i++)
        if (x[i].len != y[i].len || memcmp(x[i].s, y[i].s, x[i].len) || y[i].s[y[i].len] != 0)
            return false;
    return true;
}

/* ---- tensors ----------------------------------------------------------- */

struct tspec {
    const char *name;
    enum mw_type type;
    uint32_t n_dims;
    int64_t ne[4];
};

static const struct tspec TENSORS[] = {
    {"f32.vec", MW_TYPE_F32, 1, {5}},
    {"f16.mat", MW_TYPE_F16, 2, {6, 3}},
    {"bf16.cube", MW_TYPE_BF16, 3, {4, 3, 2}},
    {"q8_0.mat", MW_TYPE_Q8_0, 2, {64, 3}},
    {"q4_k.four", MW_TYPE_Q4_K, 4, {256, 1, 2, 1}},
    {"empty", MW_TYPE_F32, 2, {0, 4}},
    {"name.of.exactly.sixty.three.bytes.xxxxxxxxxxxxxxxxxxxxxxxxxxxxx", MW_TYPE_I32, 1, {3}},
    {"last.f32", MW_TYPE_F32, 2, {8, 2}},
};
#define N_TENSORS (sizeof TENSORS / sizeof TENSORS[0])

static uint64_t spec_elems(const struct tspec *t) {
    uint64_t n = 1;
    for (uint32_t d = 0; d < t->n_dims; d++)
        n *= (uint64_t)t->ne[d];
    return n;
}

static uint64_t spec_bytes(const struct tspec *t) {
    uint64_t b = 0;
    if (!mw_type_row_bytes(t->type, spec_elems(t), &b)) abort();
    return b;
}

static void fill(unsigned char *buf, uint64_t n, size_t i) {
    for (uint64_t k = 0; k < n; k++)
        buf[k] = (unsigned char)(k * 13 + i * 29 + 3);
}

/* Writes KVS (plus general.alignment when align != 0) and TENSORS. */
static enum mw_status write_file(const char *path, uint32_t align, mw_err *err) {
    mw_gguf_writer *w = NULL;
    enum mw_status s = mw_gguf_writer_create(path, &w, err);
    if (s) return s;
    for (size_t i = 0; !s && i < N_KVS; i++)
        s = mw_gguf_writer_set_kv(w, &KVS[i], err);
    if (!s && align) s = mw_gguf_writer_set_u32(w, "general.alignment", align, err);
    for (size_t i = 0; !s && i < N_TENSORS; i++)
        s = mw_gguf_writer_add_tensor(w, TENSORS[i].name, TENSORS[i].type, TENSORS[i].n_dims,
                                      TENSORS[i].ne, err);
    unsigned char buf[1024];
    for (size_t i = 0; !s && i < N_TENSORS; i++) {
        uint64_t n = spec_bytes(&TENSORS[i]);
        fill(buf, n, i);
        s = mw_gguf_writer_write_tensor(w, buf, n, err);
    }
    if (s) {
        mw_gguf_writer_free(w);
        return s;
    }
    return mw_gguf_writer_finish(w, err);
}

/* Everything written is read back, in order, with the layout llama.cpp
 * demands: data offsets aligned and contiguous in info order. */
static void check_file(const mw_gguf *g, uint32_t align, const char *how) {
    uint64_t a = align ? align : 32;
    CHECK(mw_gguf_version(g) == 3);
    CHECK(mw_gguf_alignment(g) == a);
    CHECK(mw_gguf_n_kv(g) == (int64_t)N_KVS + (align ? 1 : 0));
    int kv_ok = 0;
    for (size_t i = 0; i < N_KVS; i++) {
        const mw_gguf_kv *kv = mw_gguf_kv_at(g, (int64_t)i);
        bool ok = kv && same_kv(&KVS[i], kv) && mw_gguf_find_kv(g, KVS[i].key) == kv;
        if (!ok) fprintf(stderr, "  %s: entry %zu (%s) differs\n", how, i, KVS[i].key);
        CHECK(ok);
        kv_ok += ok;
    }
    if (align) {
        int64_t v = 0;
        const mw_gguf_kv *kv = mw_gguf_kv_at(g, (int64_t)N_KVS);
        CHECK(kv && strcmp(kv->key, "general.alignment") == 0 && kv->type == MW_GGUF_UINT32);
        CHECK(mw_gguf_kv_int(kv, &v) && v == align);
    }
    CHECK(mw_gguf_kv_at(g, -1) == NULL && mw_gguf_kv_at(g, mw_gguf_n_kv(g)) == NULL);
    CHECK(mw_gguf_find_kv(g, "s.uint") == NULL && mw_gguf_find_kv(g, "") == NULL);

    CHECK(mw_gguf_n_tensors(g) == (int64_t)N_TENSORS);
    CHECK(mw_gguf_data_offset(g) % a == 0);
    const unsigned char *base = NULL;
    uint64_t expect_off = 0;
    int t_ok = 0;
    for (size_t i = 0; i < N_TENSORS; i++) {
        const struct tspec *s = &TENSORS[i];
        const mw_tensor *t = mw_gguf_tensor_at(g, (int64_t)i);
        uint64_t nb = spec_bytes(s), off = mw_gguf_tensor_offset(g, (int64_t)i);
        unsigned char buf[1024];
        fill(buf, nb, i);
        if (!base) base = (const unsigned char *)t->data - off;
        bool ok = t && strcmp(t->name, s->name) == 0 && t->type == s->type &&
                  t->n_dims == s->n_dims && t->n_elems == spec_elems(s) && t->n_bytes == nb &&
                  mw_gguf_find_tensor(g, s->name) == t && off == expect_off && off % a == 0 &&
                  (const unsigned char *)t->data == base + off &&
                  (nb == 0 || memcmp(t->data, buf, nb) == 0);
        for (uint32_t d = 0; d < MW_MAX_DIMS; d++)
            ok = ok && t->ne[d] == (d < s->n_dims ? s->ne[d] : 1);
        if (!ok) fprintf(stderr, "  %s: tensor %s differs\n", how, s->name);
        CHECK(ok);
        t_ok += ok;
        expect_off += (nb + a - 1) / a * a;
    }
    CHECK(mw_gguf_data_offset(g) + expect_off == mw_gguf_file_size(g));
    CHECK(mw_gguf_tensor_at(g, (int64_t)N_TENSORS) == NULL &&
          mw_gguf_find_tensor(g, "f32") == NULL);
    printf("round trip (%s, alignment %llu): %d/%zu entries, %d/%zu tensors equal, %llu bytes\n",
           how, (unsigned long long)a, kv_ok, N_KVS, t_ok, N_TENSORS,
           (unsigned long long)mw_gguf_file_size(g));
}

static void test_round_trip(uint32_t align) {
    mw_err err = {{0}};
    const char *path = at("round.gguf");
    CHECK_OK(write_file(path, align, &err), err);
    CHECK(count_entries(g_root, ".tmp-") == 0);
    mw_gguf *g = NULL;
    enum mw_status s = mw_gguf_open(path, &g, &err);
    CHECK_OK(s, err);
    if (!s) check_file(g, align, "file");
    mw_gguf_close(g);
    size_t size;
    unsigned char *bytes = slurp(path, &size);
    s = mw_gguf_open_memory(bytes, size, &g, &err);
    CHECK_OK(s, err);
    if (!s) check_file(g, align, "memory");
    mw_gguf_close(g);
    free(bytes);
    remove(path);
}

/* ---- typed accessors ---------------------------------------------------- */

static const mw_gguf_kv *kv_of(const char *key) {
    for (size_t i = 0; i < N_KVS; i++)
        if (strcmp(KVS[i].key, key) == 0) return &KVS[i];
    abort();
}

static void test_accessors(void) {
    static const struct {
        const char *key;
        bool int_ok;
        int64_t i;
        bool float_ok;
        double f;
    } CASES[] = {
        {"s.uint8", true, 200, true, 200},
        {"s.int8", true, -100, true, -100},
        {"s.uint16", true, 60000, true, 60000},
        {"s.int16", true, -30000, true, -30000},
        {"s.uint32", true, 4000000000ll, true, 4e9},
        {"s.int32", true, -2000000000ll, true, -2e9},
        {"s.float32", false, 0, true, (double)3.14159f},
        {"s.bool_true", true, 1, false, 0},
        {"s.bool_false", true, 0, false, 0},
        {"s.uint64", false, 0, true, 18446744073709551615.0},
        {"s.int64", true, INT64_MIN, true, -9223372036854775808.0},
        {"s.float64", false, 0, true, 1e300},
        {"s.string", false, 0, false, 0},
        {"a.uint8", false, 0, false, 0},
        {"a.float64", false, 0, false, 0},
    };
    int n = 0;
    for (size_t c = 0; c < sizeof CASES / sizeof CASES[0]; c++) {
        const mw_gguf_kv *kv = kv_of(CASES[c].key);
        int64_t i = 12345;
        double f = 12345;
        bool io = mw_gguf_kv_int(kv, &i), fo = mw_gguf_kv_float(kv, &f);
        bool ok = io == CASES[c].int_ok && (!io || i == CASES[c].i) && fo == CASES[c].float_ok &&
                  (!fo || f == CASES[c].f);
        if (!ok)
            fprintf(stderr, "accessor %s: int %d (%lld), float %d (%.17g)\n", CASES[c].key, io,
                    (long long)i, fo, f);
        CHECK(ok);
        n += ok;
    }
    CHECK(strcmp(mw_gguf_kv_str(kv_of("s.string")), "h\xc3\xa9llo") == 0);
    CHECK(strcmp(mw_gguf_kv_str(kv_of("s.string_nul")), "a") == 0);
    CHECK(strcmp(mw_gguf_kv_str(kv_of("s.string_empty")), "") == 0);
    CHECK(mw_gguf_kv_str(kv_of("a.string")) == NULL && mw_gguf_kv_str(kv_of("s.uint8")) == NULL);
    CHECK(!mw_gguf_kv_int(NULL, NULL) && mw_gguf_kv_str(NULL) == NULL);
    printf("accessors: %d/%zu entries give the expected int/float\n", n,
           sizeof CASES / sizeof CASES[0]);
    int names = 0;
    for (uint32_t t = 0; t < MW_GGUF_VTYPE_COUNT; t++)
        names += mw_gguf_vtype_name(t) != NULL;
    CHECK(names == 13 && mw_gguf_vtype_name(13) == NULL && mw_gguf_vtype_size(MW_GGUF_UINT64) == 8);
    CHECK(mw_gguf_vtype_size(MW_GGUF_STRING) == 0 && mw_gguf_vtype_size(99) == 0);
}

/* A file without tensors and one with only empty tensors are valid; trailing
 * padding after the last tensor may be missing (llama.cpp maps such files). */
static void test_edges(void) {
    mw_err err = {{0}};
    mw_gguf_writer *w = NULL;
    const char *path = at("edges.gguf");
    CHECK_OK(mw_gguf_writer_create(path, &w, &err), err);
    CHECK_OK(mw_gguf_writer_set_str(w, "general.name", "no tensors", &err), err);
    CHECK_OK(mw_gguf_writer_finish(w, &err), err);
    size_t size;
    unsigned char *b = slurp(path, &size);
    mw_gguf *g = NULL;
    CHECK_OK(mw_gguf_open_memory(b, size, &g, &err), err);
    CHECK(g && mw_gguf_n_tensors(g) == 0 && mw_gguf_n_kv(g) == 1);
    mw_gguf_close(g);
    free(b);

    int64_t ne[2] = {5, 1};
    float data[5] = {1, 2, 3, 4, 5};
    CHECK_OK(mw_gguf_writer_create(path, &w, &err), err);
    CHECK_OK(mw_gguf_writer_add_tensor(w, "five", MW_TYPE_F32, 2, ne, &err), err);
    CHECK_OK(mw_gguf_writer_write_tensor(w, data, sizeof data, &err), err);
    CHECK_OK(mw_gguf_writer_finish(w, &err), err);
    b = slurp(path, &size);
    CHECK(size % 32 == 0);
    CHECK_OK(mw_gguf_open_memory(b, size - 12, &g, &err), err); /* padding gone */
    CHECK(g && memcmp(mw_gguf_tensor_at(g, 0)->data, data, sizeof data) == 0);
    mw_gguf_close(g);
    CHECK_ERR(mw_gguf_open_memory(b, size - 13, &g, &err), MW_ERR_FORMAT, err, "past the end");
    free(b);
    remove(path);
    printf("edges: file without tensors, file without final padding read\n");
}

int main(void) {
    make_root();
    test_round_trip(0);
    test_round_trip(64);
    test_round_trip(1);
    test_accessors();
    test_edges();
    rm_rf(g_root);
    if (g_failures) fprintf(stderr, "%d check(s) failed\n", g_failures);
    return g_failures ? 1 : 0;
}
