/* Text output for the report: a growing buffer, numbers written the same way
 * on every machine (no locale, fixed decimals), and escaping for XML and for
 * Markdown table cells. */
#ifndef MW_REPORT_TEXT_H
#define MW_REPORT_TEXT_H

#include <stdbool.h>
#include <stddef.h>

/* A buffer that grows as text is appended. An allocation failure is sticky
 * (oom) so that writers check once at the end instead of after every call. */
typedef struct mw_text {
    char *s; /* NUL-terminated, NULL until the first append */
    size_t len, cap;
    bool oom;
} mw_text;

void mw_text_free(mw_text *t);
void mw_text_putn(mw_text *t, const char *s, size_t n);
void mw_text_put(mw_text *t, const char *s);
/* printf for strings and integers only: floating-point conversions would
 * follow the locale's decimal point, so numbers go through mw_text_num. */
void mw_text_printf(mw_text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* x with exactly `decimals` digits after a '.' (0 to 9); "-0" never appears;
 * NaN and infinities are written "nan", "inf", "-inf". */
void mw_text_num(mw_text *t, double x, int decimals);
/* Like mw_text_num, trailing zeros (and a trailing '.') dropped: for SVG
 * coordinates, where "12" is as good as "12.00". */
void mw_text_coord(mw_text *t, double x, int decimals);
/* Text for XML character data or a quoted attribute: & < > " ' escaped,
 * control characters (not allowed in XML 1.0) become spaces. */
void mw_text_xml(mw_text *t, const char *s);
/* Text for a Markdown table cell: characters that Markdown would read as
 * markup or as a column break are escaped with '\', line breaks become spaces. */
void mw_text_md(mw_text *t, const char *s);

/* mw_text_num into a caller's buffer (at least 32 bytes for values below
 * 1e20; longer values are cut). */
void mw_fmt_num(char *buf, size_t size, double x, int decimals);

#endif
