/* Tests of mw_dequantize against golden files made with gguf-py
 * (scripts/gen_dequant_golden.py), of its error paths, and of the 16-bit
 * float conversions of types.c against independent references. */
#include "check.h"
#include "mwanda.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint32_t fbits(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

static float bitsf(uint32_t u) {
    float f;
    memcpy(&f, &u, 4);
    return f;
}

/* Deterministic xorshift generator for the random inputs. */
static uint64_t rng_state = 0x9e3779b97f4a7c15u;
static uint64_t rnd(void) {
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static void fill_random(uint8_t *p, size_t n) {
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)(rnd() >> 24);
}

static uint8_t *read_file(const char *path, size_t *size) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    uint8_t *buf = NULL;
    if (fseek(f, 0, SEEK_END) == 0) {
        long len = ftell(f);
        if (len >= 0 && fseek(f, 0, SEEK_SET) == 0) {
            buf = malloc((size_t)len + 1);
            if (buf && fread(buf, 1, (size_t)len, f) != (size_t)len) {
                free(buf);
                buf = NULL;
            }
            *size = (size_t)len;
        }
    }
    fclose(f);
    return buf;
}

static uint32_t rd_u32(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Compares bit for bit, any NaN equal to any NaN; returns the mismatches
 * and the largest absolute difference of the non-NaN pairs. */
static uint64_t compare(const float *got, const float *want, uint64_t n, const char *what,
                        double *maxdiff) {
    uint64_t bad = 0;
    *maxdiff = 0;
    for (uint64_t i = 0; i < n; i++) {
        if (isnan(got[i]) && isnan(want[i])) continue;
        if (fbits(got[i]) == fbits(want[i])) continue;
        double d = isnan(got[i]) || isnan(want[i]) ? INFINITY : fabs((double)got[i] - want[i]);
        if (!(d <= *maxdiff)) *maxdiff = d;
        if (bad++ < 5)
            printf("  %s[%llu]: got %.9g (0x%08x), want %.9g (0x%08x)\n", what,
                   (unsigned long long)i, got[i], fbits(got[i]), want[i], fbits(want[i]));
    }
    return bad;
}

/* One golden file: header, source bytes, expected f32 values. */
static void test_golden(const char *datadir, uint32_t type) {
    const char *name = mw_type_name(type);
    char path[4096];
    snprintf(path, sizeof path, "%s/dequant/%s.bin", datadir, name);
    size_t size = 0;
    uint8_t *buf = read_file(path, &size);
    if (!buf) {
        CHECK(0, "%s: cannot read %s", name, path);
        return;
    }
    uint32_t n = size >= 20 ? rd_u32(buf + 12) : 0, m = size >= 20 ? rd_u32(buf + 16) : 0;
    if (size < 20 || memcmp(buf, "MWDQ", 4) != 0 || rd_u32(buf + 4) != 1 ||
        rd_u32(buf + 8) != type || size != 20 + (uint64_t)m + 4ull * n) {
        CHECK(0, "%s: %s is not a version 1 golden file of this type", name, path);
        free(buf);
        return;
    }
    uint64_t bytes = 0;
    CHECK(mw_type_row_bytes(type, n, &bytes) && bytes == m, "%s: golden sizes", name);
    float *want = malloc(4ull * n), *got = malloc(4ull * n);
    uint8_t *odd = malloc((size_t)m + 1);
    memcpy(want, buf + 20 + m, 4ull * n);
    mw_err err = {{0}};
    enum mw_status st = mw_dequantize(type, buf + 20, got, n, &err);
    CHECK(st == MW_OK, "%s: mw_dequantize: %s", name, err.msg);
    double maxdiff = 0;
    uint64_t bad = st == MW_OK ? compare(got, want, n, name, &maxdiff) : n;
    CHECK(bad == 0, "%s: %llu of %u values differ", name, (unsigned long long)bad, n);
    /* the same from a source at an odd address */
    memcpy(odd + 1, buf + 20, m);
    st = mw_dequantize(type, odd + 1, got, n, &err);
    double md2 = 0;
    CHECK(st == MW_OK && compare(got, want, n, name, &md2) == 0, "%s: misaligned", name);
    if (bad == 0) printf("%s: OK, %u values, maxdiff = %g\n", name, n, maxdiff);
    free(odd);
    free(got);
    free(want);
    free(buf);
}

static void test_errors(void) {
    mw_err err = {{0}};
    float out[512];
    uint8_t in[1024] = {0};
    enum mw_status st = mw_dequantize(MW_TYPE_Q4_K, in, out, 255, &err);
    CHECK(st == MW_ERR_ARG, "Q4_K n=255 gave %d", st);
    CHECK(strstr(err.msg, "Q4_K") && !strchr(err.msg, '\n'), "message: '%s'", err.msg);
    st = mw_dequantize(MW_TYPE_Q8_0, in, out, 33, &err);
    CHECK(st == MW_ERR_ARG, "Q8_0 n=33 gave %d", st);
    st = mw_dequantize(MW_TYPE_Q8_0, in, out, 0, &err);
    CHECK(st == MW_OK, "n=0 gave %d", st);
    st = mw_dequantize(MW_TYPE_Q8_0, NULL, out, 32, &err);
    CHECK(st == MW_ERR_ARG, "NULL source gave %d", st);
    st = mw_dequantize(MW_TYPE_Q4_K, in, out, UINT64_MAX - 255, &err);
    CHECK(st == MW_ERR_ARG && strstr(err.msg, "too many"), "overflowing n gave %d", st);

    err.msg[0] = 0;
    st = mw_dequantize(MW_TYPE_IQ2_XXS, in, out, 256, &err);
    CHECK(st == MW_ERR_UNSUPPORTED, "IQ2_XXS gave %d", st);
    CHECK(strstr(err.msg, "IQ2_XXS") != NULL, "message: '%s'", err.msg);
    st = mw_dequantize((enum mw_type)4, in, out, 32, &err);
    CHECK(st == MW_ERR_UNSUPPORTED, "retired id 4 gave %d", st);
    st = mw_dequantize((enum mw_type)1000, in, out, 32, NULL);
    CHECK(st == MW_ERR_UNSUPPORTED, "id 1000 (NULL err) gave %d", st);
    CHECK(!mw_type_can_dequantize(1000) && !mw_type_can_dequantize(MW_TYPE_Q8_1),
          "can_dequantize of unknown types");
    CHECK(mw_type_can_dequantize(MW_TYPE_Q4_K) && mw_type_can_dequantize(MW_TYPE_BF16),
          "can_dequantize of known types");
    printf("errors: OK\n");
}

/* A large tensor converted in one call and in runs of 97 blocks (as a
 * caller splitting work among threads would) gives the same bits; random
 * garbage must not crash (the sanitizer build checks the reads). */
static void test_pieces_and_garbage(void) {
    for (uint32_t t = 0; t < MW_TYPE_COUNT; t++) {
        if (!mw_type_can_dequantize(t)) continue;
        uint32_t be = mw_type_block_elems(t), bb = mw_type_block_bytes(t);
        uint64_t nb = (600000 + be - 1) / be + 3; /* pieces and a shorter tail */
        uint8_t *in = malloc(nb * bb);
        float *all = malloc(nb * be * 4), *one = malloc(nb * be * 4);
        fill_random(in, nb * bb);
        mw_err err;
        enum mw_status st = mw_dequantize(t, in, all, nb * be, &err);
        for (uint64_t b = 0; b < nb && st == MW_OK; b += 97) {
            uint64_t cnt = nb - b < 97 ? nb - b : 97;
            st = mw_dequantize(t, in + b * bb, one + b * be, cnt * be, &err);
        }
        double md;
        CHECK(st == MW_OK && compare(all, one, nb * be, mw_type_name(t), &md) == 0,
              "%s: whole and piecewise results differ", mw_type_name(t));
        free(in);
        free(all);
        free(one);
    }
    printf("whole/piecewise on random data: OK\n");
}

/* ---- 16-bit float conversions, against references built from fields ---- */

/* Value of an f16 pattern computed in double from sign, exponent and
 * mantissa; the inf pattern counts as 2^16, the next step after 65504. */
static double f16_value(uint16_t h) {
    int e = (h >> 10) & 31, m = h & 1023;
    double v = e == 0 ? ldexp(m, -24) : ldexp(1024 + m, e - 25);
    return h & 0x8000 ? -v : v;
}

static double bf16_value(uint16_t h) {
    int e = (h >> 7) & 255, m = h & 127;
    double v = e == 0 ? ldexp(m, -133) : ldexp(128 + m, e - 134);
    return h & 0x8000 ? -v : v;
}

static void test_16bit_to_f32(void) {
    int bad = 0;
    for (uint32_t i = 0; i < 65536; i++) {
        uint16_t h = (uint16_t)i;
        uint32_t sign = (uint32_t)(h & 0x8000) << 16;
        /* inf and NaN: exponent all ones, payload moved up, sign kept */
        uint32_t w16 = ((h >> 10) & 31) == 31 ? sign | 0x7f800000u | (uint32_t)(h & 1023) << 13
                                              : fbits((float)f16_value(h));
        uint32_t wbf = ((h >> 7) & 255) == 255 ? (uint32_t)h << 16 : fbits((float)bf16_value(h));
        if (fbits(mw_f16_to_f32(h)) != w16 && bad++ < 5) printf("  f16 0x%04x\n", h);
        if (fbits(mw_bf16_to_f32(h)) != wbf && bad++ < 5) printf("  bf16 0x%04x\n", h);
    }
    CHECK(bad == 0, "%d 16-bit patterns convert wrongly to f32", bad);

    /* mw_dequantize's own F16/BF16 loops agree with types.c on all patterns */
    uint16_t *all = malloc(65536 * 2);
    float *out = malloc(65536 * 4), *ref = malloc(65536 * 4);
    for (uint32_t i = 0; i < 65536; i++)
        all[i] = (uint16_t)i;
    double md;
    for (uint32_t i = 0; i < 65536; i++)
        ref[i] = mw_f16_to_f32(all[i]);
    CHECK(mw_dequantize(MW_TYPE_F16, all, out, 65536, NULL) == MW_OK, "F16");
    for (uint32_t i = 0; i < 65536; i++)
        if (fbits(out[i]) != fbits(ref[i])) bad++; /* NaN payloads too */
    for (uint32_t i = 0; i < 65536; i++)
        ref[i] = mw_bf16_to_f32(all[i]);
    CHECK(mw_dequantize(MW_TYPE_BF16, all, out, 65536, NULL) == MW_OK, "BF16");
    bad += (int)compare(out, ref, 65536, "bf16", &md);
    CHECK(bad == 0, "mw_dequantize F16/BF16 differ from types.c");
    free(all);
    free(out);
    free(ref);
    printf("f16/bf16 -> f32, all 65536 patterns: OK\n");
}

/* Round to nearest even by search: the largest finite pattern not above |f|
 * and the next one up, compared through 2|f| against their sum (exact in
 * double). The f16 inf pattern stands for 65536, bf16's for 2^128. */
static uint16_t ref_round(float f, double (*value)(uint16_t), uint16_t inf) {
    uint16_t sign = signbit(f) ? 0x8000 : 0;
    double a = fabs((double)f);
    if (a >= value(inf)) return sign | inf;
    uint32_t lo = 0, hi = inf; /* value(lo) <= a < value(hi) */
    while (hi - lo > 1) {
        uint32_t mid = (lo + hi) / 2;
        if (value((uint16_t)mid) <= a)
            lo = mid;
        else
            hi = mid;
    }
    double sum = value((uint16_t)lo) + value((uint16_t)hi);
    uint32_t r = 2 * a < sum ? lo : 2 * a > sum ? hi : (lo & 1 ? hi : lo);
    return sign | (uint16_t)r;
}

static double f16_or_inf(uint16_t h) {
    return h == 0x7c00 ? 65536.0 : f16_value(h);
}
static double bf16_or_inf(uint16_t h) {
    return h == 0x7f80 ? ldexp(1, 128) : bf16_value(h);
}

static int check_round(float f) {
    int bad = 0;
    uint16_t h = mw_f32_to_f16(f), b = mw_f32_to_bf16(f);
    if (isnan(f)) {
        /* any NaN will do, as long as it is one and keeps the sign */
        bad += !((h & 0x7c00) == 0x7c00 && (h & 0x3ff) && (h >> 15) == (fbits(f) >> 31));
        bad += !((b & 0x7f80) == 0x7f80 && (b & 0x7f) && (b >> 15) == (fbits(f) >> 31));
    } else {
        bad += h != ref_round(f, f16_or_inf, 0x7c00);
        bad += b != ref_round(f, bf16_or_inf, 0x7f80);
    }
    static int printed;
    if (bad && printed++ < 8) printf("  rounding %.9g (0x%08x)\n", f, fbits(f));
    return bad;
}

static int check_around(float v) {
    int bad = 0;
    float cases[3] = {v, nextafterf(v, INFINITY), nextafterf(v, -INFINITY)};
    for (int i = 0; i < 3; i++)
        bad += check_round(cases[i]) + check_round(-cases[i]);
    return bad;
}

static void test_f32_to_16bit(void) {
    int bad = 0;
    /* every representable value and every halfway point between neighbours
     * (exact in f32 for both formats), with the f32 values just beside */
    for (uint32_t p = 0; p < 0x7c00; p++) {
        double v = f16_value((uint16_t)p), w = f16_or_inf((uint16_t)(p + 1));
        bad += check_around((float)v) + check_around((float)((v + w) / 2));
    }
    for (uint32_t p = 0; p < 0x7f80; p++) {
        bad += check_around(bitsf(p << 16)) + check_around(bitsf(p << 16 | 0x8000));
    }
    static const float tricky[] = {65504.0f, 65519.99f, 65520.0f,  65536.0f,   3.4028235e38f,
                                   INFINITY, 0x1p-24f,  0x1p-25f,  0x1.8p-25f, 0x1p-26f,
                                   1e-30f,   0x1p-149f, 0x1p-126f, 0.1f,       1.0f / 3};
    for (size_t i = 0; i < sizeof tricky / sizeof *tricky; i++)
        bad += check_around(tricky[i]);
    static const uint32_t nans[] = {0x7fc00000, 0xffc00000, 0x7f800001, 0xff800001,
                                    0x7fbfffff, 0x7f802000, 0x7fffffff, 0xffffffff};
    for (size_t i = 0; i < sizeof nans / sizeof *nans; i++)
        bad += check_round(bitsf(nans[i]));
    for (int i = 0; i < 1000000; i++)
        bad += check_round(bitsf((uint32_t)rnd()));
    CHECK(bad == 0, "%d f32 -> f16/bf16 roundings wrong", bad);
    /* exactly representable values come back unchanged */
    for (uint32_t i = 0; i < 65536; i++) {
        uint16_t h = (uint16_t)i;
        if (!isnan(mw_f16_to_f32(h))) bad += mw_f32_to_f16(mw_f16_to_f32(h)) != h;
        if (!isnan(mw_bf16_to_f32(h))) bad += mw_f32_to_bf16(mw_bf16_to_f32(h)) != h;
    }
    CHECK(bad == 0, "%d 16-bit values do not round-trip", bad);
    printf("f32 -> f16/bf16 rounding: OK\n");
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: %s TESTS_DATA_DIR\n", argv[0]);
        return 2;
    }
    int n_types = 0;
    for (uint32_t t = 0; t < MW_TYPE_COUNT; t++) {
        if (!mw_type_can_dequantize(t)) continue;
        test_golden(argv[1], t);
        n_types++;
    }
    CHECK(n_types >= 13, "only %d types can be dequantized", n_types);
    test_errors();
    test_pieces_and_garbage();
    test_16bit_to_f32();
    test_f32_to_16bit();
    if (g_failures) printf("%d FAILURES\n", g_failures);
    return g_failures ? 1 : 0;
}
