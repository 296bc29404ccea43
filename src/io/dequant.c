/* Conversion of ggml tensor types to f32.
 *
 * Results are meant to be bit-identical to gguf-py's numpy dequantizers
 * (gguf.quants.dequantize), which compute in float32 one operation at a
 * time. So every formula below keeps gguf-py's order of operations, e.g.
 * (d * sc) * q - (dmin * m) for Q4_K, never d * (sc * q) as ggml's C code
 * sometimes does; the build forbids FMA contraction (-ffp-contract=off).
 * Types gguf-py cannot dequantize (Q8_K, F64, integer types) follow numpy's
 * astype(float32) / float32 arithmetic.
 *
 * Each row function handles a run of whole blocks with fixed-length inner
 * loops so that the compiler vectorizes them. Any byte pattern is valid
 * input: table indices are masked nibbles, so arbitrary data cannot read out
 * of bounds (it may give inf or NaN). */
#include "core/err.h"

#include <string.h>

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "dequant.c reads GGUF's little-endian fields with memcpy: little-endian hosts only"
#endif

#define QK_K 256

static inline uint16_t rd16(const uint8_t *p) {
    uint16_t v;
    memcpy(&v, p, 2);
    return v;
}

static inline uint32_t rd32(const uint8_t *p) {
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

static inline float bits_f32(uint32_t u) {
    float f;
    memcpy(&f, &u, 4);
    return f;
}

static inline uint32_t f32_bits(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

/* f16 -> f32, exact for every bit pattern (NaN payloads kept, as numpy does).
 * Written with masks instead of branches so that F16 loops vectorize; the
 * unit test checks it against mw_f16_to_f32 on all 65536 patterns. */
static inline float h2f(uint16_t h) {
    const uint32_t sign = (uint32_t)(h & 0x8000) << 16, em = h & 0x7fff;
    const uint32_t is_sub = -(uint32_t)(em < 0x400), is_nan = -(uint32_t)(em >= 0x7c00);
    /* rebias the exponent from 15 to 127; inf/nan need 255, one more step */
    const uint32_t norm = (em << 13) + (112u << 23) + (is_nan & (112u << 23));
    /* zero and subnormal: m * 2^-24, exact in f32 */
    const uint32_t sub = f32_bits((float)(int32_t)em * 0x1p-24f);
    return bits_f32(sign | (sub & is_sub) | (norm & ~is_sub));
}

static inline float rdh(const uint8_t *p) {
    return h2f(rd16(p));
}

/* ---- plain floats and integers ---- */

static void deq_f32(const uint8_t *restrict x, float *restrict y, size_t n) {
    memcpy(y, x, n * 4);
}

static void deq_f16(const uint8_t *restrict x, float *restrict y, size_t n) {
    for (size_t i = 0; i < n; i++)
        y[i] = rdh(x + 2 * i);
}

static void deq_bf16(const uint8_t *restrict x, float *restrict y, size_t n) {
    for (size_t i = 0; i < n; i++)
        y[i] = bits_f32((uint32_t)rd16(x + 2 * i) << 16);
}

static void deq_f64(const uint8_t *restrict x, float *restrict y, size_t n) {
    for (size_t i = 0; i < n; i++) {
        double v;
        memcpy(&v, x + 8 * i, 8);
        y[i] = (float)v; /* round to nearest, as numpy's astype */
    }
}

static void deq_i8(const uint8_t *restrict x, float *restrict y, size_t n) {
    for (size_t i = 0; i < n; i++)
        y[i] = (float)(int8_t)x[i];
}

static void deq_i16(const uint8_t *restrict x, float *restrict y, size_t n) {
    for (size_t i = 0; i < n; i++)
        y[i] = (float)(int16_t)rd16(x + 2 * i);
}

static void deq_i32(const uint8_t *restrict x, float *restrict y, size_t n) {
    for (size_t i = 0; i < n; i++)
        y[i] = (float)(int32_t)rd32(x + 4 * i);
}

static void deq_i64(const uint8_t *restrict x, float *restrict y, size_t n) {
    for (size_t i = 0; i < n; i++) {
        int64_t v;
        memcpy(&v, x + 8 * i, 8);
        y[i] = (float)v;
    }
}

/* ---- 32-element blocks: nibble l holds element l, high nibble l + 16 ---- */

static void deq_q4_0(const uint8_t *restrict x, float *restrict y, size_t nb) {
    for (size_t b = 0; b < nb; b++, x += 18, y += 32) {
        const float d = rdh(x);
        const uint8_t *qs = x + 2;
        for (int l = 0; l < 16; l++) {
            y[l] = d * (float)((qs[l] & 0xf) - 8);
            y[l + 16] = d * (float)((qs[l] >> 4) - 8);
        }
    }
}

static void deq_q4_1(const uint8_t *restrict x, float *restrict y, size_t nb) {
    for (size_t b = 0; b < nb; b++, x += 20, y += 32) {
        const float d = rdh(x), m = rdh(x + 2);
        const uint8_t *qs = x + 4;
        for (int l = 0; l < 16; l++) {
            y[l] = d * (float)(qs[l] & 0xf) + m;
            y[l + 16] = d * (float)(qs[l] >> 4) + m;
        }
    }
}

static void deq_q5_0(const uint8_t *restrict x, float *restrict y, size_t nb) {
    for (size_t b = 0; b < nb; b++, x += 22, y += 32) {
        const float d = rdh(x);
        const uint32_t qh = rd32(x + 2);
        const uint8_t *qs = x + 6;
        for (int l = 0; l < 16; l++) {
            int lo = (qs[l] & 0xf) | (int)((qh >> l) & 1) << 4;
            int hi = (qs[l] >> 4) | (int)((qh >> (l + 16)) & 1) << 4;
            y[l] = d * (float)(lo - 16);
            y[l + 16] = d * (float)(hi - 16);
        }
    }
}

static void deq_q5_1(const uint8_t *restrict x, float *restrict y, size_t nb) {
    for (size_t b = 0; b < nb; b++, x += 24, y += 32) {
        const float d = rdh(x), m = rdh(x + 2);
        const uint32_t qh = rd32(x + 4);
        const uint8_t *qs = x + 8;
        for (int l = 0; l < 16; l++) {
            int lo = (qs[l] & 0xf) | (int)((qh >> l) & 1) << 4;
            int hi = (qs[l] >> 4) | (int)((qh >> (l + 16)) & 1) << 4;
            y[l] = d * (float)lo + m;
            y[l + 16] = d * (float)hi + m;
        }
    }
}

static void deq_q8_0(const uint8_t *restrict x, float *restrict y, size_t nb) {
    for (size_t b = 0; b < nb; b++, x += 34, y += 32) {
        const float d = rdh(x);
        for (int l = 0; l < 32; l++)
            y[l] = (float)(int8_t)x[2 + l] * d;
    }
}

/* Non-linear 4-bit grid of IQ4_NL and IQ4_XS. */
static const float IQ4_GRID[16] = {-127, -104, -83, -65, -49, -35, -22, -10,
                                   1,    13,   25,  38,  53,  69,  89,  113};

static void deq_iq4_nl(const uint8_t *restrict x, float *restrict y, size_t nb) {
    for (size_t b = 0; b < nb; b++, x += 18, y += 32) {
        const float d = rdh(x);
        const uint8_t *qs = x + 2;
        for (int l = 0; l < 16; l++) {
            y[l] = d * IQ4_GRID[qs[l] & 0xf];
            y[l + 16] = d * IQ4_GRID[qs[l] >> 4];
        }
    }
}

/* e2m1 values times two; the block scale below is halved to match. */
static const float MXFP4_GRID[16] = {0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12};

static void deq_mxfp4(const uint8_t *restrict x, float *restrict y, size_t nb) {
    for (size_t b = 0; b < nb; b++, x += 17, y += 32) {
        /* e8m0 exponent e gives 2^(e-128); the two smallest are subnormal */
        const uint32_t e = x[0];
        const float d = bits_f32(e < 2 ? 0x00200000u << e : (e - 1) << 23);
        const uint8_t *qs = x + 1;
        for (int l = 0; l < 16; l++) {
            y[l] = d * MXFP4_GRID[qs[l] & 0xf];
            y[l + 16] = d * MXFP4_GRID[qs[l] >> 4];
        }
    }
}

/* ---- 256-element super-blocks ---- */

static void deq_q2_k(const uint8_t *restrict x, float *restrict y, size_t nb) {
    for (size_t b = 0; b < nb; b++, x += 84, y += QK_K) {
        const uint8_t *sc = x, *qs = x + 16;
        const float d = rdh(x + 80), dmin = rdh(x + 82);
        float dl[16], ml[16];
        for (int k = 0; k < 16; k++) {
            dl[k] = d * (float)(sc[k] & 0xf);
            ml[k] = dmin * (float)(sc[k] >> 4);
        }
        /* element 128j + 32s + l is bits 2s..2s+1 of qs[32j + l] */
        for (int j = 0; j < 2; j++) {
            for (int s = 0; s < 4; s++) {
                float *o = y + 128 * j + 32 * s;
                const int k = 8 * j + 2 * s;
                for (int l = 0; l < 16; l++) {
                    o[l] = dl[k] * (float)((qs[32 * j + l] >> 2 * s) & 3) - ml[k];
                    o[l + 16] = dl[k + 1] * (float)((qs[32 * j + l + 16] >> 2 * s) & 3) - ml[k + 1];
                }
            }
        }
    }
}

/* Q3_K's sixteen 6-bit signed scales: low nibbles in bytes 0-7, two high
 * bits each in bytes 8-11. */
static void q3_k_scales(const uint8_t *s, int sc[16]) {
    for (int k = 0; k < 16; k++) {
        int lo = k < 8 ? s[k] & 0xf : s[k - 8] >> 4;
        int hi = (s[8 + k % 4] >> (2 * (k / 4))) & 3;
        sc[k] = (lo | hi << 4) - 32;
    }
}

static void deq_q3_k(const uint8_t *restrict x, float *restrict y, size_t nb) {
    for (size_t b = 0; b < nb; b++, x += 110, y += QK_K) {
        const uint8_t *hmask = x, *qs = x + 32;
        const float d = rdh(x + 108);
        int sc[16];
        q3_k_scales(x + 96, sc);
        float dl[16];
        for (int k = 0; k < 16; k++)
            dl[k] = d * (float)sc[k];
        /* element i = 128j + 32s + l: low bits as Q2_K, and a clear bit
         * i/32 of hmask[l] subtracts 4 */
        for (int j = 0; j < 2; j++) {
            for (int s = 0; s < 4; s++) {
                for (int h = 0; h < 2; h++) {
                    float *o = y + 128 * j + 32 * s + 16 * h;
                    const uint8_t *q = qs + 32 * j + 16 * h, *m = hmask + 16 * h;
                    const float D = dl[8 * j + 2 * s + h];
                    const int hb = 4 * j + s;
                    for (int l = 0; l < 16; l++) {
                        int v = ((q[l] >> 2 * s) & 3) - (((m[l] >> hb) & 1) ? 0 : 4);
                        o[l] = D * (float)v;
                    }
                }
            }
        }
    }
}

/* Q4_K/Q5_K's eight 6-bit scales and mins packed in 12 bytes. */
static void k_scale_min(const uint8_t *s, int sc[8], int mn[8]) {
    for (int j = 0; j < 4; j++) {
        sc[j] = s[j] & 0x3f;
        mn[j] = s[j + 4] & 0x3f;
        sc[j + 4] = (s[j + 8] & 0xf) | ((s[j] >> 2) & 0x30);
        mn[j + 4] = (s[j + 8] >> 4) | ((s[j + 4] >> 2) & 0x30);
    }
}

static void k_scales_f32(const uint8_t *x, float dl[8], float ml[8]) {
    const float d = rdh(x), dmin = rdh(x + 2);
    int sc[8], mn[8];
    k_scale_min(x + 4, sc, mn);
    for (int k = 0; k < 8; k++) {
        dl[k] = d * (float)sc[k];
        ml[k] = dmin * (float)mn[k];
    }
}

static void deq_q4_k(const uint8_t *restrict x, float *restrict y, size_t nb) {
    for (size_t b = 0; b < nb; b++, x += 144, y += QK_K) {
        float dl[8], ml[8];
        k_scales_f32(x, dl, ml);
        const uint8_t *qs = x + 16;
        /* sub-blocks 2j and 2j+1 are the low and high nibbles of qs[32j..] */
        for (int j = 0; j < 4; j++) {
            float *o = y + 64 * j;
            const uint8_t *q = qs + 32 * j;
            for (int l = 0; l < 32; l++) {
                o[l] = dl[2 * j] * (float)(q[l] & 0xf) - ml[2 * j];
                o[l + 32] = dl[2 * j + 1] * (float)(q[l] >> 4) - ml[2 * j + 1];
            }
        }
    }
}

static void deq_q5_k(const uint8_t *restrict x, float *restrict y, size_t nb) {
    for (size_t b = 0; b < nb; b++, x += 176, y += QK_K) {
        float dl[8], ml[8];
        k_scales_f32(x, dl, ml);
        const uint8_t *qh = x + 16, *qs = x + 48;
        /* as Q4_K, plus bit k of qh[l] as bit 4 of sub-block k's element l */
        for (int j = 0; j < 4; j++) {
            float *o = y + 64 * j;
            const uint8_t *q = qs + 32 * j;
            const int k0 = 2 * j, k1 = 2 * j + 1;
            for (int l = 0; l < 32; l++) {
                int lo = (q[l] & 0xf) | ((qh[l] >> k0) & 1) << 4;
                int hi = (q[l] >> 4) | ((qh[l] >> k1) & 1) << 4;
                o[l] = dl[k0] * (float)lo - ml[k0];
                o[l + 32] = dl[k1] * (float)hi - ml[k1];
            }
        }
    }
}

static void deq_q6_k(const uint8_t *restrict x, float *restrict y, size_t nb) {
    for (size_t b = 0; b < nb; b++, x += 210, y += QK_K) {
        const uint8_t *ql = x, *qh = x + 128;
        const int8_t *sc = (const int8_t *)(x + 192);
        const float d = rdh(x + 208);
        float dl[16];
        for (int k = 0; k < 16; k++)
            dl[k] = d * (float)sc[k];
        /* per 128 elements: low nibbles of ql[0..63] then high nibbles give
         * bits 0-3; bits 2t..2t+1 of qh[l] give bits 4-5 of element 32t + l */
        for (int j = 0; j < 2; j++) {
            for (int h = 0; h < 2; h++) {
                const int e = 16 * h; /* element offset within each 32 */
                float *o = y + 128 * j + e;
                const uint8_t *L = ql + 64 * j + e, *H = qh + 32 * j + e;
                const float *D = dl + 8 * j + h;
                for (int l = 0; l < 16; l++) {
                    int q0 = ((L[l] & 0xf) | (H[l] & 3) << 4) - 32;
                    int q1 = ((L[l + 32] & 0xf) | ((H[l] >> 2) & 3) << 4) - 32;
                    int q2 = ((L[l] >> 4) | ((H[l] >> 4) & 3) << 4) - 32;
                    int q3 = ((L[l + 32] >> 4) | ((H[l] >> 6) & 3) << 4) - 32;
                    o[l] = D[0] * (float)q0;
                    o[l + 32] = D[2] * (float)q1;
                    o[l + 64] = D[4] * (float)q2;
                    o[l + 96] = D[6] * (float)q3;
                }
            }
        }
    }
}

static void deq_q8_k(const uint8_t *restrict x, float *restrict y, size_t nb) {
    for (size_t b = 0; b < nb; b++, x += 292, y += QK_K) {
        float d; /* Q8_K's scale is a plain f32 */
        memcpy(&d, x, 4);
        for (int l = 0; l < QK_K; l++)
            y[l] = d * (float)(int8_t)x[4 + l];
    }
}

static void deq_iq4_xs(const uint8_t *restrict x, float *restrict y, size_t nb) {
    for (size_t b = 0; b < nb; b++, x += 136, y += QK_K) {
        const float d = rdh(x);
        const uint16_t sh = rd16(x + 2);
        const uint8_t *sl = x + 4, *qs = x + 8;
        for (int k = 0; k < 8; k++) {
            int lo = (sl[k / 2] >> (4 * (k % 2))) & 0xf, hi = (sh >> (2 * k)) & 3;
            const float dl = d * (float)((lo | hi << 4) - 32);
            const uint8_t *q = qs + 16 * k;
            float *o = y + 32 * k;
            for (int l = 0; l < 16; l++) {
                o[l] = dl * IQ4_GRID[q[l] & 0xf];
                o[l + 16] = dl * IQ4_GRID[q[l] >> 4];
            }
        }
    }
}

/* ---- ternary types ---- */

/* One base-3 digit: byte * 3^p (mod 256) keeps the fraction whose top
 * trit is digit p; times 3, over 256, it is 0, 1 or 2. */
static inline float trit(uint8_t v, uint8_t pow3) {
    uint8_t t = (uint8_t)(v * pow3);
    return (float)((t * 3 >> 8) - 1);
}

static void deq_tq1_0(const uint8_t *restrict x, float *restrict y, size_t nb) {
    static const uint8_t POW3[5] = {1, 3, 9, 27, 81};
    for (size_t b = 0; b < nb; b++, x += 54, y += QK_K) {
        const uint8_t *qs = x, *qh = x + 48;
        const float d = rdh(x + 52);
        /* 5 trits per byte: qs[0..31] -> 160 values, qs[32..47] -> 80,
         * then 4 trits from each of qh[0..3] -> 16 */
        for (int p = 0; p < 5; p++) {
            for (int l = 0; l < 32; l++)
                y[32 * p + l] = d * trit(qs[l], POW3[p]);
            for (int l = 0; l < 16; l++)
                y[160 + 16 * p + l] = d * trit(qs[32 + l], POW3[p]);
        }
        for (int p = 0; p < 4; p++) {
            for (int l = 0; l < 4; l++)
                y[240 + 4 * p + l] = d * trit(qh[l], POW3[p]);
        }
    }
}

static void deq_tq2_0(const uint8_t *restrict x, float *restrict y, size_t nb) {
    for (size_t b = 0; b < nb; b++, x += 66, y += QK_K) {
        const float d = rdh(x + 64);
        for (int j = 0; j < 2; j++) {
            for (int s = 0; s < 4; s++) {
                float *o = y + 128 * j + 32 * s;
                for (int l = 0; l < 32; l++)
                    o[l] = d * (float)(((x[32 * j + l] >> 2 * s) & 3) - 1);
            }
        }
    }
}

/* ---- dispatch ---- */

/* Converts nb blocks (elements, for the 1-element types). */
typedef void (*deq_fn)(const uint8_t *x, float *y, size_t nb);

static deq_fn deq_for(uint32_t type) {
    switch (type) {
    case MW_TYPE_F32:
        return deq_f32;
    case MW_TYPE_F16:
        return deq_f16;
    case MW_TYPE_BF16:
        return deq_bf16;
    case MW_TYPE_F64:
        return deq_f64;
    case MW_TYPE_I8:
        return deq_i8;
    case MW_TYPE_I16:
        return deq_i16;
    case MW_TYPE_I32:
        return deq_i32;
    case MW_TYPE_I64:
        return deq_i64;
    case MW_TYPE_Q4_0:
        return deq_q4_0;
    case MW_TYPE_Q4_1:
        return deq_q4_1;
    case MW_TYPE_Q5_0:
        return deq_q5_0;
    case MW_TYPE_Q5_1:
        return deq_q5_1;
    case MW_TYPE_Q8_0:
        return deq_q8_0;
    case MW_TYPE_Q2_K:
        return deq_q2_k;
    case MW_TYPE_Q3_K:
        return deq_q3_k;
    case MW_TYPE_Q4_K:
        return deq_q4_k;
    case MW_TYPE_Q5_K:
        return deq_q5_k;
    case MW_TYPE_Q6_K:
        return deq_q6_k;
    case MW_TYPE_Q8_K:
        return deq_q8_k;
    case MW_TYPE_IQ4_NL:
        return deq_iq4_nl;
    case MW_TYPE_IQ4_XS:
        return deq_iq4_xs;
    case MW_TYPE_TQ1_0:
        return deq_tq1_0;
    case MW_TYPE_TQ2_0:
        return deq_tq2_0;
    case MW_TYPE_MXFP4:
        return deq_mxfp4;
    default:
        return NULL;
    }
}

bool mw_type_can_dequantize(uint32_t type) {
    return deq_for(type) != NULL;
}

enum mw_status mw_dequantize(enum mw_type type, const void *src, float *dst, uint64_t n,
                             mw_err *err) {
    deq_fn fn = deq_for((uint32_t)type);
    if (!fn) {
        const char *name = mw_type_name((uint32_t)type);
        if (name)
            return mw_fail(err, MW_ERR_UNSUPPORTED, "dequantizing type %s is not supported", name);
        return mw_fail(err, MW_ERR_UNSUPPORTED, "dequantizing unknown type id %u", (unsigned)type);
    }
    const uint64_t be = mw_type_block_elems(type);
    if (n % be != 0)
        return mw_fail(err, MW_ERR_ARG,
                       "%llu elements of type %s are not a whole number of %llu-element blocks",
                       (unsigned long long)n, mw_type_name(type), (unsigned long long)be);
    uint64_t bytes;
    if (!mw_type_row_bytes(type, n, &bytes) || n > SIZE_MAX / sizeof(float))
        return mw_fail(err, MW_ERR_ARG, "%llu elements of type %s are too many to convert",
                       (unsigned long long)n, mw_type_name(type));
    if (n == 0) return MW_OK;
    if (!src || !dst) return mw_fail(err, MW_ERR_ARG, "dequantize: NULL buffer");

    /* One thread: blocks are independent, so a caller wanting threads can
     * split a tensor into runs of whole blocks and get the same bits. An
     * OpenMP loop here was measured and dropped: it gained nothing on a
     * 2-core machine and ran up to 10x slower when other processes were
     * busy (a static split waits for its slowest, preempted thread). */
    fn(src, dst, (size_t)(n / be));
    return MW_OK;
}
