/* The little Unicode the tokenizers need beyond PCRE2 and utf8proc: UTF-8 steps, the
 * White_Space set, and GPT-2's mapping of bytes to printable characters. */
#include "tok/tok.h"

#include <pthread.h>

uint32_t tok_utf8_decode(const char *str, size_t *len) {
    const unsigned char *s = (const unsigned char *)str;
    size_t n = tok_utf8_len(s[0]);
    uint32_t cp = n == 1 ? s[0] : n == 2 ? s[0] & 0x1fu : n == 3 ? s[0] & 0x0fu : s[0] & 0x07u;
    for (size_t k = 1; k < n; k++)
        cp = cp << 6 | (s[k] & 0x3fu);
    *len = n;
    return cp;
}

size_t tok_utf8_encode(uint32_t cp, char *out) {
    unsigned char *o = (unsigned char *)out;
    if (cp < 0x80) {
        o[0] = (unsigned char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (unsigned char)(0xc0 | cp >> 6);
        o[1] = (unsigned char)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (unsigned char)(0xe0 | cp >> 12);
        o[1] = (unsigned char)(0x80 | (cp >> 6 & 0x3f));
        o[2] = (unsigned char)(0x80 | (cp & 0x3f));
        return 3;
    }
    o[0] = (unsigned char)(0xf0 | cp >> 18);
    o[1] = (unsigned char)(0x80 | (cp >> 12 & 0x3f));
    o[2] = (unsigned char)(0x80 | (cp >> 6 & 0x3f));
    o[3] = (unsigned char)(0x80 | (cp & 0x3f));
    return 4;
}

bool tok_is_space(uint32_t cp) {
    if (cp < 0x80) return (cp >= 0x09 && cp <= 0x0d) || cp == 0x20;
    return cp == 0x85 || cp == 0xa0 || cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200a) ||
           cp == 0x2028 || cp == 0x2029 || cp == 0x202f || cp == 0x205f || cp == 0x3000;
}

/* GPT-2 keeps the printable bytes of Latin-1 as they are and moves the other 68 (controls,
 * space, DEL, NBSP, soft hyphen) to U+0100.. in byte order, so that every byte is a visible
 * character of a vocabulary. */
static bool byte_kept(unsigned b) {
    return (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae);
}

static uint32_t byte_cp(unsigned b) {
    if (byte_kept(b)) return b;
    uint32_t k = 0;
    for (unsigned c = 0; c < b; c++)
        k += !byte_kept(c);
    return 0x100 + k;
}

static char byte_table[256][3];
static unsigned char byte_lens[256];
static int16_t cp_byte[0x100 + 68]; /* code point -> byte, -1 */
static pthread_once_t byte_once = PTHREAD_ONCE_INIT;

static void fill_byte_table(void) {
    for (unsigned c = 0; c < sizeof cp_byte / sizeof *cp_byte; c++)
        cp_byte[c] = -1;
    for (unsigned c = 0; c < 256; c++) {
        byte_lens[c] = (unsigned char)tok_utf8_encode(byte_cp(c), byte_table[c]);
        cp_byte[byte_cp(c)] = (int16_t)c;
    }
}

const char *tok_byte_char(unsigned char b, size_t *len) {
    pthread_once(&byte_once, fill_byte_table);
    *len = byte_lens[b];
    return byte_table[b];
}

int tok_char_byte(const char *s, size_t n) {
    size_t len;
    if (n == 0 || tok_utf8_len((unsigned char)s[0]) != n) return -1;
    uint32_t cp = tok_utf8_decode(s, &len);
    pthread_once(&byte_once, fill_byte_table);
    return cp < sizeof cp_byte / sizeof *cp_byte ? cp_byte[cp] : -1;
}

size_t tok_utf8_check(const char *str, size_t n) {
    const unsigned char *s = (const unsigned char *)str;
    for (size_t i = 0; i < n;) {
        unsigned c = s[i];
        size_t need = c < 0x80                 ? 1
                      : c >= 0xc2 && c <= 0xdf ? 2
                      : c >= 0xe0 && c <= 0xef ? 3
                      : c >= 0xf0 && c <= 0xf4 ? 4
                                               : 0;
        if (need == 0 || need > n - i) return i;
        for (size_t k = 1; k < need; k++) {
            unsigned lo = 0x80, hi = 0xbf, b = s[i + k];
            /* no overlongs, no surrogates, nothing past U+10FFFF */
            if (k == 1 && c == 0xe0) lo = 0xa0;
            if (k == 1 && c == 0xed) hi = 0x9f;
            if (k == 1 && c == 0xf0) lo = 0x90;
            if (k == 1 && c == 0xf4) hi = 0x8f;
            if (b < lo || b > hi) return i;
        }
        i += need;
    }
    return SIZE_MAX;
}
