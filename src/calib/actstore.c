/* The activation store. The leading windows of each slot live in RAM, the
 * others in one file at a fixed place each, so a group of windows is one
 * pread or pwrite and the kernel's page cache (not our resident memory)
 * keeps whatever of the file it can. */
#include "calib/actstore.h"

#include "core/err.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Largest single read or write: Linux moves at most about 2 GiB per call. */
#define IO_CHUNK ((size_t)1 << 30)

struct mw_actstore {
    int64_t n_items, item_floats, ram_items;
    int n_slots;
    uint64_t item_bytes;
    float *ram[2]; /* [ram_items][item_floats] per slot */
    int fd;        /* -1 when every window is in RAM */
    char *path;    /* for messages */
};

static bool mul_u64(uint64_t a, uint64_t b, uint64_t *out) {
    if (a && b > UINT64_MAX / a) return false;
    *out = a * b;
    return true;
}

static enum mw_status open_file(mw_actstore *s, const mw_actstore_opts *o, uint64_t size,
                                mw_err *err) {
    char buf[4096];
    if (o->path) {
        if ((size_t)snprintf(buf, sizeof buf, "%s", o->path) >= sizeof buf)
            return mw_fail(err, MW_ERR_ARG, "path too long: %s", o->path);
        s->fd = open(buf, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    } else {
        const char *dir = o->dir && *o->dir ? o->dir : ".";
        if ((size_t)snprintf(buf, sizeof buf, "%s/mwanda-activations-XXXXXX", dir) >= sizeof buf)
            return mw_fail(err, MW_ERR_ARG, "path too long: %s", dir);
        s->fd = mkstemp(buf);
        /* unlinked at once: the file lives as long as the descriptor, so no
         * exit, crash or kill can leave it behind */
        if (s->fd >= 0) unlink(buf);
    }
    s->path = strdup(buf);
    if (!s->path) return mw_fail(err, MW_ERR_NOMEM, "out of memory");
    if (s->fd < 0)
        return mw_fail(err, MW_ERR_IO, "cannot create the activation file %s: %s", buf,
                       strerror(errno));
    struct stat sb;
    if (fstat(s->fd, &sb) != 0) return mw_fail(err, MW_ERR_IO, "%s: %s", s->path, strerror(errno));
    if (sb.st_size != 0 && (uint64_t)sb.st_size != size)
        return mw_fail(err, MW_ERR_FORMAT, "activation file %s holds %lld bytes, not %llu", s->path,
                       (long long)sb.st_size, (unsigned long long)size);
    if (sb.st_size == 0 && ftruncate(s->fd, (off_t)size) != 0)
        return mw_fail(err, MW_ERR_IO, "cannot size the activation file %s to %llu bytes: %s",
                       s->path, (unsigned long long)size, strerror(errno));
    return MW_OK;
}

enum mw_status mw_actstore_open(const mw_actstore_opts *o, mw_actstore **out, mw_err *err) {
    *out = NULL;
    /* no items is fine: a process of an MPI run may have no windows */
    if (o->n_items < 0 || o->item_floats < 1 || o->n_slots < 1 || o->n_slots > 2 ||
        o->ram_items < 0)
        return mw_fail(err, MW_ERR_ARG, "activation store: bad shape");
    mw_actstore *s = calloc(1, sizeof *s);
    if (!s) return mw_fail(err, MW_ERR_NOMEM, "out of memory");
    s->fd = -1;
    s->n_items = o->n_items;
    s->item_floats = o->item_floats;
    s->n_slots = o->n_slots;
    s->ram_items = o->ram_items < o->n_items ? o->ram_items : o->n_items;
    enum mw_status st = MW_OK;
    uint64_t ram_bytes, file_bytes;
    if (!mul_u64((uint64_t)o->item_floats, sizeof(float), &s->item_bytes) ||
        !mul_u64(s->item_bytes, (uint64_t)s->ram_items, &ram_bytes) ||
        !mul_u64(s->item_bytes, (uint64_t)(s->n_items - s->ram_items), &file_bytes) ||
        !mul_u64(file_bytes, (uint64_t)s->n_slots, &file_bytes) || ram_bytes > SIZE_MAX - 64 ||
        file_bytes > (uint64_t)INT64_MAX) {
        st = mw_fail(err, MW_ERR_ARG, "activation store: size overflows");
        goto fail;
    }
    for (int k = 0; k < s->n_slots && ram_bytes; k++) {
        /* a multiple of the alignment, as aligned_alloc wants */
        s->ram[k] = aligned_alloc(64, (size_t)(ram_bytes + 63) / 64 * 64);
        if (!s->ram[k]) {
            st = mw_fail(err, MW_ERR_NOMEM, "out of memory for %llu bytes of activations",
                         (unsigned long long)ram_bytes);
            goto fail;
        }
    }
    if (file_bytes && (st = open_file(s, o, file_bytes, err))) goto fail;
    *out = s;
    return MW_OK;
fail:
    mw_actstore_close(s);
    return st;
}

void mw_actstore_close(mw_actstore *s) {
    if (!s) return;
    free(s->ram[0]);
    free(s->ram[1]);
    if (s->fd >= 0) close(s->fd);
    free(s->path);
    free(s);
}

float *mw_actstore_ram(mw_actstore *s, int slot, int64_t first, int64_t n) {
    if (slot < 0 || slot >= s->n_slots || first < 0 || n < 0 || first + n > s->ram_items)
        return NULL;
    return s->ram[slot] + first * s->item_floats;
}

static off_t file_offset(const mw_actstore *s, int slot, int64_t item) {
    int64_t per_slot = s->n_items - s->ram_items;
    return (off_t)(((uint64_t)slot * (uint64_t)per_slot + (uint64_t)(item - s->ram_items)) *
                   s->item_bytes);
}

static enum mw_status file_io(mw_actstore *s, bool write, off_t off, void *p, uint64_t n,
                              mw_err *err) {
    char *b = p;
    while (n > 0) {
        size_t k = n < IO_CHUNK ? (size_t)n : IO_CHUNK;
        ssize_t r = write ? pwrite(s->fd, b, k, off) : pread(s->fd, b, k, off);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0)
            return mw_fail(err, MW_ERR_IO, "cannot %s the activation file %s: %s",
                           write ? "write" : "read", s->path,
                           r == 0 ? "it is shorter than expected" : strerror(errno));
        b += r;
        off += r;
        n -= (uint64_t)r;
    }
    return MW_OK;
}

/* Windows in RAM go by memcpy, the rest by one file call. */
static enum mw_status transfer(mw_actstore *s, bool write, int slot, int64_t first, int64_t n,
                               float *buf, mw_err *err) {
    if (slot < 0 || slot >= s->n_slots || first < 0 || n < 0 || first > s->n_items - n)
        return mw_fail(err, MW_ERR_ARG, "activation store: windows %lld+%lld of slot %d",
                       (long long)first, (long long)n, slot);
    int64_t in_ram = first < s->ram_items ? s->ram_items - first : 0;
    if (in_ram > n) in_ram = n;
    if (in_ram > 0) {
        float *r = s->ram[slot] + first * s->item_floats;
        size_t bytes = (size_t)((uint64_t)in_ram * s->item_bytes);
        if (write)
            memcpy(r, buf, bytes);
        else
            memcpy(buf, r, bytes);
    }
    if (in_ram == n) return MW_OK;
    return file_io(s, write, file_offset(s, slot, first + in_ram), buf + in_ram * s->item_floats,
                   (uint64_t)(n - in_ram) * s->item_bytes, err);
}

enum mw_status mw_actstore_read(mw_actstore *s, int slot, int64_t first, int64_t n, float *dst,
                                mw_err *err) {
    return transfer(s, false, slot, first, n, dst, err);
}

enum mw_status mw_actstore_write(mw_actstore *s, int slot, int64_t first, int64_t n,
                                 const float *src, mw_err *err) {
    return transfer(s, true, slot, first, n, (float *)src, err);
}

enum mw_status mw_actstore_sync(mw_actstore *s, mw_err *err) {
    if (s->fd >= 0 && fdatasync(s->fd) != 0)
        return mw_fail(err, MW_ERR_IO, "cannot sync the activation file %s: %s", s->path,
                       strerror(errno));
    return MW_OK;
}

uint64_t mw_actstore_ram_bytes(const mw_actstore *s) {
    return (uint64_t)s->ram_items * s->item_bytes * (uint64_t)s->n_slots;
}

uint64_t mw_actstore_file_bytes(const mw_actstore *s) {
    return (uint64_t)(s->n_items - s->ram_items) * s->item_bytes * (uint64_t)s->n_slots;
}
