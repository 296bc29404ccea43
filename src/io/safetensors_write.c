/* Writing safetensors folders: one model.safetensors, or shards with a
 * model.safetensors.index.json as Hugging Face does.
 *
 * Tensors are declared first, so that each shard's header (which lists the
 * offsets of everything after it) can be written before its data; the data is
 * then streamed to disk one tensor at a time. Everything goes to a temporary
 * folder beside the destination, renamed into place only once complete. */
#include "core/err.h"
#include "core/pending.h"
#include "core/strmap.h"
#include "core/utf8.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define ST_SINGLE "model.safetensors"
#define ST_INDEX  "model.safetensors.index.json"

struct wt_tensor {
    char *name;
    enum mw_type type;
    uint32_t n_dims;
    int64_t ne[MW_MAX_DIMS];
    uint64_t n_bytes;
    uint64_t offset; /* within its shard's data buffer */
    uint32_t shard;
};

struct mw_st_writer {
    char *dir; /* destination, without trailing slashes */
    char *tmp; /* temporary folder beside it */
    uint64_t max_shard;
    json_t *meta; /* __metadata__ */
    struct wt_tensor *t;
    size_t n, cap;
    mw_strmap names; /* keys borrowed from t[i].name */
    bool frozen;     /* shards planned, data writing started */
    bool failed;     /* a write failed: only free is left */
    uint32_t n_shards;
    size_t next;        /* next tensor whose data is expected */
    uint64_t next_done; /* bytes of it written so far */
    int fd;             /* open shard, or -1 */
    uint32_t cur_shard;
    char cur_path[4096]; /* path of the open shard */
    /* the temporary folder and the files in it, for a signal to remove
     * (core/pending.h); slots that could not be had are -1 */
    int pending[MW_PENDING_SLOTS];
    size_t n_pending;
};

static void track(mw_st_writer *w, const char *path) {
    if (w->n_pending < sizeof w->pending / sizeof w->pending[0])
        w->pending[w->n_pending++] = mw_pending_add(path);
}

static void untrack_all(mw_st_writer *w) {
    for (size_t i = 0; i < w->n_pending; i++)
        mw_pending_drop(w->pending[i]);
    w->n_pending = 0;
}

/* safetensors dtype for the mw_types the writer accepts. */
static const char *dtype_of(enum mw_type type) {
    switch (type) {
    case MW_TYPE_F32:
        return "F32";
    case MW_TYPE_F16:
        return "F16";
    case MW_TYPE_BF16:
        return "BF16";
    case MW_TYPE_F64:
        return "F64";
    case MW_TYPE_I8:
        return "I8";
    case MW_TYPE_I16:
        return "I16";
    case MW_TYPE_I32:
        return "I32";
    case MW_TYPE_I64:
        return "I64";
    default:
        return NULL;
    }
}

static enum mw_status write_all(int fd, const void *data, uint64_t n, const char *path,
                                mw_err *err) {
    const char *p = data;
    while (n > 0) {
        size_t chunk = n > (1u << 30) ? (1u << 30) : (size_t)n;
        ssize_t k = write(fd, p, chunk);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0)
            return mw_fail(err, MW_ERR_IO, "cannot write %s: %s", path,
                           k < 0 ? strerror(errno) : "no progress");
        p += k;
        n -= (uint64_t)k;
    }
    return MW_OK;
}

static enum mw_status sync_close(int fd, const char *path, mw_err *err) {
    int bad = fsync(fd) != 0 ? errno : 0;
    if (close(fd) != 0 && !bad) bad = errno;
    if (bad) return mw_fail(err, MW_ERR_IO, "cannot write %s: %s", path, strerror(bad));
    return MW_OK;
}

/* Writes a whole file under the temporary folder; never replaces one. */
static enum mw_status write_file(mw_st_writer *w, const char *name, const void *data, uint64_t size,
                                 mw_err *err) {
    char path[4096];
    if ((size_t)snprintf(path, sizeof path, "%s/%s", w->tmp, name) >= sizeof path)
        return mw_fail(err, MW_ERR_ARG, "path too long: %s/%s", w->tmp, name);
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0)
        return mw_fail(err, errno == EEXIST ? MW_ERR_ARG : MW_ERR_IO, "cannot create %s: %s", path,
                       strerror(errno));
    track(w, path);
    enum mw_status s = write_all(fd, data, size, path, err);
    if (s != MW_OK) {
        close(fd);
        return s;
    }
    return sync_close(fd, path, err);
}

/* Removes the temporary folder and the plain files this writer put in it. */
static void remove_tmp(const char *tmp) {
    DIR *d = opendir(tmp);
    if (d) {
        struct dirent *e;
        while ((e = readdir(d)))
            if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
                unlinkat(dirfd(d), e->d_name, 0);
        closedir(d);
    }
    rmdir(tmp);
}

void mw_st_writer_free(mw_st_writer *w) {
    if (!w) return;
    if (w->fd >= 0) close(w->fd);
    if (w->tmp) remove_tmp(w->tmp);
    untrack_all(w);
    for (size_t i = 0; i < w->n; i++)
        free(w->t[i].name);
    free(w->t);
    mw_strmap_free(&w->names);
    json_decref(w->meta);
    free(w->tmp);
    free(w->dir);
    free(w);
}

/* The destination must be absent or an empty folder (never a link). */
static enum mw_status check_destination(const char *dir, mw_err *err) {
    struct stat sb;
    if (lstat(dir, &sb) != 0) {
        if (errno == ENOENT) return MW_OK;
        return mw_fail(err, MW_ERR_IO, "cannot inspect %s: %s", dir, strerror(errno));
    }
    if (!S_ISDIR(sb.st_mode)) return mw_fail(err, MW_ERR_ARG, "%s exists and is not a folder", dir);
    DIR *d = opendir(dir);
    if (!d) return mw_fail(err, MW_ERR_IO, "cannot read folder %s: %s", dir, strerror(errno));
    bool empty = true;
    struct dirent *e;
    while (empty && (e = readdir(d)))
        empty = strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0;
    closedir(d);
    if (!empty) return mw_fail(err, MW_ERR_ARG, "%s exists and is not empty", dir);
    return MW_OK;
}

enum mw_status mw_st_writer_create(const char *dir, uint64_t max_shard_bytes, mw_st_writer **out,
                                   mw_err *err) {
    *out = NULL;
    enum mw_status s;
    mw_st_writer *w = calloc(1, sizeof *w);
    if (!w) return mw_fail(err, MW_ERR_NOMEM, "out of memory");
    w->fd = -1;
    w->max_shard = max_shard_bytes;
    size_t len = strlen(dir);
    while (len > 1 && dir[len - 1] == '/')
        len--;
    if (len == 0 || (len == 1 && dir[0] == '/')) {
        s = mw_fail(err, MW_ERR_ARG, "\"%s\" cannot be an output folder", dir);
        goto fail;
    }
    w->dir = strndup(dir, len);
    w->meta = json_pack("{s:s}", "format", "pt"); /* transformers expects it */
    if (!w->dir || !w->meta || !mw_strmap_init(&w->names, 8)) {
        s = mw_fail(err, MW_ERR_NOMEM, "out of memory");
        goto fail;
    }
    if ((s = check_destination(w->dir, err)) != MW_OK) goto fail;
    /* w->tmp is set only once the folder exists: free removes what it names */
    char *tmp = malloc(len + sizeof ".tmp-XXXXXX");
    if (!tmp) {
        s = mw_fail(err, MW_ERR_NOMEM, "out of memory");
        goto fail;
    }
    memcpy(tmp, w->dir, len);
    memcpy(tmp + len, ".tmp-XXXXXX", sizeof ".tmp-XXXXXX");
    if (!mkdtemp(tmp)) {
        s = mw_fail(err, MW_ERR_IO, "cannot create a temporary folder beside %s: %s", w->dir,
                    strerror(errno));
        free(tmp);
        goto fail;
    }
    w->tmp = tmp;
    track(w, tmp);
    *out = w;
    return MW_OK;
fail:
    mw_st_writer_free(w);
    return s;
}

static enum mw_status check_open(const mw_st_writer *w, bool need_unfrozen, mw_err *err) {
    if (w->failed) return mw_fail(err, MW_ERR_ARG, "%s: the writer failed earlier", w->dir);
    if (need_unfrozen && w->frozen)
        return mw_fail(err, MW_ERR_ARG, "%s: tensor data writing has started", w->dir);
    return MW_OK;
}

enum mw_status mw_st_writer_set_metadata(mw_st_writer *w, const char *key, const char *value,
                                         mw_err *err) {
    enum mw_status s = check_open(w, true, err);
    if (s != MW_OK) return s;
    if (!mw_utf8_valid(key, strlen(key)) || !mw_utf8_valid(value, strlen(value)))
        return mw_fail(err, MW_ERR_ARG, "metadata key or value is not UTF-8");
    if (json_object_set_new(w->meta, key, json_string(value)) != 0)
        return mw_fail(err, MW_ERR_NOMEM, "out of memory");
    return MW_OK;
}

/* Grows the tensor list, rebuilding the name map at the new size. */
static bool grow(mw_st_writer *w) {
    size_t cap = w->cap ? 2 * w->cap : 64;
    mw_strmap m;
    if (!mw_strmap_init(&m, cap)) return false;
    struct wt_tensor *t = realloc(w->t, cap * sizeof *t);
    if (!t) {
        mw_strmap_free(&m);
        return false;
    }
    w->t = t;
    w->cap = cap;
    for (size_t i = 0; i < w->n; i++)
        mw_strmap_put(&m, w->t[i].name, (int64_t)i);
    mw_strmap_free(&w->names);
    w->names = m;
    return true;
}

static enum mw_status tensor_bytes(const char *name, enum mw_type type, uint32_t n_dims,
                                   const int64_t *ne, uint64_t *bytes, mw_err *err) {
    if (!dtype_of(type))
        return mw_fail(err, MW_ERR_UNSUPPORTED, "tensor \"%s\": type %s cannot be written", name,
                       mw_type_name(type) ? mw_type_name(type) : "?");
    if (n_dims > MW_MAX_DIMS || (n_dims > 0 && !ne))
        return mw_fail(err, MW_ERR_ARG, "tensor \"%s\": %u dimensions", name, n_dims);
    uint64_t n = 1;
    for (uint32_t k = 0; k < n_dims; k++) {
        if (ne[k] < 0 || __builtin_mul_overflow(n, (uint64_t)ne[k], &n))
            return mw_fail(err, MW_ERR_ARG, "tensor \"%s\": bad dimension %lld", name,
                           (long long)ne[k]);
    }
    if (!mw_type_row_bytes(type, n, bytes) || *bytes > (uint64_t)INT64_MAX)
        return mw_fail(err, MW_ERR_ARG, "tensor \"%s\": too large", name);
    return MW_OK;
}

enum mw_status mw_st_writer_add_tensor(mw_st_writer *w, const char *name, enum mw_type type,
                                       uint32_t n_dims, const int64_t *ne, mw_err *err) {
    enum mw_status s = check_open(w, true, err);
    if (s != MW_OK) return s;
    if (!mw_utf8_valid(name, strlen(name)) || strcmp(name, "__metadata__") == 0)
        return mw_fail(err, MW_ERR_ARG, "\"%s\" cannot be a tensor name", name);
    if (mw_strmap_get(&w->names, name) >= 0)
        return mw_fail(err, MW_ERR_ARG, "tensor \"%s\" was already added", name);
    uint64_t bytes;
    if ((s = tensor_bytes(name, type, n_dims, ne, &bytes, err)) != MW_OK) return s;
    if (w->n == w->cap && !grow(w)) return mw_fail(err, MW_ERR_NOMEM, "out of memory");
    struct wt_tensor *t = &w->t[w->n];
    memset(t, 0, sizeof *t);
    if (!(t->name = strdup(name))) return mw_fail(err, MW_ERR_NOMEM, "out of memory");
    t->type = type;
    t->n_dims = n_dims;
    for (uint32_t k = 0; k < MW_MAX_DIMS; k++)
        t->ne[k] = k < n_dims ? ne[k] : 1;
    t->n_bytes = bytes;
    mw_strmap_put(&w->names, t->name, (int64_t)w->n);
    w->n++;
    return MW_OK;
}

/* Splits the tensors, in order, into shards of at most max_shard data bytes
 * (headers not counted, as Hugging Face counts); a tensor larger than that
 * gets a shard of its own. */
static enum mw_status plan_shards(mw_st_writer *w, mw_err *err) {
    uint64_t total = 0, used = 0;
    uint32_t shard = 0;
    for (size_t i = 0; i < w->n; i++) {
        uint64_t b = w->t[i].n_bytes;
        if (__builtin_add_overflow(total, b, &total) || total > (uint64_t)INT64_MAX)
            return mw_fail(err, MW_ERR_ARG, "%s: tensors too large in total", w->dir);
        if (w->max_shard > 0 && used > 0 && used + b > w->max_shard) {
            shard++;
            used = 0;
        }
        w->t[i].shard = shard;
        w->t[i].offset = used;
        used += b;
    }
    w->n_shards = shard + 1;
    w->frozen = true;
    return MW_OK;
}

static void shard_name(const mw_st_writer *w, uint32_t shard, char *buf, size_t size) {
    if (w->n_shards == 1)
        snprintf(buf, size, "%s", ST_SINGLE);
    else
        snprintf(buf, size, "model-%05u-of-%05u.safetensors", shard + 1, w->n_shards);
}

/* JSON header of one shard, padded with spaces to a multiple of 8 bytes so
 * the data that follows the 8-byte length is 8-aligned. */
static char *shard_header(const mw_st_writer *w, uint32_t shard, size_t *len) {
    char *text = NULL;
    json_t *h = json_object();
    if (!h || json_object_set(h, "__metadata__", w->meta) != 0) goto fail;
    for (size_t i = 0; i < w->n; i++) {
        const struct wt_tensor *t = &w->t[i];
        if (t->shard != shard) continue;
        json_t *shape = json_array();
        for (uint32_t k = t->n_dims; k-- > 0;)
            json_array_append_new(shape, json_integer(t->ne[k]));
        json_t *e =
            json_pack("{s:s,s:o,s:[I,I]}", "dtype", dtype_of(t->type), "shape", shape,
                      "data_offsets", (json_int_t)t->offset, (json_int_t)(t->offset + t->n_bytes));
        if (!e || json_array_size(shape) != t->n_dims || json_object_set_new(h, t->name, e) != 0)
            goto fail;
    }
    char *s = json_dumps(h, JSON_COMPACT);
    if (!s) goto fail;
    size_t n = strlen(s), padded = (n + 7) & ~(size_t)7;
    if ((text = malloc(padded + 1))) {
        memcpy(text, s, n);
        memset(text + n, ' ', padded - n);
        text[padded] = 0;
        *len = padded;
    }
    free(s);
fail:
    json_decref(h);
    return text;
}

static enum mw_status close_shard(mw_st_writer *w, mw_err *err) {
    if (w->fd < 0) return MW_OK;
    enum mw_status s = sync_close(w->fd, w->cur_path, err);
    w->fd = -1;
    return s;
}

/* Opens shard `shard` and writes its length prefix and header. */
static enum mw_status open_shard(mw_st_writer *w, uint32_t shard, mw_err *err) {
    char name[64];
    char *path = w->cur_path;
    shard_name(w, shard, name, sizeof name);
    if ((size_t)snprintf(path, sizeof w->cur_path, "%s/%s", w->tmp, name) >= sizeof w->cur_path)
        return mw_fail(err, MW_ERR_ARG, "path too long: %s/%s", w->tmp, name);
    size_t len = 0;
    char *header = shard_header(w, shard, &len);
    if (!header) return mw_fail(err, MW_ERR_NOMEM, "out of memory for the header of %s", name);
    enum mw_status s = MW_OK;
    w->fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    w->cur_shard = shard;
    if (w->fd < 0) {
        s = mw_fail(err, MW_ERR_IO, "cannot create %s: %s", path, strerror(errno));
        goto fail;
    }
    track(w, path);
    unsigned char prefix[8];
    for (int k = 0; k < 8; k++)
        prefix[k] = (unsigned char)((uint64_t)len >> (8 * k));
    s = write_all(w->fd, prefix, 8, path, err);
    if (s == MW_OK) s = write_all(w->fd, header, len, path, err);
fail:
    free(header);
    return s;
}

enum mw_status mw_st_writer_write_tensor_part(mw_st_writer *w, const void *data, uint64_t n_bytes,
                                              mw_err *err) {
    enum mw_status s = check_open(w, false, err);
    if (s != MW_OK) return s;
    if (!w->frozen && (s = plan_shards(w, err)) != MW_OK) return s;
    if (w->next >= w->n)
        return mw_fail(err, MW_ERR_ARG, "%s: all %zu tensors are already written", w->dir, w->n);
    const struct wt_tensor *t = &w->t[w->next];
    if (n_bytes > t->n_bytes - w->next_done)
        return mw_fail(err, MW_ERR_ARG, "tensor \"%s\" needs %llu bytes, got %llu", t->name,
                       (unsigned long long)t->n_bytes,
                       (unsigned long long)(w->next_done + n_bytes));
    if (n_bytes > 0 && !data) return mw_fail(err, MW_ERR_ARG, "tensor \"%s\": no data", t->name);
    if (w->fd < 0 || t->shard != w->cur_shard) {
        if ((s = close_shard(w, err)) != MW_OK || (s = open_shard(w, t->shard, err)) != MW_OK)
            goto fail;
    }
    if ((s = write_all(w->fd, data, n_bytes, w->cur_path, err)) != MW_OK) goto fail;
    w->next_done += n_bytes;
    if (w->next_done == t->n_bytes) {
        w->next++;
        w->next_done = 0;
    }
    return MW_OK;
fail:
    w->failed = true;
    return s;
}

enum mw_status mw_st_writer_write_tensor(mw_st_writer *w, const void *data, uint64_t n_bytes,
                                         mw_err *err) {
    enum mw_status s = check_open(w, false, err);
    if (s != MW_OK) return s;
    if (w->next < w->n && (w->next_done != 0 || n_bytes != w->t[w->next].n_bytes))
        return mw_fail(err, MW_ERR_ARG, "tensor \"%s\" needs %llu bytes, got %llu",
                       w->t[w->next].name, (unsigned long long)w->t[w->next].n_bytes,
                       (unsigned long long)n_bytes);
    return mw_st_writer_write_tensor_part(w, data, n_bytes, err);
}

enum mw_status mw_st_writer_add_file(mw_st_writer *w, const char *name, const void *data,
                                     size_t size, mw_err *err) {
    enum mw_status s = check_open(w, false, err);
    if (s != MW_OK) return s;
    size_t len = strlen(name);
    static const char ext[] = ".safetensors";
    bool model_file = strcmp(name, ST_INDEX) == 0 ||
                      (len >= sizeof ext - 1 && strcmp(name + len - (sizeof ext - 1), ext) == 0);
    if (len == 0 || strchr(name, '/') || strcmp(name, ".") == 0 || strcmp(name, "..") == 0 ||
        model_file)
        return mw_fail(err, MW_ERR_ARG, "\"%s\" cannot be the name of an extra file", name);
    if (size > 0 && !data) return mw_fail(err, MW_ERR_ARG, "file %s: no data", name);
    return write_file(w, name, data, size, err);
}

static enum mw_status write_index(mw_st_writer *w, mw_err *err) {
    uint64_t total = 0;
    for (size_t i = 0; i < w->n; i++)
        total += w->t[i].n_bytes; /* bounded in plan_shards */
    json_t *map = json_object();
    json_t *root =
        json_pack("{s:{s:I},s:o}", "metadata", "total_size", (json_int_t)total, "weight_map", map);
    char *text = NULL;
    enum mw_status s = MW_OK;
    for (size_t i = 0; root && i < w->n; i++) {
        char name[64];
        shard_name(w, w->t[i].shard, name, sizeof name);
        if (json_object_set_new(map, w->t[i].name, json_string(name)) != 0) break;
    }
    /* sorted keys, as Hugging Face writes its index */
    if (!root || json_object_size(map) != w->n ||
        !(text = json_dumps(root, JSON_INDENT(2) | JSON_SORT_KEYS))) {
        s = mw_fail(err, MW_ERR_NOMEM, "out of memory for the index");
        goto fail;
    }
    size_t len = strlen(text);
    char *grown = realloc(text, len + 2);
    if (!grown) {
        s = mw_fail(err, MW_ERR_NOMEM, "out of memory for the index");
        goto fail;
    }
    text = grown;
    memcpy(text + len, "\n", 2);
    s = write_file(w, ST_INDEX, text, len + 1, err);
fail:
    free(text);
    json_decref(root);
    return s;
}

/* Flushes the folder's entries, then the rename in its parent. */
static enum mw_status sync_dir(const char *path, mw_err *err) {
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0 || fsync(fd) != 0) {
        int e = errno;
        if (fd >= 0) close(fd);
        return mw_fail(err, MW_ERR_IO, "cannot sync folder %s: %s", path, strerror(e));
    }
    close(fd);
    return MW_OK;
}

static enum mw_status publish(mw_st_writer *w, mw_err *err) {
    /* mkdtemp made it private; the result is an ordinary model folder */
    if (chmod(w->tmp, 0755) != 0)
        return mw_fail(err, MW_ERR_IO, "cannot chmod %s: %s", w->tmp, strerror(errno));
    enum mw_status s = sync_dir(w->tmp, err);
    if (s != MW_OK) return s;
    /* rename replaces an empty folder atomically and refuses a non-empty one */
    if (rename(w->tmp, w->dir) != 0)
        return mw_fail(err, MW_ERR_IO, "cannot rename %s to %s: %s", w->tmp, w->dir,
                       strerror(errno));
    untrack_all(w);
    free(w->tmp);
    w->tmp = NULL;
    char *slash = strrchr(w->dir, '/');
    if (!slash) return sync_dir(".", err);
    if (slash == w->dir) return sync_dir("/", err);
    *slash = 0;
    s = sync_dir(w->dir, err);
    *slash = '/';
    return s;
}

enum mw_status mw_st_writer_finish(mw_st_writer *w, mw_err *err) {
    enum mw_status s = check_open(w, false, err);
    if (s != MW_OK) goto fail;
    if (!w->frozen && (s = plan_shards(w, err)) != MW_OK) goto fail;
    if (w->next < w->n) {
        s = mw_fail(err, MW_ERR_ARG, "%s: only %zu of %zu tensors were written", w->dir, w->next,
                    w->n);
        goto fail;
    }
    /* without tensors, the one file holds only the metadata */
    if (w->n == 0 && (s = open_shard(w, 0, err)) != MW_OK) goto fail;
    if ((s = close_shard(w, err)) != MW_OK) goto fail;
    if (w->n_shards > 1 && (s = write_index(w, err)) != MW_OK) goto fail;
    s = publish(w, err);
fail:
    mw_st_writer_free(w);
    return s;
}
