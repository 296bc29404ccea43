/* Filling mw_err and returning a status in one statement. */
#ifndef MW_CORE_ERR_H
#define MW_CORE_ERR_H

#include "mwanda.h"

/* Formats a one-line message into err (if not NULL) and returns status. */
enum mw_status mw_fail(mw_err *err, enum mw_status status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Prefixes err's message with "context: ", keeping the status. */
enum mw_status mw_fail_context(mw_err *err, enum mw_status status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
