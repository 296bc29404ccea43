#include "prune/prune.h"

#include "core/err.h"

#include <stdio.h>
#include <string.h>

/* A decimal number of at most 9 digits at *s, advancing *s; -1 if none. */
static long parse_digits(const char **s) {
    long v = 0;
    int n = 0;
    for (; **s >= '0' && **s <= '9'; (*s)++, n++) {
        if (n == 9) return -1;
        v = v * 10 + (**s - '0');
    }
    return n ? v : -1;
}

enum mw_status mw_pattern_parse(const char *text, mw_pattern *out, mw_err *err) {
    if (!text || !out) return mw_fail(err, MW_ERR_ARG, "pattern: no text");
    if (strcmp(text, "unstructured") == 0) {
        *out = (mw_pattern){0, 0};
        return MW_OK;
    }
    const char *s = text;
    long n = parse_digits(&s);
    long m = -1;
    if (n >= 0 && *s == ':') {
        s++;
        m = parse_digits(&s);
    }
    if (n < 0 || m < 0 || *s != '\0')
        return mw_fail(err, MW_ERR_ARG,
                       "pattern '%.64s': expected 'unstructured' or N:M such as 2:4 or 4:8", text);
    if (n < 1 || n >= m || m > MW_PATTERN_MAX_M)
        return mw_fail(err, MW_ERR_ARG, "pattern '%.64s': N:M needs 0 < N < M <= %d", text,
                       MW_PATTERN_MAX_M);
    *out = (mw_pattern){(int)n, (int)m};
    return MW_OK;
}

void mw_pattern_format(mw_pattern p, char *buf, size_t size) {
    if (p.m == 0)
        snprintf(buf, size, "unstructured");
    else
        snprintf(buf, size, "%d:%d", p.n, p.m);
}

double mw_pattern_sparsity(mw_pattern p) {
    return p.m ? (double)p.n / (double)p.m : 0.0;
}
