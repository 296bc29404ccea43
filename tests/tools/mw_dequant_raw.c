/* mw-dequant-raw TYPE N IN.bin OUT.f32
 *
 * Dequantizes N elements of TYPE (a name such as Q4_K, or a ggml type id)
 * read from IN.bin with mw_dequantize and writes them to OUT.f32 as
 * little-endian float32. IN.bin must hold exactly the bytes of N elements.
 * Used by scripts/compare_dequant_real.py to check the library against
 * gguf-py on real models. */
#include "mwanda.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int parse_type(const char *s, enum mw_type *out) {
    char *end;
    errno = 0;
    unsigned long id = strtoul(s, &end, 10);
    if (*s && !*end && !errno) {
        if (id >= MW_TYPE_COUNT || !mw_type_name((uint32_t)id)) return 0;
        *out = (enum mw_type)id;
        return 1;
    }
    return mw_type_from_name(s, out);
}

static int fail(const char *fmt, const char *arg) {
    fprintf(stderr, "mw-dequant-raw: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\n");
    return 1;
}

int main(int argc, char **argv) {
    if (argc != 5) {
        fprintf(stderr, "usage: mw-dequant-raw TYPE N IN.bin OUT.f32\n");
        return 2;
    }
    enum mw_type type;
    if (!parse_type(argv[1], &type)) return fail("unknown type '%s'", argv[1]);
    char *end;
    errno = 0;
    unsigned long long n = strtoull(argv[2], &end, 10);
    if (!*argv[2] || *end || errno || argv[2][0] == '-') return fail("bad count '%s'", argv[2]);
    uint64_t bytes;
    if (!mw_type_row_bytes(type, n, &bytes) || n > SIZE_MAX / sizeof(float))
        return fail("N is not a whole number of blocks of %s", argv[1]);

    FILE *in = fopen(argv[3], "rb");
    if (!in) return fail("cannot open '%s'", argv[3]);
    uint8_t *src = malloc(bytes ? bytes : 1);
    float *dst = malloc(n ? n * sizeof(float) : 1);
    if (!src || !dst) return fail("out of memory%s", "");
    size_t got = fread(src, 1, bytes, in);
    int extra = fgetc(in) != EOF;
    fclose(in);
    if (got != bytes || extra) return fail("'%s' does not hold exactly N elements", argv[3]);

    mw_err err = {{0}};
    if (mw_dequantize(type, src, dst, n, &err) != MW_OK) return fail("%s", err.msg);

    FILE *out = fopen(argv[4], "wb");
    if (!out) return fail("cannot create '%s'", argv[4]);
    size_t put = fwrite(dst, sizeof(float), n, out);
    if (fclose(out) != 0 || put != n) return fail("cannot write '%s'", argv[4]);
    free(src);
    free(dst);
    return 0;
}
