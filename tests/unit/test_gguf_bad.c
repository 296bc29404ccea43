/* GGUF reader on crafted bytes: every rule of the format broken once, in
 * memory and on disk; a valid file truncated at every offset; and every
 * byte of a valid file overwritten. Each must give the right status and a
 * one-line message, and never crash (run under ASan/UBSan too). */
#include "gguf_testutil.h"

struct ti {
    const char *name;
    uint32_t n_dims;
    uint64_t ne[5];
    uint32_t type;
    uint64_t off;
};

/* Version 3, one key, the given tensor infos, padding to 32, then
 * data_bytes bytes of data. */
static gbuf make(const struct ti *t, size_t n_t, size_t data_bytes) {
    gbuf b = {0};
    gb_header(&b, 3, n_t, 1);
    gb_kv_str(&b, "general.architecture", "test");
    for (size_t i = 0; i < n_t; i++)
        gb_tensor(&b, t[i].name, t[i].n_dims, t[i].ne, t[i].type, t[i].off);
    gb_pad(&b, 32);
    gb_zeros(&b, data_bytes);
    return b;
}

#define T(...) ((struct ti[]){__VA_ARGS__})
#define EXPECT_TENSORS(ts, n_t, data, want, part)                                                  \
    do {                                                                                           \
        gbuf b_ = make(ts, n_t, data);                                                             \
        GGUF_EXPECT(&b_, want, part);                                                              \
        gb_free(&b_);                                                                              \
    } while (0)

static void test_header(void) {
    gbuf b = {0};
    GGUF_EXPECT(&b, MW_ERR_FORMAT, "0 bytes");
    gb_put(&b, "GGU", 3);
    GGUF_EXPECT(&b, MW_ERR_FORMAT, "3 bytes");
    gb_free(&b);
    static const char *const MAGICS[] = {"GGUG", "FUGG", "GGML", "\0\0\0\0"};
    for (int i = 0; i < 4; i++) {
        gb_put(&b, MAGICS[i], 4);
        gb_u32(&b, 3);
        gb_u64(&b, 0);
        gb_u64(&b, 0);
        GGUF_EXPECT(&b, MW_ERR_FORMAT, "bad magic");
        gb_free(&b);
    }
    static const uint32_t VERSIONS[] = {0, 1, 4, 0x03000000u, UINT32_MAX};
    for (int i = 0; i < 5; i++) {
        gb_header(&b, VERSIONS[i], 0, 0);
        GGUF_EXPECT(&b, MW_ERR_UNSUPPORTED, "version");
        gb_free(&b);
    }
    gb_header(&b, 2, 0, 0); /* version 2 has the same layout */
    GGUF_EXPECT(&b, MW_OK, NULL);
    gb_free(&b);
    gb_put(&b, "GGUF\3\0\0\0", 8);
    GGUF_EXPECT(&b, MW_ERR_FORMAT, "tensor count");
    gb_free(&b);
    static const uint64_t COUNTS[] = {1ull << 63, UINT64_MAX, 1ull << 32, 3};
    for (int i = 0; i < 4; i++) {
        gb_header(&b, 3, COUNTS[i], 0);
        gb_zeros(&b, 64);
        GGUF_EXPECT(&b, MW_ERR_FORMAT, "tensors, more than fit");
        gb_free(&b);
        gb_header(&b, 3, 0, COUNTS[i]);
        gb_zeros(&b, 28);
        GGUF_EXPECT(&b, MW_ERR_FORMAT, "keys, more than fit");
        gb_free(&b);
    }
    printf("header: sizes, magics, versions and absurd counts refused\n");
}

/* One key `key` of raw type `type` followed by the given value bytes. */
static void expect_kv(int line, const char *key, size_t key_len, uint32_t type, const void *value,
                      size_t value_len, enum mw_status want, const char *part) {
    gbuf b = {0};
    gb_header(&b, 3, 0, 1);
    gb_strn(&b, key, key_len);
    gb_u32(&b, type);
    gb_put(&b, value, value_len);
    gguf_expect(__FILE__, line, b.p, b.n, want, part);
    gb_free(&b);
}
#define EXPECT_KV(key, type, v, n, want, part)                                                     \
    expect_kv(__LINE__, key, sizeof key - 1, type, v, n, want, part)

/* Array header (element type, count) then element bytes. */
static void expect_array(int line, uint32_t elem, uint64_t count, const void *els, size_t n,
                         enum mw_status want, const char *part) {
    unsigned char v[256];
    memcpy(v, &elem, 4);
    memcpy(v + 4, &count, 8);
    if (n) memcpy(v + 12, els, n);
    expect_kv(line, "arr", 3, MW_GGUF_ARRAY, v, 12 + n, want, part);
}
#define EXPECT_ARRAY(elem, count, els, n, want, part)                                              \
    expect_array(__LINE__, elem, count, els, n, want, part)

static void test_kv(void) {
    uint32_t u32 = 7;
    uint64_t len = 5;
    EXPECT_KV("k", MW_GGUF_UINT32, &u32, 4, MW_OK, NULL);
    EXPECT_KV("k", MW_GGUF_UINT32, &u32, 3, MW_ERR_FORMAT, "cannot fit");
    EXPECT_KV("k", MW_GGUF_STRING, &len, 8, MW_ERR_FORMAT, "past the end");
    len = 1ull << 63;
    EXPECT_KV("k", MW_GGUF_STRING, &len, 8, MW_ERR_FORMAT, "past the end");
    EXPECT_KV("", MW_GGUF_UINT32, &u32, 4, MW_ERR_FORMAT, "empty");
    EXPECT_KV("a\0b", MW_GGUF_UINT32, &u32, 4, MW_ERR_FORMAT, "UTF-8");
    EXPECT_KV("a\xff", MW_GGUF_UINT32, &u32, 4, MW_ERR_FORMAT, "UTF-8");
    EXPECT_KV("\xc0\x80", MW_GGUF_UINT32, &u32, 4, MW_ERR_FORMAT, "UTF-8");     /* overlong */
    EXPECT_KV("\xed\xa0\x80", MW_GGUF_UINT32, &u32, 4, MW_ERR_FORMAT, "UTF-8"); /* surrogate */
    EXPECT_KV("\xf4\x90\x80\x80", MW_GGUF_UINT32, &u32, 4, MW_ERR_FORMAT, "UTF-8");
    EXPECT_KV("k", 13, &u32, 4, MW_ERR_FORMAT, "unknown value type 13");
    EXPECT_KV("k", UINT32_MAX, &u32, 4, MW_ERR_FORMAT, "unknown value type");
    /* a key with a newline is valid; the message about it stays one line */
    EXPECT_KV("line\nbreak", 13, &u32, 4, MW_ERR_FORMAT, "line?break");
    uint8_t two = 2;
    EXPECT_KV("k", MW_GGUF_BOOL, &two, 1, MW_ERR_FORMAT, "bool value 2");

    /* a key set twice */
    gbuf b = {0};
    gb_header(&b, 3, 0, 2);
    gb_kv_u32(&b, "same", 1);
    gb_kv_str(&b, "same", "again");
    GGUF_EXPECT(&b, MW_ERR_FORMAT, "'same' appears twice");
    gb_free(&b);
    /* a key length past the end of the file */
    gb_header(&b, 3, 0, 1);
    gb_u64(&b, 1000);
    gb_zeros(&b, 40);
    GGUF_EXPECT(&b, MW_ERR_FORMAT, "claims 1000 bytes");
    gb_free(&b);

    uint8_t u8s[16] = {1, 0, 1, 2};
    EXPECT_ARRAY(MW_GGUF_UINT8, 3, u8s, 3, MW_OK, NULL);
    EXPECT_ARRAY(MW_GGUF_BOOL, 4, u8s, 4, MW_ERR_FORMAT, "bool value 2");
    EXPECT_ARRAY(MW_GGUF_ARRAY, 1, u8s, 16, MW_ERR_UNSUPPORTED, "nested");
    EXPECT_ARRAY(13, 1, u8s, 16, MW_ERR_FORMAT, "unknown array type 13");
    EXPECT_ARRAY(MW_GGUF_UINT8, 17, u8s, 16, MW_ERR_FORMAT, "cannot fit");
    EXPECT_ARRAY(MW_GGUF_UINT8, 1ull << 63, u8s, 16, MW_ERR_FORMAT, "cannot fit");
    EXPECT_ARRAY(MW_GGUF_UINT64, 3, u8s, 16, MW_ERR_FORMAT, "cannot fit");
    EXPECT_ARRAY(MW_GGUF_FLOAT64, UINT64_MAX, u8s, 16, MW_ERR_FORMAT, "cannot fit");
    EXPECT_ARRAY(MW_GGUF_STRING, 3, u8s, 16, MW_ERR_FORMAT, "strings cannot fit");
    EXPECT_ARRAY(MW_GGUF_STRING, 1ull << 61, u8s, 16, MW_ERR_FORMAT, "strings cannot fit");
    uint64_t strs[3] = {0, 100, 0}; /* second string runs past the end */
    EXPECT_ARRAY(MW_GGUF_STRING, 3, strs, 24, MW_ERR_FORMAT, "past the end");
    EXPECT_ARRAY(MW_GGUF_STRING, 0, strs, 0, MW_OK, NULL);
    printf("metadata: keys, value types, bools, strings and arrays refused\n");
}

static void test_alignment(void) {
    static const struct {
        uint32_t type;
        uint64_t value; /* little-endian: the low bytes are written */
        size_t size;
        enum mw_status want;
        const char *part;
    } CASES[] = {
        {MW_GGUF_UINT32, 64, 4, MW_OK, NULL},
        {MW_GGUF_UINT32, 1, 4, MW_OK, NULL},
        {MW_GGUF_UINT32, 0, 4, MW_ERR_FORMAT, "alignment 0 is not a power of two"},
        {MW_GGUF_UINT32, 48, 4, MW_ERR_FORMAT, "alignment 48 is not a power of two"},
        {MW_GGUF_UINT32, UINT32_MAX, 4, MW_ERR_FORMAT, "not a power of two"},
        {MW_GGUF_UINT64, 64, 8, MW_ERR_FORMAT, "must be a uint32, not uint64"},
        {MW_GGUF_INT32, 64, 4, MW_ERR_FORMAT, "must be a uint32, not int32"},
        {MW_GGUF_UINT16, 64, 2, MW_ERR_FORMAT, "must be a uint32, not uint16"},
        {MW_GGUF_FLOAT32, 0x42800000, 4, MW_ERR_FORMAT, "must be a uint32, not float32"},
    };
    for (size_t i = 0; i < sizeof CASES / sizeof CASES[0]; i++) {
        gbuf b = {0};
        gb_header(&b, 3, 1, 1);
        gb_str(&b, "general.alignment");
        gb_u32(&b, CASES[i].type);
        gb_put(&b, &CASES[i].value, CASES[i].size);
        gb_tensor(&b, "t", 1, (uint64_t[]){4}, MW_TYPE_F32, 0);
        gb_pad(&b, CASES[i].want == MW_OK ? CASES[i].value : 32);
        gb_zeros(&b, 16);
        GGUF_EXPECT(&b, CASES[i].want, CASES[i].part);
        gb_free(&b);
    }
    /* as a string and as an array of uint32 */
    gbuf b = {0};
    gb_header(&b, 3, 0, 1);
    gb_kv_str(&b, "general.alignment", "64");
    GGUF_EXPECT(&b, MW_ERR_FORMAT, "not string");
    gb_free(&b);
    gb_header(&b, 3, 0, 1);
    gb_str(&b, "general.alignment");
    gb_u32(&b, MW_GGUF_ARRAY);
    gb_u32(&b, MW_GGUF_UINT32);
    gb_u64(&b, 1);
    gb_u32(&b, 64);
    GGUF_EXPECT(&b, MW_ERR_FORMAT, "not array");
    gb_free(&b);
    /* a 2^31 alignment puts the data section past the end */
    gb_header(&b, 3, 1, 1);
    gb_kv_u32(&b, "general.alignment", 1u << 31);
    gb_tensor(&b, "t", 1, (uint64_t[]){4}, MW_TYPE_F32, 0);
    gb_zeros(&b, 64);
    GGUF_EXPECT(&b, MW_ERR_FORMAT, "no data section");
    gb_free(&b);
    printf("general.alignment: types and values checked\n");
}

static void test_tensor_infos(void) {
    const uint32_t F = MW_TYPE_F32;
    EXPECT_TENSORS(T({"ok", 2, {4, 2}, F, 0}), 1, 32, MW_OK, NULL);
    char long_name[65];
    memset(long_name, 'x', 64);
    long_name[64] = 0;
    EXPECT_TENSORS(T({long_name, 1, {4}, F, 0}), 1, 32, MW_ERR_FORMAT, "max 63");
    long_name[63] = 0;
    EXPECT_TENSORS(T({long_name, 1, {4}, F, 0}), 1, 32, MW_OK, NULL);
    EXPECT_TENSORS(T({"", 1, {4}, F, 0}), 1, 32, MW_ERR_FORMAT, "tensor name at offset");
    EXPECT_TENSORS(T({"t\xfe", 1, {4}, F, 0}), 1, 32, MW_ERR_FORMAT, "not valid UTF-8");
    EXPECT_TENSORS(T({"t", 1, {4}, F, 0}, {"t", 1, {4}, F, 32}), 2, 64, MW_ERR_FORMAT,
                   "'t' appears twice");
    EXPECT_TENSORS(T({"t", 0, {0}, F, 0}), 1, 32, MW_ERR_FORMAT, "has 0 dimensions");
    EXPECT_TENSORS(T({"t", 5, {1, 1, 1, 1, 1}, F, 0}), 1, 32, MW_ERR_FORMAT, "has 5 dimensions");
    /* element counts that overflow int64 */
    static const uint64_t OVER[][2] = {{1ull << 32, 1ull << 32},
                                       {1ull << 63, 1},
                                       {1ull << 62, 2},
                                       {UINT64_MAX, 1},
                                       {3, 1ull << 62}};
    for (int i = 0; i < 5; i++)
        EXPECT_TENSORS(T({"t", 2, {OVER[i][0], OVER[i][1]}, F, 0}), 1, 32, MW_ERR_FORMAT,
                       "overflow a 64-bit element count");
    EXPECT_TENSORS(T({"t", 4, {1ull << 16, 1ull << 16, 1ull << 16, 1ull << 16}, F, 0}), 1, 32,
                   MW_ERR_FORMAT, "overflow");
    EXPECT_TENSORS(T({"t", 1, {1ull << 62}, F, 0}), 1, 32, MW_ERR_FORMAT, "byte size overflows");
    EXPECT_TENSORS(T({"t", 2, {1ull << 40, 1ull << 20}, MW_TYPE_BF16, 0}), 1, 32, MW_ERR_FORMAT,
                   "past the end");
    /* type ids that are not types (retired, unassigned, out of range) */
    static const uint32_t TYPES[] = {4, 5, 31, 32, 33, 36, 37, 38, 40, 1000, UINT32_MAX};
    for (size_t i = 0; i < sizeof TYPES / sizeof TYPES[0]; i++)
        EXPECT_TENSORS(T({"t", 1, {32}, TYPES[i], 0}), 1, 256, MW_ERR_FORMAT, "unknown type id");
    EXPECT_TENSORS(T({"t", 2, {16, 2}, MW_TYPE_Q8_0, 0}), 1, 256, MW_ERR_FORMAT,
                   "row of 16 elements is not a whole number of Q8_0 blocks");
    EXPECT_TENSORS(T({"t", 2, {128, 2}, MW_TYPE_Q4_K, 0}), 1, 512, MW_ERR_FORMAT, "Q4_K blocks");
    EXPECT_TENSORS(T({"t", 2, {256, 2}, MW_TYPE_Q4_K, 0}), 1, 288, MW_OK, NULL);
    EXPECT_TENSORS(T({"t", 2, {64, 3}, MW_TYPE_Q8_0, 0}), 1, 204, MW_OK, NULL);
    EXPECT_TENSORS(T({"t", 2, {64, 3}, MW_TYPE_Q8_0, 0}), 1, 203, MW_ERR_FORMAT, "past the end");
    printf("tensor infos: names, ranks, overflowing shapes, types and block rows refused\n");
}

static void test_tensor_data(void) {
    const uint32_t F = MW_TYPE_F32;
    /* past the end, including offsets that would wrap around */
    EXPECT_TENSORS(T({"t", 1, {8}, F, 32}), 1, 32, MW_ERR_FORMAT, "runs past the end");
    EXPECT_TENSORS(T({"t", 1, {8}, F, 0}), 1, 31, MW_ERR_FORMAT, "runs past the end");
    EXPECT_TENSORS(T({"t", 1, {8}, F, UINT64_MAX - 31}), 1, 64, MW_ERR_FORMAT, "past the end");
    EXPECT_TENSORS(T({"t", 1, {8}, F, 1ull << 63}), 1, 64, MW_ERR_FORMAT, "past the end");
    EXPECT_TENSORS(T({"t", 1, {0}, F, 64}), 1, 32, MW_ERR_FORMAT, "past the end");
    EXPECT_TENSORS(T({"t", 1, {0}, F, 32}), 1, 32, MW_OK, NULL);
    /* misaligned */
    EXPECT_TENSORS(T({"t", 1, {1}, F, 4}), 1, 64, MW_ERR_FORMAT, "not a multiple of the alignment");
    EXPECT_TENSORS(T({"a", 1, {1}, F, 0}, {"b", 1, {1}, F, 36}), 2, 64, MW_ERR_FORMAT,
                   "'b': data offset 36 is not a multiple of the alignment 32");
    /* overlaps, whatever the order of the infos */
    EXPECT_TENSORS(T({"a", 1, {8}, F, 0}, {"b", 1, {8}, F, 0}), 2, 64, MW_ERR_FORMAT, "overlap");
    EXPECT_TENSORS(T({"a", 1, {16}, F, 0}, {"b", 1, {8}, F, 32}), 2, 64, MW_ERR_FORMAT, "overlap");
    EXPECT_TENSORS(T({"b", 1, {8}, F, 32}, {"a", 1, {9}, F, 0}), 2, 96, MW_ERR_FORMAT, "overlap");
    EXPECT_TENSORS(T({"a", 1, {8}, F, 0}, {"b", 1, {8}, F, 32}, {"c", 1, {40}, F, 64}), 3, 224,
                   MW_OK, NULL);
    EXPECT_TENSORS(T({"c", 1, {8}, F, 64}, {"a", 1, {8}, F, 0}, {"b", 1, {9}, F, 32}), 3, 96,
                   MW_ERR_FORMAT, "'b' and 'c' overlap");
    /* a big tensor spanning a smaller one, and an empty tensor in between */
    EXPECT_TENSORS(T({"big", 1, {64}, F, 0}, {"e", 1, {0}, F, 32}, {"small", 1, {8}, F, 128}), 3,
                   256, MW_ERR_FORMAT, "overlap");
    EXPECT_TENSORS(T({"big", 1, {64}, F, 0}, {"e", 1, {0}, F, 0}, {"small", 1, {8}, F, 64}), 3, 256,
                   MW_ERR_FORMAT, "overlap");
    EXPECT_TENSORS(T({"e", 1, {0}, F, 0}, {"big", 1, {64}, F, 0}, {"small", 1, {8}, F, 64}), 3, 256,
                   MW_ERR_FORMAT, "overlap");
    EXPECT_TENSORS(T({"big", 1, {64}, F, 0}, {"a", 1, {8}, F, 64}, {"b", 1, {8}, F, 192}), 3, 256,
                   MW_ERR_FORMAT, "overlap");
    /* empty tensors may share offsets with anything */
    EXPECT_TENSORS(T({"e1", 1, {0}, F, 0}, {"a", 1, {16}, F, 0}, {"e2", 1, {0}, F, 32}), 3, 64,
                   MW_OK, NULL);
    /* more infos than the file holds; infos but no data section */
    gbuf b = make(T({"a", 1, {8}, F, 0}), 1, 32);
    uint64_t two = 2;
    memcpy(b.p + 8, &two, 8);
    GGUF_EXPECT(&b, MW_ERR_FORMAT, NULL);
    gb_free(&b);
    b = make(T({"a", 1, {8}, F, 0}), 1, 0);
    b.n -= 1; /* the padding to the data section is cut short */
    GGUF_EXPECT(&b, MW_ERR_FORMAT, "no data section");
    gb_free(&b);
    printf("tensor data: offsets past the end, misaligned and overlapping refused\n");
}

/* A valid file from the writer whose last tensor fills its padding, so that
 * every shorter prefix is invalid. */
static unsigned char *valid_file(size_t *size) {
    mw_err err = {{0}};
    mw_gguf_writer *w = NULL;
    const char *path = at("valid.gguf");
    if (mw_gguf_writer_create(path, &w, &err)) abort();
    mw_str strs[3] = {{"one", 3}, {"", 0}, {"thr\0e", 5}};
    int16_t i16s[3] = {-1, 2, -3};
    int64_t ne_a[2] = {64, 2}, ne_b[2] = {4, 2};
    unsigned char data[136];
    memset(data, 0x3c, sizeof data);
    if (mw_gguf_writer_set_str(w, "general.architecture", "llama", &err) ||
        mw_gguf_writer_set_u32(w, "llama.block_count", 2, &err) ||
        mw_gguf_writer_set_f32(w, "llama.rope.freq_base", 10000.0f, &err) ||
        mw_gguf_writer_set_bool(w, "flag", true, &err) ||
        mw_gguf_writer_set_array(w, "strings", MW_GGUF_STRING, 3, strs, &err) ||
        mw_gguf_writer_set_array(w, "shorts", MW_GGUF_INT16, 3, i16s, &err) ||
        mw_gguf_writer_add_tensor(w, "blk.0.q8", MW_TYPE_Q8_0, 2, ne_a, &err) ||
        mw_gguf_writer_add_tensor(w, "last", MW_TYPE_F32, 2, ne_b, &err) ||
        mw_gguf_writer_write_tensor(w, data, 136, &err) ||
        mw_gguf_writer_write_tensor(w, data, 32, &err) || mw_gguf_writer_finish(w, &err)) {
        fprintf(stderr, "cannot write %s: %s\n", path, err.msg);
        exit(1);
    }
    return slurp(path, size);
}

static void test_truncation(void) {
    size_t size;
    unsigned char *file = valid_file(&size);
    mw_err err = {{0}};
    mw_gguf *g = NULL;
    CHECK_OK(mw_gguf_open_memory(file, size, &g, &err), err);
    mw_gguf_close(g);
    size_t rejected = 0, rejected_on_disk = 0;
    for (size_t n = 0; n < size; n++) {
        unsigned char *copy = malloc(n ? n : 1); /* exact size: ASan sees overreads */
        memcpy(copy, file, n);
        g = NULL;
        enum mw_status s = mw_gguf_open_memory(copy, n, &g, &err);
        if (s == MW_ERR_FORMAT && g == NULL && one_line(&err))
            rejected++;
        else
            fprintf(stderr, "truncated to %zu bytes: status %d \"%s\"\n", n, (int)s, err.msg);
        if (s == MW_OK) mw_gguf_close(g);
        free(copy);
        if (n % 7 == 0 || n + 40 > size) {
            put_file(at("cut.gguf"), file, n);
            s = mw_gguf_open(at("cut.gguf"), &g, &err);
            if (s == MW_ERR_FORMAT && strstr(err.msg, "cut.gguf") && one_line(&err))
                rejected_on_disk++;
            else
                fprintf(stderr, "file cut to %zu bytes: status %d \"%s\"\n", n, (int)s, err.msg);
            if (s == MW_OK) mw_gguf_close(g);
        }
    }
    CHECK(rejected == size);
    printf("truncation: %zu offsets, %zu rejected in memory (%zu checked on disk too)\n", size,
           rejected, rejected_on_disk);
    free(file);
}

/* Every byte overwritten with a few values: never a crash, a handle only
 * on success, and a one-line message otherwise. */
static void test_byte_changes(void) {
    size_t size;
    unsigned char *file = valid_file(&size);
    unsigned char *copy = malloc(size);
    static const unsigned char VALUES[] = {0x00, 0x01, 0x7f, 0x80, 0xff};
    size_t accepted = 0, rejected = 0, bad = 0;
    for (size_t i = 0; i < size; i++) {
        for (size_t v = 0; v < sizeof VALUES; v++) {
            if (file[i] == VALUES[v]) continue;
            memcpy(copy, file, size);
            copy[i] = VALUES[v];
            mw_gguf *g = NULL;
            mw_err err = {{0}};
            enum mw_status s = mw_gguf_open_memory(copy, size, &g, &err);
            if (s == MW_OK && g) {
                accepted++;
                for (int64_t k = 0; k < mw_gguf_n_tensors(g); k++) {
                    const mw_tensor *t = mw_gguf_tensor_at(g, k);
                    const unsigned char *p = t->data;
                    if (p < copy || p > copy + size || t->n_bytes > (size_t)(copy + size - p))
                        bad++;
                }
                mw_gguf_close(g);
            } else if (s != MW_OK && !g && one_line(&err)) {
                rejected++;
            } else {
                bad++;
                fprintf(stderr, "byte %zu = %#x: status %d \"%s\"\n", i, VALUES[v], (int)s,
                        err.msg);
            }
        }
    }
    CHECK(bad == 0 && rejected > 0 && accepted > 0);
    printf("byte changes: %zu files, %zu accepted, %zu rejected, %zu wrong\n",
           accepted + rejected + bad, accepted, rejected, bad);
    free(copy);
    free(file);
}

int main(void) {
    make_root();
    test_header();
    test_kv();
    test_alignment();
    test_tensor_infos();
    test_tensor_data();
    test_truncation();
    test_byte_changes();
    rm_rf(g_root);
    if (g_failures) fprintf(stderr, "%d check(s) failed\n", g_failures);
    return g_failures ? 1 : 0;
}
