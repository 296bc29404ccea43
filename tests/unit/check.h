/* The unit tests' check: a failing condition is reported with where it is
 * and counted, and the test goes on, so one run lists every failure. */
#ifndef MW_TEST_CHECK_H
#define MW_TEST_CHECK_H

#include <stdarg.h>
#include <stdio.h>

static int g_failures;

__attribute__((format(printf, 4, 5))) static inline void
check_failed(const char *file, int line, const char *cond, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "FAIL %s:%d: %s:", file, line, cond);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    g_failures++;
}

/* CHECK(cond) or CHECK(cond, "format", ...): the message follows the
 * condition's text. */
#define CHECK(cond, ...)                                                                           \
    do {                                                                                           \
        if (!(cond)) check_failed(__FILE__, __LINE__, #cond, " " __VA_ARGS__);                     \
    } while (0)

/* main's exit status: 1 when a check failed. */
static inline int check_exit(void) {
    if (g_failures) fprintf(stderr, "%d check(s) failed\n", g_failures);
    return g_failures ? 1 : 0;
}

#endif
