/* GGUF reader: parses and validates the header of a (mapped) GGUF file.
 * Every count, size and offset is checked against the bytes left before it
 * is used, so a hostile file costs at most a few times its own size. */
#include "core/err.h"
#include "core/mapfile.h"
#include "core/strmap.h"
#include "core/utf8.h"

#include <stdlib.h>
#include <string.h>

#define GGUF_MAGIC             0x46554747u /* "GGUF" little-endian */
#define GGUF_DEFAULT_ALIGNMENT 32
#define GGUF_MAX_NAME          64 /* llama.cpp's GGML_MAX_NAME, NUL included */

struct mw_gguf {
    mw_mapfile map;      /* owned mapping, empty for _open_memory */
    const uint8_t *base; /* file bytes */
    uint64_t size;
    uint32_t version;
    uint64_t alignment;
    uint64_t data_offset; /* start of the data section */
    int64_t n_kv;
    mw_gguf_kv *kv; /* [n_kv] */
    int64_t n_tensors;
    mw_tensor *tensors; /* [n_tensors] */
    uint64_t *offsets;  /* [n_tensors] relative to data_offset */
    mw_strmap kv_index;
    mw_strmap tensor_index;
    /* every allocation made while parsing, freed together */
    void **allocs;
    size_t n_allocs, cap_allocs;
};

struct cursor {
    const uint8_t *p;
    uint64_t left;
    uint64_t pos;
    mw_err *err;
};

static void *track(mw_gguf *g, void *p) {
    if (!p) return NULL;
    if (g->n_allocs == g->cap_allocs) {
        size_t cap = g->cap_allocs ? 2 * g->cap_allocs : 64;
        void **a = realloc(g->allocs, cap * sizeof *a);
        if (!a) {
            free(p);
            return NULL;
        }
        g->allocs = a;
        g->cap_allocs = cap;
    }
    g->allocs[g->n_allocs++] = p;
    return p;
}

static enum mw_status truncated(struct cursor *c, const char *what) {
    return mw_fail(c->err, MW_ERR_FORMAT,
                   "truncated GGUF file: %s at offset %llu runs past the end", what,
                   (unsigned long long)c->pos);
}

static enum mw_status read_bytes(struct cursor *c, void *dst, uint64_t n, const char *what) {
    if (n > c->left) return truncated(c, what);
    memcpy(dst, c->p, n);
    c->p += n;
    c->left -= n;
    c->pos += n;
    return MW_OK;
}

static enum mw_status read_u32(struct cursor *c, uint32_t *v, const char *what) {
    return read_bytes(c, v, 4, what);
}

static enum mw_status read_u64(struct cursor *c, uint64_t *v, const char *what) {
    return read_bytes(c, v, 8, what);
}

/* A string: u64 length then bytes. Copied NUL-terminated. */
static enum mw_status read_str(mw_gguf *g, struct cursor *c, mw_str *out, const char *what) {
    uint64_t len = 0;
    enum mw_status s = read_u64(c, &len, what);
    if (s) return s;
    if (len > c->left)
        return mw_fail(c->err, MW_ERR_FORMAT,
                       "GGUF %s at offset %llu claims %llu bytes, past the end of the file", what,
                       (unsigned long long)c->pos, (unsigned long long)len);
    char *buf = track(g, malloc(len + 1));
    if (!buf) return mw_fail(c->err, MW_ERR_NOMEM, "out of memory reading a GGUF %s", what);
    memcpy(buf, c->p, len);
    buf[len] = 0;
    c->p += len;
    c->left -= len;
    c->pos += len;
    out->s = buf;
    out->len = len;
    return MW_OK;
}

/* Keys and tensor names: non-empty UTF-8 without NUL. */
static enum mw_status read_name(mw_gguf *g, struct cursor *c, const char **out, const char *what) {
    mw_str str = {0};
    uint64_t at = c->pos;
    enum mw_status s = read_str(g, c, &str, what);
    if (s) return s;
    if (str.len == 0)
        return mw_fail(c->err, MW_ERR_FORMAT, "GGUF %s at offset %llu is empty", what,
                       (unsigned long long)at);
    if (memchr(str.s, 0, str.len) || !mw_utf8_valid(str.s, str.len))
        return mw_fail(c->err, MW_ERR_FORMAT, "GGUF %s at offset %llu is not valid UTF-8 text",
                       what, (unsigned long long)at);
    *out = str.s;
    return MW_OK;
}

static enum mw_status read_value(mw_gguf *g, struct cursor *c, mw_gguf_kv *kv) {
    enum mw_gguf_vtype t = kv->elem_type;
    if (t == MW_GGUF_STRING) {
        /* every string takes at least its 8-byte length */
        if (kv->n > c->left / 8)
            return mw_fail(c->err, MW_ERR_FORMAT,
                           "GGUF key '%s': array of %llu strings cannot fit in the file", kv->key,
                           (unsigned long long)kv->n);
        mw_str *strs = track(g, calloc(kv->n ? kv->n : 1, sizeof *strs));
        if (!strs) return mw_fail(c->err, MW_ERR_NOMEM, "out of memory reading key '%s'", kv->key);
        for (uint64_t i = 0; i < kv->n; i++) {
            enum mw_status s = read_str(g, c, &strs[i], "string value");
            if (s) return s;
        }
        kv->data = strs;
        return MW_OK;
    }
    size_t es = mw_gguf_vtype_size(t);
    if (kv->n > c->left / es)
        return mw_fail(c->err, MW_ERR_FORMAT,
                       "GGUF key '%s': array of %llu values cannot fit in the file", kv->key,
                       (unsigned long long)kv->n);
    void *buf = track(g, malloc(kv->n ? kv->n * es : 1));
    if (!buf) return mw_fail(c->err, MW_ERR_NOMEM, "out of memory reading key '%s'", kv->key);
    enum mw_status s = read_bytes(c, buf, kv->n * es, "value");
    if (s) return s;
    if (t == MW_GGUF_BOOL) {
        const uint8_t *b = buf;
        for (uint64_t i = 0; i < kv->n; i++)
            if (b[i] > 1)
                return mw_fail(c->err, MW_ERR_FORMAT, "GGUF key '%s': bool value %u is not 0 or 1",
                               kv->key, b[i]);
    }
    kv->data = buf;
    return MW_OK;
}

static enum mw_status read_kv(mw_gguf *g, struct cursor *c, mw_gguf_kv *kv) {
    enum mw_status s = read_name(g, c, &kv->key, "key");
    if (s) return s;
    uint32_t type = 0;
    if ((s = read_u32(c, &type, "value type"))) return s;
    if (type >= MW_GGUF_VTYPE_COUNT)
        return mw_fail(c->err, MW_ERR_FORMAT, "GGUF key '%s' has unknown value type %u", kv->key,
                       type);
    kv->type = type;
    kv->elem_type = type;
    kv->n = 1;
    if (type == MW_GGUF_ARRAY) {
        uint32_t et = 0;
        if ((s = read_u32(c, &et, "array type"))) return s;
        if (et == MW_GGUF_ARRAY)
            return mw_fail(c->err, MW_ERR_UNSUPPORTED, "GGUF key '%s' holds nested arrays",
                           kv->key);
        if (et >= MW_GGUF_VTYPE_COUNT)
            return mw_fail(c->err, MW_ERR_FORMAT, "GGUF key '%s' has unknown array type %u",
                           kv->key, et);
        kv->elem_type = et;
        if ((s = read_u64(c, &kv->n, "array length"))) return s;
    }
    return read_value(g, c, kv);
}

static enum mw_status read_kvs(mw_gguf *g, struct cursor *c, uint64_t n_kv) {
    /* a key-value pair takes at least 8 (key length) + 1 + 4 (type) + 1 bytes */
    if (n_kv > c->left / 14)
        return mw_fail(c->err, MW_ERR_FORMAT, "GGUF header claims %llu keys, more than fit",
                       (unsigned long long)n_kv);
    g->kv = track(g, calloc(n_kv ? n_kv : 1, sizeof *g->kv));
    if (!g->kv || !mw_strmap_init(&g->kv_index, n_kv))
        return mw_fail(c->err, MW_ERR_NOMEM, "out of memory reading GGUF keys");
    for (uint64_t i = 0; i < n_kv; i++) {
        enum mw_status s = read_kv(g, c, &g->kv[i]);
        if (s) return s;
        if (!mw_strmap_put(&g->kv_index, g->kv[i].key, (int64_t)i))
            return mw_fail(c->err, MW_ERR_FORMAT, "GGUF key '%s' appears twice", g->kv[i].key);
        g->n_kv++;
    }
    return MW_OK;
}

static enum mw_status read_alignment(mw_gguf *g, mw_err *err) {
    g->alignment = GGUF_DEFAULT_ALIGNMENT;
    const mw_gguf_kv *kv = mw_gguf_find_kv(g, "general.alignment");
    if (!kv) return MW_OK;
    if (kv->type != MW_GGUF_UINT32)
        return mw_fail(err, MW_ERR_FORMAT, "GGUF general.alignment must be a uint32, not %s",
                       mw_gguf_vtype_name(kv->type));
    uint32_t a = *(const uint32_t *)kv->data;
    if (a == 0 || (a & (a - 1)) != 0)
        return mw_fail(err, MW_ERR_FORMAT, "GGUF general.alignment %u is not a power of two", a);
    g->alignment = a;
    return MW_OK;
}

static enum mw_status read_tensor_info(mw_gguf *g, struct cursor *c, int64_t i) {
    mw_tensor *t = &g->tensors[i];
    enum mw_status s = read_name(g, c, &t->name, "tensor name");
    if (s) return s;
    if (strlen(t->name) >= GGUF_MAX_NAME)
        return mw_fail(c->err, MW_ERR_FORMAT, "GGUF tensor name '%.40s...' is %zu bytes (max %d)",
                       t->name, strlen(t->name), GGUF_MAX_NAME - 1);
    if ((s = read_u32(c, &t->n_dims, "tensor dimension count"))) return s;
    if (t->n_dims == 0 || t->n_dims > MW_MAX_DIMS)
        return mw_fail(c->err, MW_ERR_FORMAT, "GGUF tensor '%s' has %u dimensions (1 to %d)",
                       t->name, t->n_dims, MW_MAX_DIMS);
    uint64_t n = 1;
    for (uint32_t d = 0; d < MW_MAX_DIMS; d++) {
        uint64_t ne = 1;
        if (d < t->n_dims && (s = read_u64(c, &ne, "tensor dimension"))) return s;
        if (ne > (uint64_t)INT64_MAX || (ne && n > (uint64_t)INT64_MAX / ne))
            return mw_fail(c->err, MW_ERR_FORMAT,
                           "GGUF tensor '%s': dimensions overflow a 64-bit element count", t->name);
        t->ne[d] = (int64_t)ne;
        n *= ne;
    }
    t->n_elems = n;
    uint32_t type = 0;
    if ((s = read_u32(c, &type, "tensor type"))) return s;
    if (!mw_type_name(type))
        return mw_fail(c->err, MW_ERR_FORMAT, "GGUF tensor '%s' has unknown type id %u", t->name,
                       type);
    t->type = type;
    if (t->ne[0] % mw_type_block_elems(type) != 0)
        return mw_fail(c->err, MW_ERR_FORMAT,
                       "GGUF tensor '%s': row of %lld elements is not a whole number of %s blocks",
                       t->name, (long long)t->ne[0], mw_type_name(type));
    if (!mw_type_row_bytes(type, n, &t->n_bytes))
        return mw_fail(c->err, MW_ERR_FORMAT, "GGUF tensor '%s': byte size overflows", t->name);
    if ((s = read_u64(c, &g->offsets[i], "tensor offset"))) return s;
    if (!mw_strmap_put(&g->tensor_index, t->name, i))
        return mw_fail(c->err, MW_ERR_FORMAT, "GGUF tensor '%s' appears twice", t->name);
    return MW_OK;
}

struct span {
    uint64_t begin;
    int64_t index;
};

static int cmp_span(const void *a, const void *b) {
    uint64_t x = ((const struct span *)a)->begin, y = ((const struct span *)b)->begin;
    return x < y ? -1 : x > y;
}

/* Checks that tensor data is aligned, inside the file, and not overlapping. */
static enum mw_status place_tensors(mw_gguf *g, mw_err *err) {
    uint64_t data_size = g->size - g->data_offset;
    for (int64_t i = 0; i < g->n_tensors; i++) {
        mw_tensor *t = &g->tensors[i];
        uint64_t off = g->offsets[i];
        if (off % g->alignment != 0)
            return mw_fail(err, MW_ERR_FORMAT,
                           "GGUF tensor '%s': data offset %llu is not a multiple of the alignment "
                           "%llu",
                           t->name, (unsigned long long)off, (unsigned long long)g->alignment);
        if (off > data_size || t->n_bytes > data_size - off)
            return mw_fail(err, MW_ERR_FORMAT,
                           "GGUF tensor '%s': data [%llu, +%llu) runs past the end of the file "
                           "(data section is %llu bytes)",
                           t->name, (unsigned long long)off, (unsigned long long)t->n_bytes,
                           (unsigned long long)data_size);
        t->data = g->base + g->data_offset + off;
    }
    if (g->n_tensors < 2) return MW_OK;
    struct span *order = malloc((size_t)g->n_tensors * sizeof *order);
    if (!order) return mw_fail(err, MW_ERR_NOMEM, "out of memory checking GGUF tensor offsets");
    for (int64_t i = 0; i < g->n_tensors; i++)
        order[i] = (struct span){g->offsets[i], i};
    qsort(order, (size_t)g->n_tensors, sizeof *order, cmp_span);
    /* by start offset, each tensor must begin at or after the furthest end
     * reached so far; empty tensors may sit anywhere */
    enum mw_status s = MW_OK;
    const mw_tensor *furthest = NULL;
    uint64_t end = 0;
    for (int64_t k = 0; k < g->n_tensors && !s; k++) {
        const mw_tensor *t = &g->tensors[order[k].index];
        if (t->n_bytes == 0) continue;
        if (furthest && order[k].begin < end)
            s = mw_fail(err, MW_ERR_FORMAT, "GGUF tensors '%s' and '%s' overlap", furthest->name,
                        t->name);
        if (!furthest || order[k].begin + t->n_bytes > end) {
            furthest = t;
            end = order[k].begin + t->n_bytes;
        }
    }
    free(order);
    return s;
}

static enum mw_status read_tensor_infos(mw_gguf *g, struct cursor *c, uint64_t n) {
    /* an info takes at least 8 + 1 (name) + 4 + 8 (one dim) + 4 + 8 bytes */
    if (n > c->left / 33)
        return mw_fail(c->err, MW_ERR_FORMAT, "GGUF header claims %llu tensors, more than fit",
                       (unsigned long long)n);
    g->tensors = track(g, calloc(n ? n : 1, sizeof *g->tensors));
    g->offsets = track(g, calloc(n ? n : 1, sizeof *g->offsets));
    if (!g->tensors || !g->offsets || !mw_strmap_init(&g->tensor_index, n))
        return mw_fail(c->err, MW_ERR_NOMEM, "out of memory reading GGUF tensor infos");
    for (uint64_t i = 0; i < n; i++) {
        enum mw_status s = read_tensor_info(g, c, (int64_t)i);
        if (s) return s;
        g->n_tensors++;
    }
    return MW_OK;
}

static enum mw_status parse(mw_gguf *g, mw_err *err) {
    struct cursor c = {g->base, g->size, 0, err};
    uint32_t magic = 0;
    uint64_t n_tensors = 0, n_kv = 0;
    enum mw_status s;
    if (g->size < 4)
        return mw_fail(err, MW_ERR_FORMAT, "not a GGUF file: %llu bytes",
                       (unsigned long long)g->size);
    if ((s = read_u32(&c, &magic, "magic"))) return s;
    if (magic != GGUF_MAGIC) return mw_fail(err, MW_ERR_FORMAT, "not a GGUF file (bad magic)");
    if ((s = read_u32(&c, &g->version, "version"))) return s;
    if (g->version != 2 && g->version != 3)
        return mw_fail(err, MW_ERR_UNSUPPORTED, "GGUF version %u is not supported (2 and 3 are)",
                       g->version);
    if ((s = read_u64(&c, &n_tensors, "tensor count"))) return s;
    if ((s = read_u64(&c, &n_kv, "key count"))) return s;
    if ((s = read_kvs(g, &c, n_kv))) return s;
    if ((s = read_alignment(g, err))) return s;
    if ((s = read_tensor_infos(g, &c, n_tensors))) return s;
    uint64_t end = c.pos, pad = (g->alignment - end % g->alignment) % g->alignment;
    g->data_offset = end + pad;
    if (g->n_tensors > 0 && g->data_offset > g->size)
        return mw_fail(err, MW_ERR_FORMAT, "truncated GGUF file: no data section");
    if (g->data_offset > g->size) g->data_offset = g->size;
    return place_tensors(g, err);
}

static enum mw_status open_bytes(mw_gguf *g, mw_gguf **out, mw_err *err) {
    enum mw_status s = parse(g, err);
    if (s) {
        mw_gguf_close(g);
        return s;
    }
    *out = g;
    return MW_OK;
}

enum mw_status mw_gguf_open_memory(const void *data, size_t size, mw_gguf **out, mw_err *err) {
    *out = NULL;
    mw_gguf *g = calloc(1, sizeof *g);
    if (!g) return mw_fail(err, MW_ERR_NOMEM, "out of memory");
    g->base = data;
    g->size = size;
    return open_bytes(g, out, err);
}

enum mw_status mw_gguf_open(const char *path, mw_gguf **out, mw_err *err) {
    *out = NULL;
    mw_gguf *g = calloc(1, sizeof *g);
    if (!g) return mw_fail(err, MW_ERR_NOMEM, "out of memory");
    enum mw_status s = mw_mapfile_open(path, &g->map, err);
    if (s) {
        free(g);
        return s;
    }
    g->base = g->map.data;
    g->size = g->map.size;
    s = open_bytes(g, out, err);
    if (s) mw_fail_context(err, s, "%s", path);
    return s;
}

void mw_gguf_close(mw_gguf *g) {
    if (!g) return;
    for (size_t i = 0; i < g->n_allocs; i++)
        free(g->allocs[i]);
    free(g->allocs);
    mw_strmap_free(&g->kv_index);
    mw_strmap_free(&g->tensor_index);
    mw_mapfile_close(&g->map);
    free(g);
}

uint32_t mw_gguf_version(const mw_gguf *g) {
    return g->version;
}
uint64_t mw_gguf_alignment(const mw_gguf *g) {
    return g->alignment;
}
uint64_t mw_gguf_data_offset(const mw_gguf *g) {
    return g->data_offset;
}
uint64_t mw_gguf_file_size(const mw_gguf *g) {
    return g->size;
}
int64_t mw_gguf_n_kv(const mw_gguf *g) {
    return g->n_kv;
}
int64_t mw_gguf_n_tensors(const mw_gguf *g) {
    return g->n_tensors;
}

const mw_gguf_kv *mw_gguf_kv_at(const mw_gguf *g, int64_t i) {
    return i >= 0 && i < g->n_kv ? &g->kv[i] : NULL;
}

const mw_gguf_kv *mw_gguf_find_kv(const mw_gguf *g, const char *key) {
    int64_t i = mw_strmap_get(&g->kv_index, key);
    return i >= 0 ? &g->kv[i] : NULL;
}

const mw_tensor *mw_gguf_tensor_at(const mw_gguf *g, int64_t i) {
    return i >= 0 && i < g->n_tensors ? &g->tensors[i] : NULL;
}

const mw_tensor *mw_gguf_find_tensor(const mw_gguf *g, const char *name) {
    int64_t i = mw_strmap_get(&g->tensor_index, name);
    return i >= 0 ? &g->tensors[i] : NULL;
}

uint64_t mw_gguf_tensor_offset(const mw_gguf *g, int64_t i) {
    return i >= 0 && i < g->n_tensors ? g->offsets[i] : 0;
}
