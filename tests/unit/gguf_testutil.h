/* Helpers shared by the GGUF unit tests: building GGUF bytes by hand, and
 * opening them both in memory and from a file. The generic checks and the
 * scratch folder come from st_testutil.h. */
#ifndef MW_TEST_GGUF_TESTUTIL_H
#define MW_TEST_GGUF_TESTUTIL_H

#include "st_testutil.h"

/* A growing byte buffer (GGUF is little-endian, as are the hosts we run on). */
typedef struct gbuf {
    unsigned char *p;
    size_t n, cap;
} gbuf;

static inline void gb_put(gbuf *b, const void *d, size_t n) {
    if (b->n + n > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->n + n)
            cap *= 2;
        b->p = realloc(b->p, cap);
        if (!b->p) abort();
        b->cap = cap;
    }
    if (n) memcpy(b->p + b->n, d, n);
    b->n += n;
}

static inline void gb_u8(gbuf *b, uint8_t v) {
    gb_put(b, &v, 1);
}
static inline void gb_u32(gbuf *b, uint32_t v) {
    gb_put(b, &v, 4);
}
static inline void gb_u64(gbuf *b, uint64_t v) {
    gb_put(b, &v, 8);
}
static inline void gb_strn(gbuf *b, const char *s, size_t n) {
    gb_u64(b, n);
    gb_put(b, s, n);
}
static inline void gb_str(gbuf *b, const char *s) {
    gb_strn(b, s, strlen(s));
}
static inline void gb_zeros(gbuf *b, size_t n) {
    for (size_t i = 0; i < n; i++)
        gb_u8(b, 0);
}
static inline void gb_pad(gbuf *b, size_t align) {
    while (b->n % align)
        gb_u8(b, 0);
}
static inline void gb_free(gbuf *b) {
    free(b->p);
    memset(b, 0, sizeof *b);
}

static inline void gb_header(gbuf *b, uint32_t version, uint64_t n_tensors, uint64_t n_kv) {
    gb_put(b, "GGUF", 4);
    gb_u32(b, version);
    gb_u64(b, n_tensors);
    gb_u64(b, n_kv);
}

static inline void gb_kv_u32(gbuf *b, const char *key, uint32_t v) {
    gb_str(b, key);
    gb_u32(b, MW_GGUF_UINT32);
    gb_u32(b, v);
}

static inline void gb_kv_str(gbuf *b, const char *key, const char *v) {
    gb_str(b, key);
    gb_u32(b, MW_GGUF_STRING);
    gb_str(b, v);
}

static inline void gb_tensor(gbuf *b, const char *name, uint32_t n_dims, const uint64_t *ne,
                             uint32_t type, uint64_t offset) {
    gb_str(b, name);
    gb_u32(b, n_dims);
    for (uint32_t d = 0; d < n_dims; d++)
        gb_u64(b, ne[d]);
    gb_u32(b, type);
    gb_u64(b, offset);
}

/* Reads a whole file; caller frees. */
static inline unsigned char *slurp(const char *path, size_t *size) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        perror(path);
        exit(1);
    }
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *b = malloc(n > 0 ? (size_t)n : 1);
    if (!b || fread(b, 1, (size_t)n, f) != (size_t)n) {
        perror(path);
        exit(1);
    }
    fclose(f);
    *size = (size_t)n;
    return b;
}

/* A failure message is one non-empty line. */
static inline bool one_line(const mw_err *err) {
    return err->msg[0] && !strchr(err->msg, '\n') && !strchr(err->msg, '\r');
}

/* Opens bytes in memory (from an exact-size copy, so that ASan sees any read
 * past the end) and from a file; both must give `want` and a one-line message
 * holding `part` (on disk also the file's name). */
static inline void gguf_expect(const char *file, int line, const void *data, size_t size,
                               enum mw_status want, const char *part) {
    mw_err err = {{0}};
    mw_gguf *g = (mw_gguf *)1;
    void *copy = malloc(size ? size : 1);
    if (size) memcpy(copy, data, size);
    enum mw_status s = mw_gguf_open_memory(copy, size, &g, &err);
    check_err(file, line, s, want, &err, part);
    if (want != MW_OK && (g != NULL || !one_line(&err))) {
        fprintf(stderr, "%s:%d: failed open left a handle or a bad message\n", file, line);
        g_failures++;
    }
    if (s == MW_OK) mw_gguf_close(g);
    free(copy);
    put_file(at("crafted.gguf"), data, size);
    g = NULL;
    s = mw_gguf_open(at("crafted.gguf"), &g, &err);
    check_err(file, line, s, want, &err, part);
    if (want != MW_OK) check_err(file, line, s, want, &err, "crafted.gguf");
    mw_gguf_close(g);
}

#define GGUF_EXPECT(b, want, part) gguf_expect(__FILE__, __LINE__, (b)->p, (b)->n, want, part)

#endif
