/* GGUF writer. Lays a file out the way llama.cpp's reader demands: version 3,
 * metadata, tensor infos, padding to the alignment, then every tensor's data
 * in info order, each padded to the alignment. Written under a temporary name
 * and renamed into place only when complete. */
#include "core/err.h"
#include "core/outfile.h"
#include "core/utf8.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GGUF_MAGIC             0x46554747u
#define GGUF_VERSION           3
#define GGUF_DEFAULT_ALIGNMENT 32
#define GGUF_MAX_NAME          64

struct wkv {
    mw_gguf_kv kv; /* key and data owned */
};

struct wtensor {
    char *name;
    enum mw_type type;
    uint32_t n_dims;
    int64_t ne[MW_MAX_DIMS];
    uint64_t n_bytes;
    uint64_t offset;
};

struct mw_gguf_writer {
    mw_outfile out;
    struct wkv *kv;
    int64_t n_kv, cap_kv;
    struct wtensor *t;
    int64_t n_t, cap_t;
    int64_t next;       /* index of the next tensor whose data is due */
    uint64_t next_done; /* bytes of it written so far */
    bool header_written;
    uint64_t alignment;
};

static void free_kv_data(mw_gguf_kv *kv) {
    if (kv->elem_type == MW_GGUF_STRING && kv->data) {
        const mw_str *s = kv->data;
        for (uint64_t i = 0; i < kv->n; i++)
            free((void *)s[i].s);
    }
    free((void *)kv->data);
    free((void *)kv->key);
}

enum mw_status mw_gguf_writer_create(const char *path, mw_gguf_writer **out, mw_err *err) {
    *out = NULL;
    mw_gguf_writer *w = calloc(1, sizeof *w);
    if (!w) return mw_fail(err, MW_ERR_NOMEM, "out of memory");
    enum mw_status s = mw_outfile_open(&w->out, path, MW_OUTFILE_OUTPUT, err);
    if (s) {
        free(w);
        return s;
    }
    w->alignment = GGUF_DEFAULT_ALIGNMENT;
    *out = w;
    return MW_OK;
}

void mw_gguf_writer_free(mw_gguf_writer *w) {
    if (!w) return;
    mw_outfile_abort(&w->out);
    for (int64_t i = 0; i < w->n_kv; i++)
        free_kv_data(&w->kv[i].kv);
    for (int64_t i = 0; i < w->n_t; i++)
        free(w->t[i].name);
    free(w->kv);
    free(w->t);
    free(w);
}

static int64_t find_kv(const mw_gguf_writer *w, const char *key) {
    for (int64_t i = 0; i < w->n_kv; i++)
        if (strcmp(w->kv[i].kv.key, key) == 0) return i;
    return -1;
}

bool mw_gguf_writer_remove_kv(mw_gguf_writer *w, const char *key) {
    if (w->header_written) return false; /* the metadata is on disk already */
    int64_t i = find_kv(w, key);
    if (i < 0) return false;
    free_kv_data(&w->kv[i].kv);
    memmove(&w->kv[i], &w->kv[i + 1], (size_t)(w->n_kv - i - 1) * sizeof *w->kv);
    w->n_kv--;
    return true;
}

/* Deep copy of an entry's value. */
static bool copy_value(mw_gguf_kv *dst, const mw_gguf_kv *src) {
    uint64_t n = src->n;
    if (src->elem_type == MW_GGUF_STRING) {
        mw_str *strs = calloc(n ? n : 1, sizeof *strs);
        if (!strs) return false;
        dst->data = strs;
        for (uint64_t i = 0; i < n; i++) {
            const mw_str *from = &((const mw_str *)src->data)[i];
            char *s = malloc(from->len + 1);
            if (!s) return false; /* the caller frees what was copied */
            memcpy(s, from->s, from->len);
            s[from->len] = 0;
            strs[i] = (mw_str){s, from->len};
        }
        return true;
    }
    size_t bytes = (size_t)n * mw_gguf_vtype_size(src->elem_type);
    void *d = malloc(bytes ? bytes : 1);
    if (!d) return false;
    if (bytes) memcpy(d, src->data, bytes);
    dst->data = d;
    return true;
}

enum mw_status mw_gguf_writer_set_kv(mw_gguf_writer *w, const mw_gguf_kv *kv, mw_err *err) {
    if (w->header_written)
        return mw_fail(err, MW_ERR_ARG, "GGUF writer: metadata set after data was written");
    bool is_array = kv->type == MW_GGUF_ARRAY;
    if (kv->type >= MW_GGUF_VTYPE_COUNT || kv->elem_type >= MW_GGUF_VTYPE_COUNT ||
        kv->elem_type == MW_GGUF_ARRAY || (!is_array && (kv->elem_type != kv->type || kv->n != 1)))
        return mw_fail(err, MW_ERR_ARG, "GGUF writer: key '%s' has an invalid value type", kv->key);
    if (!kv->key[0] || strlen(kv->key) >= 65536)
        return mw_fail(err, MW_ERR_ARG, "GGUF writer: invalid key");
    /* what readers (ours included) refuse */
    if (!mw_utf8_valid(kv->key, strlen(kv->key)))
        return mw_fail(err, MW_ERR_ARG, "GGUF writer: key '%.40s' is not valid UTF-8", kv->key);
    mw_gguf_kv copy = {.type = kv->type, .elem_type = kv->elem_type, .n = kv->n};
    copy.key = strdup(kv->key);
    if (!copy.key || !copy_value(&copy, kv)) {
        free_kv_data(&copy);
        return mw_fail(err, MW_ERR_NOMEM, "out of memory");
    }
    int64_t i = find_kv(w, kv->key);
    if (i >= 0) {
        free_kv_data(&w->kv[i].kv);
        w->kv[i].kv = copy;
        return MW_OK;
    }
    if (w->n_kv == w->cap_kv) {
        int64_t cap = w->cap_kv ? 2 * w->cap_kv : 32;
        struct wkv *a = realloc(w->kv, (size_t)cap * sizeof *a);
        if (!a) {
            free_kv_data(&copy);
            return mw_fail(err, MW_ERR_NOMEM, "out of memory");
        }
        w->kv = a;
        w->cap_kv = cap;
    }
    w->kv[w->n_kv++].kv = copy;
    return MW_OK;
}

static enum mw_status set_scalar(mw_gguf_writer *w, const char *key, enum mw_gguf_vtype t,
                                 const void *v, mw_err *err) {
    mw_gguf_kv kv = {.key = key, .type = t, .elem_type = t, .n = 1, .data = v};
    return mw_gguf_writer_set_kv(w, &kv, err);
}

enum mw_status mw_gguf_writer_set_str(mw_gguf_writer *w, const char *key, const char *value,
                                      mw_err *err) {
    mw_str s = {value, strlen(value)};
    return set_scalar(w, key, MW_GGUF_STRING, &s, err);
}

enum mw_status mw_gguf_writer_set_u32(mw_gguf_writer *w, const char *key, uint32_t value,
                                      mw_err *err) {
    return set_scalar(w, key, MW_GGUF_UINT32, &value, err);
}

enum mw_status mw_gguf_writer_set_i32(mw_gguf_writer *w, const char *key, int32_t value,
                                      mw_err *err) {
    return set_scalar(w, key, MW_GGUF_INT32, &value, err);
}

enum mw_status mw_gguf_writer_set_f32(mw_gguf_writer *w, const char *key, float value,
                                      mw_err *err) {
    return set_scalar(w, key, MW_GGUF_FLOAT32, &value, err);
}

enum mw_status mw_gguf_writer_set_bool(mw_gguf_writer *w, const char *key, bool value,
                                       mw_err *err) {
    uint8_t b = value;
    return set_scalar(w, key, MW_GGUF_BOOL, &b, err);
}

enum mw_status mw_gguf_writer_set_array(mw_gguf_writer *w, const char *key,
                                        enum mw_gguf_vtype elem_type, uint64_t n, const void *data,
                                        mw_err *err) {
    mw_gguf_kv kv = {
        .key = key, .type = MW_GGUF_ARRAY, .elem_type = elem_type, .n = n, .data = data};
    return mw_gguf_writer_set_kv(w, &kv, err);
}

enum mw_status mw_gguf_writer_add_tensor(mw_gguf_writer *w, const char *name, enum mw_type type,
                                         uint32_t n_dims, const int64_t *ne, mw_err *err) {
    if (w->header_written)
        return mw_fail(err, MW_ERR_ARG, "GGUF writer: tensor '%s' added after data was written",
                       name);
    size_t len = strlen(name);
    if (len == 0 || len >= GGUF_MAX_NAME)
        return mw_fail(err, MW_ERR_ARG, "tensor name '%s' is %zu bytes; GGUF allows 1 to %d", name,
                       len, GGUF_MAX_NAME - 1);
    if (!mw_utf8_valid(name, len))
        return mw_fail(err, MW_ERR_ARG, "GGUF writer: tensor name '%s' is not valid UTF-8", name);
    if (n_dims == 0 || n_dims > MW_MAX_DIMS || !mw_type_name(type))
        return mw_fail(err, MW_ERR_ARG, "GGUF writer: tensor '%s' has an invalid type or rank",
                       name);
    for (int64_t i = 0; i < w->n_t; i++)
        if (strcmp(w->t[i].name, name) == 0)
            return mw_fail(err, MW_ERR_ARG, "GGUF writer: tensor '%s' added twice", name);
    struct wtensor t = {.type = type, .n_dims = n_dims};
    uint64_t n = 1;
    for (uint32_t d = 0; d < MW_MAX_DIMS; d++) {
        t.ne[d] = d < n_dims ? ne[d] : 1;
        if (t.ne[d] < 0 || (t.ne[d] && n > (uint64_t)INT64_MAX / (uint64_t)t.ne[d]))
            return mw_fail(err, MW_ERR_SHAPE, "GGUF writer: tensor '%s' has an invalid shape",
                           name);
        n *= (uint64_t)t.ne[d];
    }
    if (t.ne[0] % mw_type_block_elems(type) != 0 || !mw_type_row_bytes(type, n, &t.n_bytes))
        return mw_fail(err, MW_ERR_SHAPE, "GGUF writer: tensor '%s' rows are not whole %s blocks",
                       name, mw_type_name(type));
    if (w->n_t == w->cap_t) {
        int64_t cap = w->cap_t ? 2 * w->cap_t : 64;
        struct wtensor *a = realloc(w->t, (size_t)cap * sizeof *a);
        if (!a) return mw_fail(err, MW_ERR_NOMEM, "out of memory");
        w->t = a;
        w->cap_t = cap;
    }
    t.name = strdup(name);
    if (!t.name) return mw_fail(err, MW_ERR_NOMEM, "out of memory");
    w->t[w->n_t++] = t;
    return MW_OK;
}

static uint64_t pad_to(uint64_t pos, uint64_t align) {
    return (align - pos % align) % align;
}

static enum mw_status write_str(mw_outfile *o, const char *s, uint64_t len, mw_err *err) {
    enum mw_status st = mw_outfile_write(o, &len, 8, err);
    return st ? st : mw_outfile_write(o, s, len, err);
}

static enum mw_status write_kv(mw_outfile *o, const mw_gguf_kv *kv, mw_err *err) {
    uint32_t type = kv->type, elem = kv->elem_type;
    enum mw_status s;
    if ((s = write_str(o, kv->key, strlen(kv->key), err))) return s;
    if ((s = mw_outfile_write(o, &type, 4, err))) return s;
    if (kv->type == MW_GGUF_ARRAY) {
        if ((s = mw_outfile_write(o, &elem, 4, err))) return s;
        if ((s = mw_outfile_write(o, &kv->n, 8, err))) return s;
    }
    if (elem == MW_GGUF_STRING) {
        const mw_str *strs = kv->data;
        for (uint64_t i = 0; i < kv->n; i++)
            if ((s = write_str(o, strs[i].s, strs[i].len, err))) return s;
        return MW_OK;
    }
    return mw_outfile_write(o, kv->data, kv->n * mw_gguf_vtype_size(elem), err);
}

static enum mw_status write_header(mw_gguf_writer *w, mw_err *err) {
    int64_t ia = find_kv(w, "general.alignment");
    if (ia >= 0) {
        const mw_gguf_kv *kv = &w->kv[ia].kv;
        uint32_t a = kv->type == MW_GGUF_UINT32 ? *(const uint32_t *)kv->data : 0;
        if (a == 0 || (a & (a - 1)))
            return mw_fail(err, MW_ERR_ARG, "general.alignment must be a power-of-two uint32");
        w->alignment = a;
    }
    uint32_t magic = GGUF_MAGIC, version = GGUF_VERSION;
    uint64_t n_t = (uint64_t)w->n_t, n_kv = (uint64_t)w->n_kv;
    mw_outfile *o = &w->out;
    enum mw_status s;
    if ((s = mw_outfile_write(o, &magic, 4, err)) || (s = mw_outfile_write(o, &version, 4, err)) ||
        (s = mw_outfile_write(o, &n_t, 8, err)) || (s = mw_outfile_write(o, &n_kv, 8, err)))
        return s;
    for (int64_t i = 0; i < w->n_kv; i++)
        if ((s = write_kv(o, &w->kv[i].kv, err))) return s;
    uint64_t offset = 0;
    for (int64_t i = 0; i < w->n_t; i++) {
        struct wtensor *t = &w->t[i];
        uint64_t ne[MW_MAX_DIMS];
        uint32_t type = t->type;
        for (uint32_t d = 0; d < t->n_dims; d++)
            ne[d] = (uint64_t)t->ne[d];
        t->offset = offset;
        if ((s = write_str(o, t->name, strlen(t->name), err)) ||
            (s = mw_outfile_write(o, &t->n_dims, 4, err)) ||
            (s = mw_outfile_write(o, ne, 8 * t->n_dims, err)) ||
            (s = mw_outfile_write(o, &type, 4, err)) ||
            (s = mw_outfile_write(o, &t->offset, 8, err)))
            return s;
        offset += t->n_bytes + pad_to(t->n_bytes, w->alignment);
    }
    w->header_written = true;
    return mw_outfile_pad(o, pad_to(mw_outfile_pos(o), w->alignment), err);
}

enum mw_status mw_gguf_writer_write_tensor_part(mw_gguf_writer *w, const void *data,
                                                uint64_t n_bytes, mw_err *err) {
    enum mw_status s;
    if (!w->header_written && (s = write_header(w, err))) return s;
    if (w->next >= w->n_t)
        return mw_fail(err, MW_ERR_ARG, "GGUF writer: more tensor data than tensors declared");
    const struct wtensor *t = &w->t[w->next];
    if (n_bytes > t->n_bytes - w->next_done)
        return mw_fail(err, MW_ERR_ARG, "GGUF writer: tensor '%s' needs %llu bytes, got %llu",
                       t->name, (unsigned long long)t->n_bytes,
                       (unsigned long long)(w->next_done + n_bytes));
    if ((s = mw_outfile_write(&w->out, data, n_bytes, err))) return s;
    w->next_done += n_bytes;
    if (w->next_done < t->n_bytes) return MW_OK;
    if ((s = mw_outfile_pad(&w->out, pad_to(t->n_bytes, w->alignment), err))) return s;
    w->next++;
    w->next_done = 0;
    return MW_OK;
}

enum mw_status mw_gguf_writer_write_tensor(mw_gguf_writer *w, const void *data, uint64_t n_bytes,
                                           mw_err *err) {
    if (w->next < w->n_t && (w->next_done != 0 || n_bytes != w->t[w->next].n_bytes))
        return mw_fail(err, MW_ERR_ARG, "GGUF writer: tensor '%s' needs %llu bytes, got %llu",
                       w->t[w->next].name, (unsigned long long)w->t[w->next].n_bytes,
                       (unsigned long long)n_bytes);
    return mw_gguf_writer_write_tensor_part(w, data, n_bytes, err);
}

enum mw_status mw_gguf_writer_finish(mw_gguf_writer *w, mw_err *err) {
    enum mw_status s = MW_OK;
    if (!w->header_written) s = write_header(w, err);
    if (!s && w->next != w->n_t)
        s = mw_fail(err, MW_ERR_ARG, "GGUF writer: %lld of %lld tensors written",
                    (long long)w->next, (long long)w->n_t);
    if (!s) s = mw_outfile_commit(&w->out, err);
    mw_gguf_writer_free(w);
    return s;
}
