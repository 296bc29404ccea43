#include "core/err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

const char *mw_version(void) {
    return MW_VERSION;
}

const char *mw_strerror(enum mw_status status) {
    switch (status) {
    case MW_OK:
        return "success";
    case MW_ERR_IO:
        return "input/output error";
    case MW_ERR_FORMAT:
        return "malformed file";
    case MW_ERR_UNSUPPORTED:
        return "unsupported";
    case MW_ERR_NOMEM:
        return "out of memory";
    case MW_ERR_ARG:
        return "invalid argument";
    case MW_ERR_NOT_FOUND:
        return "not found";
    case MW_ERR_SHAPE:
        return "wrong shape";
    case MW_ERR_NOT_AVAILABLE:
        return "not available yet";
    case MW_ERR_INTERRUPTED:
        return "interrupted";
    }
    return "unknown status";
}

/* Messages are one line: control characters from file contents are replaced. */
static void sanitize_line(char *s) {
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f) *s = '?';
}

enum mw_status mw_fail(mw_err *err, enum mw_status status, const char *fmt, ...) {
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
        sanitize_line(err->msg);
    }
    return status;
}

enum mw_status mw_fail_context(mw_err *err, enum mw_status status, const char *fmt, ...) {
    if (err) {
        char prefix[256];
        char old[sizeof err->msg];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(prefix, sizeof prefix, fmt, ap);
        va_end(ap);
        memcpy(old, err->msg, sizeof old);
        old[sizeof old - 1] = 0;
        /* truncation of a long message is acceptable: it stays one line */
        size_t n = strlen(prefix);
        if (n > sizeof err->msg - 3) n = sizeof err->msg - 3;
        memcpy(err->msg, prefix, n);
        memcpy(err->msg + n, ": ", 2);
        size_t room = sizeof err->msg - n - 3, len = strlen(old);
        if (len > room) len = room;
        memcpy(err->msg + n + 2, old, len);
        err->msg[n + 2 + len] = 0;
        sanitize_line(err->msg);
    }
    return status;
}
