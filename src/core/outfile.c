#include "core/outfile.h"

#include "core/err.h"
#include "core/pending.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

enum mw_status mw_outfile_open(mw_outfile *o, const char *path, enum mw_outfile_kind kind,
                               mw_err *err) {
    memset(o, 0, sizeof *o);
    o->pending = -1;
    size_t n = strlen(path);
    o->path = strdup(path);
    o->tmp_path = malloc(n + 16);
    if (!o->path || !o->tmp_path) {
        mw_outfile_abort(o);
        return mw_fail(err, MW_ERR_NOMEM, "out of memory");
    }
    snprintf(o->tmp_path, n + 16, "%s.tmp-XXXXXX", path);
    int fd = mkstemp(o->tmp_path);
    if (fd < 0) {
        int e = errno;
        free(o->tmp_path);
        o->tmp_path = NULL;
        mw_outfile_abort(o);
        return mw_fail(err, MW_ERR_IO, "cannot create %s: %s", path, strerror(e));
    }
    if (kind == MW_OUTFILE_OUTPUT) o->pending = mw_pending_add(o->tmp_path);
    /* mkstemp makes the file private; outputs get the usual permissions */
    mode_t mask = umask(0);
    umask(mask);
    fchmod(fd, 0666 & ~mask);
    o->f = fdopen(fd, "wb");
    if (!o->f) {
        close(fd);
        mw_outfile_abort(o);
        return mw_fail(err, MW_ERR_IO, "cannot open %s for writing", path);
    }
    setvbuf(o->f, NULL, _IOFBF, 1 << 20);
    return MW_OK;
}

enum mw_status mw_outfile_write(mw_outfile *o, const void *data, uint64_t n, mw_err *err) {
    if (n && fwrite(data, 1, n, o->f) != n)
        return mw_fail(err, MW_ERR_IO, "cannot write %s: %s", o->path, strerror(errno));
    o->pos += n;
    return MW_OK;
}

enum mw_status mw_outfile_pad(mw_outfile *o, uint64_t n, mw_err *err) {
    static const char zeros[64];
    while (n) {
        uint64_t k = n < sizeof zeros ? n : sizeof zeros;
        enum mw_status s = mw_outfile_write(o, zeros, k, err);
        if (s) return s;
        n -= k;
    }
    return MW_OK;
}

enum mw_status mw_outfile_commit(mw_outfile *o, mw_err *err) {
    enum mw_status s = MW_OK;
    if (fflush(o->f) != 0 || fsync(fileno(o->f)) != 0)
        s = mw_fail(err, MW_ERR_IO, "cannot write %s: %s", o->path, strerror(errno));
    if (fclose(o->f) != 0 && !s)
        s = mw_fail(err, MW_ERR_IO, "cannot write %s: %s", o->path, strerror(errno));
    o->f = NULL;
    if (!s && rename(o->tmp_path, o->path) != 0)
        s = mw_fail(err, MW_ERR_IO, "cannot rename into %s: %s", o->path, strerror(errno));
    if (!s) {
        free(o->tmp_path);
        o->tmp_path = NULL;
    }
    mw_outfile_abort(o);
    return s;
}

void mw_outfile_abort(mw_outfile *o) {
    if (o->f) fclose(o->f);
    if (o->tmp_path) unlink(o->tmp_path);
    mw_pending_drop(o->pending);
    free(o->tmp_path);
    free(o->path);
    memset(o, 0, sizeof *o);
    o->pending = -1; /* a second abort must not drop another output's slot */
}
