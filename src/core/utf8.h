#ifndef MW_CORE_UTF8_H
#define MW_CORE_UTF8_H

#include <stdbool.h>
#include <stddef.h>

/* Whether s[0..n) is well-formed UTF-8 (no overlongs, surrogates or code
 * points past U+10FFFF). */
bool mw_utf8_valid(const char *s, size_t n);

#endif
