/* Reading safetensors files and sharded Hugging Face folders.
 *
 * Layout of one file: an 8-byte little-endian header length N, N bytes of
 * UTF-8 JSON mapping tensor names to {dtype, shape, data_offsets} (plus an
 * optional "__metadata__" object of strings), then the data buffer. Every byte
 * is untrusted: the rules checked here are those of the reference
 * implementation, including that the tensors tile the data buffer exactly
 * (no holes, no overlaps, no trailing bytes). */
#include "core/err.h"
#include "core/mapfile.h"
#include "core/strmap.h"
#include "core/utf8.h"

#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define ST_MAX_HEADER 100000000ull /* the reference refuses larger headers */
#define ST_MAX_INDEX  100000000ull /* an index.json past this is not one */
#define ST_SINGLE     "model.safetensors"
#define ST_INDEX      "model.safetensors.index.json"

/* dtype strings of the format with their width in bits and the mw_type they
 * map to; MW_TYPE_COUNT marks a known dtype that has no mw_type. */
struct st_dtype {
    const char *name;
    uint32_t bits;
    enum mw_type type;
};

static const struct st_dtype DTYPES[] = {
    {"F32", 32, MW_TYPE_F32},      {"F16", 16, MW_TYPE_F16},      {"BF16", 16, MW_TYPE_BF16},
    {"F64", 64, MW_TYPE_F64},      {"I8", 8, MW_TYPE_I8},         {"I16", 16, MW_TYPE_I16},
    {"I32", 32, MW_TYPE_I32},      {"I64", 64, MW_TYPE_I64},      {"BOOL", 8, MW_TYPE_COUNT},
    {"U8", 8, MW_TYPE_COUNT},      {"U16", 16, MW_TYPE_COUNT},    {"U32", 32, MW_TYPE_COUNT},
    {"U64", 64, MW_TYPE_COUNT},    {"F8_E4M3", 8, MW_TYPE_COUNT}, {"F8_E5M2", 8, MW_TYPE_COUNT},
    {"F8_E8M0", 8, MW_TYPE_COUNT}, {"F6_E2M3", 6, MW_TYPE_COUNT}, {"F6_E3M2", 6, MW_TYPE_COUNT},
    {"F4", 4, MW_TYPE_COUNT},      {"C64", 64, MW_TYPE_COUNT},
};

/* A tensor with where its bytes lie: begin/end relative to its file's data
 * buffer, and the index of the file in mw_st.files. */
struct st_item {
    mw_tensor t;
    uint64_t begin, end;
    int64_t file;
};

struct st_file {
    char *path; /* NULL for bytes in memory */
    mw_mapfile map;
};

struct mw_st {
    struct st_file *files;
    int64_t n_files;
    struct st_item *items;
    int64_t n_items;
    mw_strmap names;
    json_t *metadata; /* __metadata__ of the first file, or NULL */
};

static const char *file_label(const mw_st *st, int64_t fi) {
    return st->files[fi].path ? st->files[fi].path : "<memory>";
}

static const struct st_dtype *find_dtype(const char *name) {
    for (size_t i = 0; i < sizeof DTYPES / sizeof DTYPES[0]; i++)
        if (strcmp(DTYPES[i].name, name) == 0) return &DTYPES[i];
    return NULL;
}

static bool get_uint(const json_t *v, uint64_t *out) {
    if (!json_is_integer(v) || json_integer_value(v) < 0) return false;
    *out = (uint64_t)json_integer_value(v);
    return true;
}

/* Fills it->t's type, dims and sizes from "dtype" and "shape". */
static enum mw_status parse_shape(const char *lbl, const char *name, const json_t *entry,
                                  struct st_item *it, mw_err *err) {
    const json_t *dt = json_object_get(entry, "dtype");
    const json_t *shape = json_object_get(entry, "shape");
    if (!json_is_string(dt))
        return mw_fail(err, MW_ERR_FORMAT, "%s: tensor \"%s\": dtype missing or not a string", lbl,
                       name);
    const struct st_dtype *d = find_dtype(json_string_value(dt));
    if (!d)
        return mw_fail(err, MW_ERR_FORMAT, "%s: tensor \"%s\": unknown dtype \"%s\"", lbl, name,
                       json_string_value(dt));
    if (!json_is_array(shape))
        return mw_fail(err, MW_ERR_FORMAT, "%s: tensor \"%s\": shape missing or not an array", lbl,
                       name);
    size_t nd = json_array_size(shape);
    if (nd > MW_MAX_DIMS)
        return mw_fail(err, MW_ERR_UNSUPPORTED,
                       "%s: tensor \"%s\" has %zu dimensions, at most %d are supported", lbl, name,
                       nd, MW_MAX_DIMS);
    it->t.type = d->type;
    it->t.n_dims = (uint32_t)nd;
    uint64_t n = 1;
    for (size_t k = 0; k < MW_MAX_DIMS; k++)
        it->t.ne[k] = 1;
    for (size_t k = 0; k < nd; k++) {
        uint64_t dim;
        if (!get_uint(json_array_get(shape, k), &dim))
            return mw_fail(err, MW_ERR_FORMAT,
                           "%s: tensor \"%s\": shape entry %zu is not a non-negative integer", lbl,
                           name, k);
        /* GGUF order: the last (fastest) safetensors dimension comes first */
        it->t.ne[nd - 1 - k] = (int64_t)dim;
        if (__builtin_mul_overflow(n, dim, &n))
            return mw_fail(err, MW_ERR_FORMAT, "%s: tensor \"%s\": element count overflows", lbl,
                           name);
    }
    uint64_t bits;
    if (__builtin_mul_overflow(n, (uint64_t)d->bits, &bits))
        return mw_fail(err, MW_ERR_FORMAT, "%s: tensor \"%s\": byte size overflows", lbl, name);
    if (bits % 8 != 0)
        return mw_fail(err, MW_ERR_FORMAT,
                       "%s: tensor \"%s\": %s elements do not fill a whole number of bytes", lbl,
                       name, d->name);
    it->t.n_elems = n;
    it->t.n_bytes = bits / 8;
    return MW_OK;
}

/* One header entry: an object with dtype, shape and data_offsets that fit
 * within a data buffer of dsize bytes. Unknown extra fields are ignored, as
 * the reference does. */
static enum mw_status parse_entry(const char *lbl, const char *name, const json_t *entry,
                                  uint64_t dsize, struct st_item *it, mw_err *err) {
    if (!json_is_object(entry))
        return mw_fail(err, MW_ERR_FORMAT, "%s: tensor \"%s\": entry is not an object", lbl, name);
    enum mw_status s = parse_shape(lbl, name, entry, it, err);
    if (s != MW_OK) return s;
    const json_t *off = json_object_get(entry, "data_offsets");
    if (!json_is_array(off) || json_array_size(off) != 2 ||
        !get_uint(json_array_get(off, 0), &it->begin) ||
        !get_uint(json_array_get(off, 1), &it->end))
        return mw_fail(err, MW_ERR_FORMAT,
                       "%s: tensor \"%s\": data_offsets is not two non-negative integers", lbl,
                       name);
    if (it->end < it->begin)
        return mw_fail(err, MW_ERR_FORMAT,
                       "%s: tensor \"%s\": data_offsets end %llu is before begin %llu", lbl, name,
                       (unsigned long long)it->end, (unsigned long long)it->begin);
    if (it->end > dsize)
        return mw_fail(err, MW_ERR_FORMAT,
                       "%s: tensor \"%s\": data_offsets end %llu is past the data (%llu bytes)",
                       lbl, name, (unsigned long long)it->end, (unsigned long long)dsize);
    if (it->end - it->begin != it->t.n_bytes)
        return mw_fail(err, MW_ERR_FORMAT,
                       "%s: tensor \"%s\": data_offsets span %llu bytes, its dtype and shape "
                       "need %llu",
                       lbl, name, (unsigned long long)(it->end - it->begin),
                       (unsigned long long)it->t.n_bytes);
    return MW_OK;
}

static enum mw_status check_metadata(const char *lbl, const json_t *meta, mw_err *err) {
    if (json_is_null(meta)) return MW_OK;
    if (!json_is_object(meta))
        return mw_fail(err, MW_ERR_FORMAT, "%s: __metadata__ is not an object", lbl);
    const char *key;
    const json_t *v;
    json_object_foreach((json_t *)meta, key, v) {
        if (!json_is_string(v))
            return mw_fail(err, MW_ERR_FORMAT, "%s: __metadata__ entry \"%s\" is not a string", lbl,
                           key);
    }
    return MW_OK;
}

static int cmp_items(const void *a, const void *b) {
    const struct st_item *x = a, *y = b;
    if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
    if (x->end != y->end) return x->end < y->end ? -1 : 1;
    return strcmp(x->t.name, y->t.name);
}

/* Sorts items[0..n) by offset and checks they tile [0, dsize) exactly. */
static enum mw_status check_tiling(const char *lbl, struct st_item *items, int64_t n,
                                   uint64_t dsize, mw_err *err) {
    qsort(items, (size_t)n, sizeof *items, cmp_items);
    uint64_t pos = 0;
    for (int64_t i = 0; i < n; i++) {
        if (items[i].begin < pos)
            return mw_fail(err, MW_ERR_FORMAT, "%s: tensor \"%s\" overlaps tensor \"%s\"", lbl,
                           items[i].t.name, items[i - 1].t.name);
        if (items[i].begin > pos)
            return mw_fail(err, MW_ERR_FORMAT, "%s: %llu unused bytes of data before tensor \"%s\"",
                           lbl, (unsigned long long)(items[i].begin - pos), items[i].t.name);
        pos = items[i].end;
    }
    if (pos != dsize)
        return mw_fail(err, MW_ERR_FORMAT,
                       "%s: tensors cover %llu bytes of data but the data has %llu", lbl,
                       (unsigned long long)pos, (unsigned long long)dsize);
    return MW_OK;
}

/* Checks the length prefix and parses the header of file fi. */
static enum mw_status load_header(const mw_st *st, int64_t fi, json_t **out, uint64_t *hlen,
                                  mw_err *err) {
    const char *lbl = file_label(st, fi);
    const unsigned char *p = st->files[fi].map.data;
    size_t size = st->files[fi].map.size;
    if (size < 8)
        return mw_fail(err, MW_ERR_FORMAT, "%s: %zu bytes, too short for a safetensors file", lbl,
                       size);
    uint64_t n = 0;
    for (int k = 7; k >= 0; k--)
        n = (n << 8) | p[k];
    if (n > ST_MAX_HEADER)
        return mw_fail(err, MW_ERR_FORMAT, "%s: header length %llu is larger than %llu", lbl,
                       (unsigned long long)n, ST_MAX_HEADER);
    if (n > size - 8)
        return mw_fail(err, MW_ERR_FORMAT, "%s: header length %llu is past the end of the file",
                       lbl, (unsigned long long)n);
    const char *h = (const char *)p + 8;
    if (!mw_utf8_valid(h, (size_t)n))
        return mw_fail(err, MW_ERR_FORMAT, "%s: header is not valid UTF-8", lbl);
    json_error_t jerr;
    json_t *root = json_loadb(h, (size_t)n, JSON_REJECT_DUPLICATES, &jerr);
    if (!root)
        return mw_fail(err, MW_ERR_FORMAT, "%s: header is not valid JSON: %s (column %d)", lbl,
                       jerr.text, jerr.column);
    if (!json_is_object(root)) {
        json_decref(root);
        return mw_fail(err, MW_ERR_FORMAT, "%s: header is not a JSON object", lbl);
    }
    *out = root;
    *hlen = n;
    return MW_OK;
}

/* Parses file fi (already mapped) and appends its tensors to st->items in
 * data offset order. keep_meta: remember its __metadata__. */
static enum mw_status parse_file(mw_st *st, int64_t fi, bool keep_meta, mw_err *err) {
    const char *lbl = file_label(st, fi);
    json_t *root = NULL;
    uint64_t hlen = 0;
    enum mw_status s = load_header(st, fi, &root, &hlen, err);
    if (s != MW_OK) return s;
    const unsigned char *data = (const unsigned char *)st->files[fi].map.data + 8 + hlen;
    uint64_t dsize = st->files[fi].map.size - 8 - hlen;
    /* the entry count is bounded by the header's size, already parsed */
    size_t n_new = json_object_size(root);
    int64_t first = st->n_items;
    struct st_item *grown = realloc(st->items, ((size_t)first + n_new + 1) * sizeof *grown);
    if (!grown) {
        s = mw_fail(err, MW_ERR_NOMEM, "%s: out of memory for %zu tensors", lbl, n_new);
        goto fail;
    }
    st->items = grown;
    const char *key;
    json_t *v;
    json_object_foreach(root, key, v) {
        if (strcmp(key, "__metadata__") == 0) {
            if ((s = check_metadata(lbl, v, err)) != MW_OK) goto fail;
            if (keep_meta && json_is_object(v)) st->metadata = json_incref(v);
            continue;
        }
        struct st_item *it = &st->items[st->n_items];
        memset(it, 0, sizeof *it);
        it->file = fi;
        if ((s = parse_entry(lbl, key, v, dsize, it, err)) != MW_OK) goto fail;
        if (!(it->t.name = strdup(key))) {
            s = mw_fail(err, MW_ERR_NOMEM, "%s: out of memory", lbl);
            goto fail;
        }
        it->t.data = data + it->begin;
        st->n_items++;
    }
    s = check_tiling(lbl, st->items + first, st->n_items - first, dsize, err);
fail:
    json_decref(root);
    return s;
}

/* Indexes every tensor by name; a name seen twice can only come from two
 * shards, since each header rejects duplicate keys. */
static enum mw_status index_names(mw_st *st, mw_err *err) {
    if (!mw_strmap_init(&st->names, (uint64_t)st->n_items))
        return mw_fail(err, MW_ERR_NOMEM, "out of memory indexing %lld tensors",
                       (long long)st->n_items);
    for (int64_t i = 0; i < st->n_items; i++) {
        if (mw_strmap_put(&st->names, st->items[i].t.name, i)) continue;
        int64_t prev = mw_strmap_get(&st->names, st->items[i].t.name);
        if (prev < 0) return mw_fail(err, MW_ERR_NOMEM, "tensor name index full");
        return mw_fail(err, MW_ERR_FORMAT, "tensor \"%s\" is in both %s and %s",
                       st->items[i].t.name, file_label(st, st->items[prev].file),
                       file_label(st, st->items[i].file));
    }
    return MW_OK;
}

static mw_st *st_new(int64_t n_files) {
    mw_st *st = calloc(1, sizeof *st);
    if (!st) return NULL;
    st->files = calloc((size_t)n_files, sizeof *st->files);
    if (!st->files) {
        free(st);
        return NULL;
    }
    st->n_files = n_files;
    return st;
}

void mw_st_close(mw_st *st) {
    if (!st) return;
    for (int64_t i = 0; i < st->n_items; i++)
        free((char *)st->items[i].t.name);
    free(st->items);
    for (int64_t i = 0; i < st->n_files; i++) {
        if (st->files[i].path) mw_mapfile_close(&st->files[i].map);
        free(st->files[i].path);
    }
    free(st->files);
    mw_strmap_free(&st->names);
    json_decref(st->metadata);
    free(st);
}

enum mw_status mw_st_open_memory(const void *data, size_t size, mw_st **out, mw_err *err) {
    *out = NULL;
    mw_st *st = st_new(1);
    if (!st) return mw_fail(err, MW_ERR_NOMEM, "out of memory");
    st->files[0].map.data = data;
    st->files[0].map.size = size;
    enum mw_status s = parse_file(st, 0, true, err);
    if (s == MW_OK) s = index_names(st, err);
    if (s != MW_OK) goto fail;
    *out = st;
    return MW_OK;
fail:
    mw_st_close(st);
    return s;
}

static char *join_path(const char *dir, const char *name) {
    size_t a = strlen(dir), b = strlen(name);
    char *p = malloc(a + b + 2);
    if (!p) return NULL;
    memcpy(p, dir, a);
    p[a] = '/';
    memcpy(p + a + 1, name, b + 1);
    return p;
}

/* Maps file fi of st from path (taking ownership of path). Anything but a
 * regular file is refused before opening: opening a FIFO would block. */
static enum mw_status map_file(mw_st *st, int64_t fi, char *path, mw_err *err) {
    if (!path) return mw_fail(err, MW_ERR_NOMEM, "out of memory");
    st->files[fi].path = path;
    struct stat sb;
    if (stat(path, &sb) != 0)
        return mw_fail(err, MW_ERR_IO, "cannot open %s: %s", path, strerror(errno));
    if (!S_ISREG(sb.st_mode)) return mw_fail(err, MW_ERR_IO, "%s is not a regular file", path);
    return mw_mapfile_open(path, &st->files[fi].map, err);
}

static enum mw_status open_single(const char *path, mw_st **out, mw_err *err) {
    mw_st *st = st_new(1);
    if (!st) return mw_fail(err, MW_ERR_NOMEM, "out of memory");
    enum mw_status s = map_file(st, 0, strdup(path), err);
    if (s == MW_OK) s = parse_file(st, 0, true, err);
    if (s == MW_OK) s = index_names(st, err);
    if (s != MW_OK) goto fail;
    *out = st;
    return MW_OK;
fail:
    mw_st_close(st);
    return s;
}

/* A shard name must stay inside the folder: a plain file name. */
static bool plain_name(const char *name) {
    return name[0] && !strchr(name, '/') && !strstr(name, "..");
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The weight_map of an index, and its distinct shard names, sorted. */
struct st_index {
    json_t *root;
    json_t *weight_map;
    const char **shards;
    size_t n_shards;
};

static void index_free(struct st_index *ix) {
    free(ix->shards);
    json_decref(ix->root);
}

static enum mw_status load_index(const char *path, struct st_index *ix, mw_err *err) {
    mw_mapfile map;
    mw_strmap seen = {0};
    enum mw_status s = mw_mapfile_open(path, &map, err);
    if (s != MW_OK) return s;
    json_error_t jerr;
    if (map.size == 0 || map.size > ST_MAX_INDEX) {
        s = mw_fail(err, MW_ERR_FORMAT, "%s: %zu bytes, not a plausible index", path, map.size);
        goto fail;
    }
    if (!(ix->root = json_loadb(map.data, map.size, JSON_REJECT_DUPLICATES, &jerr))) {
        s = mw_fail(err, MW_ERR_FORMAT, "%s: not valid JSON: %s (line %d)", path, jerr.text,
                    jerr.line);
        goto fail;
    }
    ix->weight_map = json_object_get(ix->root, "weight_map");
    if (!json_is_object(ix->weight_map) || json_object_size(ix->weight_map) == 0) {
        s = mw_fail(err, MW_ERR_FORMAT, "%s: weight_map missing, empty or not an object", path);
        goto fail;
    }
    size_t n = json_object_size(ix->weight_map);
    ix->shards = malloc(n * sizeof *ix->shards);
    if (!ix->shards || !mw_strmap_init(&seen, n)) {
        s = mw_fail(err, MW_ERR_NOMEM, "%s: out of memory", path);
        goto fail;
    }
    const char *key;
    json_t *v;
    json_object_foreach(ix->weight_map, key, v) {
        const char *f = json_string_value(v);
        if (!f || !plain_name(f)) {
            s = mw_fail(err, MW_ERR_FORMAT,
                        "%s: weight_map entry \"%s\" is not a file name inside the folder", path,
                        key);
            goto fail;
        }
        if (mw_strmap_put(&seen, f, 0)) ix->shards[ix->n_shards++] = f;
    }
    qsort(ix->shards, ix->n_shards, sizeof *ix->shards, cmp_str);
fail:
    mw_strmap_free(&seen);
    mw_mapfile_close(&map);
    return s;
}

/* Every weight_map entry must name a tensor that its shard holds (shard i of
 * the sorted list is file i of st). */
static enum mw_status check_weight_map(const mw_st *st, const struct st_index *ix, const char *path,
                                       mw_err *err) {
    const char *key;
    json_t *v;
    json_object_foreach(ix->weight_map, key, v) {
        const char *f = json_string_value(v);
        const char **pos = bsearch(&f, ix->shards, ix->n_shards, sizeof *ix->shards, cmp_str);
        int64_t i = mw_strmap_get(&st->names, key);
        if (i < 0 || !pos || st->items[i].file != pos - ix->shards)
            return mw_fail(err, MW_ERR_FORMAT, "%s: weight_map puts \"%s\" in %s, which lacks it",
                           path, key, f);
    }
    return MW_OK;
}

static enum mw_status open_sharded(const char *dir, const char *index_path, mw_st **out,
                                   mw_err *err) {
    struct st_index ix = {0};
    mw_st *st = NULL;
    enum mw_status s = load_index(index_path, &ix, err);
    if (s != MW_OK) goto fail;
    if (!(st = st_new((int64_t)ix.n_shards))) {
        s = mw_fail(err, MW_ERR_NOMEM, "out of memory");
        goto fail;
    }
    for (size_t i = 0; i < ix.n_shards; i++) {
        s = map_file(st, (int64_t)i, join_path(dir, ix.shards[i]), err);
        if (s != MW_OK) {
            mw_fail_context(err, s, "%s lists shard %s", index_path, ix.shards[i]);
            goto fail;
        }
        if ((s = parse_file(st, (int64_t)i, i == 0, err)) != MW_OK) goto fail;
    }
    if ((s = index_names(st, err)) != MW_OK) goto fail;
    if ((s = check_weight_map(st, &ix, index_path, err)) != MW_OK) goto fail;
    index_free(&ix);
    *out = st;
    return MW_OK;
fail:
    index_free(&ix);
    mw_st_close(st);
    return s;
}

static bool is_file(const char *path) {
    struct stat sb;
    return stat(path, &sb) == 0 && S_ISREG(sb.st_mode);
}

enum mw_status mw_st_open(const char *path, mw_st **out, mw_err *err) {
    *out = NULL;
    struct stat sb;
    if (stat(path, &sb) != 0)
        return mw_fail(err, MW_ERR_IO, "cannot open %s: %s", path, strerror(errno));
    if (!S_ISDIR(sb.st_mode)) return open_single(path, out, err);
    /* a folder with both is read as transformers does: the single file wins */
    char *single = join_path(path, ST_SINGLE), *index = join_path(path, ST_INDEX);
    enum mw_status s;
    if (!single || !index)
        s = mw_fail(err, MW_ERR_NOMEM, "out of memory");
    else if (is_file(single))
        s = open_single(single, out, err);
    else if (is_file(index))
        s = open_sharded(path, index, out, err);
    else
        s = mw_fail(err, MW_ERR_NOT_FOUND, "%s holds neither %s nor %s", path, ST_SINGLE, ST_INDEX);
    free(single);
    free(index);
    return s;
}

int64_t mw_st_n_tensors(const mw_st *st) {
    return st->n_items;
}

const mw_tensor *mw_st_tensor_at(const mw_st *st, int64_t i) {
    return i >= 0 && i < st->n_items ? &st->items[i].t : NULL;
}

const mw_tensor *mw_st_find_tensor(const mw_st *st, const char *name) {
    int64_t i = mw_strmap_get(&st->names, name);
    return i >= 0 ? &st->items[i].t : NULL;
}

const char *mw_st_metadata(const mw_st *st, const char *key) {
    return st->metadata ? json_string_value(json_object_get(st->metadata, key)) : NULL;
}
