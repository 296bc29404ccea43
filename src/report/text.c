#include "report/text.h"

#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void mw_text_free(mw_text *t) {
    free(t->s);
    *t = (mw_text){0};
}

static bool reserve(mw_text *t, size_t extra) {
    if (t->oom) return false;
    if (extra < t->cap - t->len) return true;
    size_t cap = t->cap ? t->cap : 4096;
    while (cap - t->len <= extra) {
        if (cap > SIZE_MAX / 2) {
            t->oom = true;
            return false;
        }
        cap *= 2;
    }
    char *p = realloc(t->s, cap);
    if (!p) {
        t->oom = true;
        return false;
    }
    t->s = p;
    t->cap = cap;
    return true;
}

void mw_text_putn(mw_text *t, const char *s, size_t n) {
    if (!reserve(t, n)) return;
    memcpy(t->s + t->len, s, n);
    t->len += n;
    t->s[t->len] = '\0';
}

void mw_text_put(mw_text *t, const char *s) {
    mw_text_putn(t, s, strlen(s));
}

void mw_text_printf(mw_text *t, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || !reserve(t, (size_t)n)) {
        t->oom = true;
        return;
    }
    va_start(ap, fmt);
    vsnprintf(t->s + t->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    t->len += (size_t)n;
}

void mw_fmt_num(char *buf, size_t size, double x, int decimals) {
    if (isnan(x)) {
        snprintf(buf, size, "nan");
        return;
    }
    if (isinf(x)) {
        snprintf(buf, size, x < 0 ? "-inf" : "inf");
        return;
    }
    if (decimals < 0) decimals = 0;
    if (decimals > 9) decimals = 9;
    long long scale = 1;
    for (int i = 0; i < decimals; i++)
        scale *= 10;
    /* the whole value in units of the last digit, as an integral double:
     * "%.0f" of an integral value has no decimal point for a locale to change */
    double units = round(fabs(x) * (double)scale);
    double whole = floor(units / (double)scale);
    long long frac = (long long)(units - whole * (double)scale);
    if (frac < 0) frac = 0; /* guards against rounding at huge magnitudes */
    if (frac >= scale) frac = scale - 1;
    const char *sign = x < 0 && units > 0 ? "-" : "";
    if (decimals)
        snprintf(buf, size, "%s%.0f.%0*lld", sign, whole, decimals, frac);
    else
        snprintf(buf, size, "%s%.0f", sign, whole);
}

void mw_text_num(mw_text *t, double x, int decimals) {
    char buf[400]; /* "%.0f" of DBL_MAX is 309 digits */
    mw_fmt_num(buf, sizeof buf, x, decimals);
    mw_text_put(t, buf);
}

void mw_text_coord(mw_text *t, double x, int decimals) {
    char buf[400];
    mw_fmt_num(buf, sizeof buf, x, decimals);
    char *dot = strchr(buf, '.');
    if (dot) {
        char *end = buf + strlen(buf);
        while (end > dot + 1 && end[-1] == '0')
            *--end = '\0';
        if (end == dot + 1) *dot = '\0';
    }
    if (strcmp(buf, "-0") == 0) strcpy(buf, "0");
    mw_text_put(t, buf);
}

void mw_text_xml(mw_text *t, const char *s) {
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        switch (c) {
        case '&':
            mw_text_put(t, "&amp;");
            break;
        case '<':
            mw_text_put(t, "&lt;");
            break;
        case '>':
            mw_text_put(t, "&gt;");
            break;
        case '"':
            mw_text_put(t, "&quot;");
            break;
        case '\'':
            mw_text_put(t, "&apos;");
            break;
        default:
            if (c < 0x20 || c == 0x7f)
                mw_text_putn(t, " ", 1);
            else
                mw_text_putn(t, s, 1);
        }
    }
}

void mw_text_md(mw_text *t, const char *s) {
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c < 0x20 || c == 0x7f)
            mw_text_putn(t, " ", 1);
        else if (strchr("\\`*_[]<>|#!~&", c)) {
            mw_text_putn(t, "\\", 1);
            mw_text_putn(t, s, 1);
        } else
            mw_text_putn(t, s, 1);
    }
}
