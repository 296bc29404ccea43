/* The table of ggml tensor types: names and block sizes, and conversions
 * between f32 and the 16-bit float formats. */
#include "core/err.h"

#include <math.h>
#include <string.h>
#include <strings.h>

struct type_info {
    const char *name;
    uint32_t block_elems;
    uint32_t block_bytes;
};

/* Sizes as ggml defines them; ids missing here are retired or unassigned. */
static const struct type_info TYPES[MW_TYPE_COUNT] = {
    [MW_TYPE_F32] = {"F32", 1, 4},
    [MW_TYPE_F16] = {"F16", 1, 2},
    [MW_TYPE_Q4_0] = {"Q4_0", 32, 18},
    [MW_TYPE_Q4_1] = {"Q4_1", 32, 20},
    [MW_TYPE_Q5_0] = {"Q5_0", 32, 22},
    [MW_TYPE_Q5_1] = {"Q5_1", 32, 24},
    [MW_TYPE_Q8_0] = {"Q8_0", 32, 34},
    [MW_TYPE_Q8_1] = {"Q8_1", 32, 36},
    [MW_TYPE_Q2_K] = {"Q2_K", 256, 84},
    [MW_TYPE_Q3_K] = {"Q3_K", 256, 110},
    [MW_TYPE_Q4_K] = {"Q4_K", 256, 144},
    [MW_TYPE_Q5_K] = {"Q5_K", 256, 176},
    [MW_TYPE_Q6_K] = {"Q6_K", 256, 210},
    [MW_TYPE_Q8_K] = {"Q8_K", 256, 292},
    [MW_TYPE_IQ2_XXS] = {"IQ2_XXS", 256, 66},
    [MW_TYPE_IQ2_XS] = {"IQ2_XS", 256, 74},
    [MW_TYPE_IQ3_XXS] = {"IQ3_XXS", 256, 98},
    [MW_TYPE_IQ1_S] = {"IQ1_S", 256, 50},
    [MW_TYPE_IQ4_NL] = {"IQ4_NL", 32, 18},
    [MW_TYPE_IQ3_S] = {"IQ3_S", 256, 110},
    [MW_TYPE_IQ2_S] = {"IQ2_S", 256, 82},
    [MW_TYPE_IQ4_XS] = {"IQ4_XS", 256, 136},
    [MW_TYPE_I8] = {"I8", 1, 1},
    [MW_TYPE_I16] = {"I16", 1, 2},
    [MW_TYPE_I32] = {"I32", 1, 4},
    [MW_TYPE_I64] = {"I64", 1, 8},
    [MW_TYPE_F64] = {"F64", 1, 8},
    [MW_TYPE_IQ1_M] = {"IQ1_M", 256, 56},
    [MW_TYPE_BF16] = {"BF16", 1, 2},
    [MW_TYPE_TQ1_0] = {"TQ1_0", 256, 54},
    [MW_TYPE_TQ2_0] = {"TQ2_0", 256, 66},
    [MW_TYPE_MXFP4] = {"MXFP4", 32, 17},
};

const char *mw_type_name(uint32_t type) {
    return type < MW_TYPE_COUNT ? TYPES[type].name : NULL;
}

bool mw_type_from_name(const char *name, enum mw_type *out) {
    for (uint32_t t = 0; t < MW_TYPE_COUNT; t++) {
        if (TYPES[t].name && strcasecmp(TYPES[t].name, name) == 0) {
            *out = (enum mw_type)t;
            return true;
        }
    }
    return false;
}

uint32_t mw_type_block_elems(uint32_t type) {
    return type < MW_TYPE_COUNT ? TYPES[type].block_elems : 0;
}

uint32_t mw_type_block_bytes(uint32_t type) {
    return type < MW_TYPE_COUNT ? TYPES[type].block_bytes : 0;
}

bool mw_type_row_bytes(uint32_t type, uint64_t n, uint64_t *bytes) {
    uint32_t be = mw_type_block_elems(type), bb = mw_type_block_bytes(type);
    if (be == 0 || n % be != 0) return false;
    uint64_t blocks = n / be;
    if (blocks > UINT64_MAX / bb) return false;
    *bytes = blocks * bb;
    return true;
}

/* ---- 16-bit floats, bit-exact and independent of the CPU's F16C ---- */

static uint32_t f32_bits(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

static float bits_f32(uint32_t u) {
    float f;
    memcpy(&f, &u, 4);
    return f;
}

float mw_f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000) << 16;
    uint32_t exp = (h >> 10) & 0x1f;
    uint32_t man = h & 0x3ff;
    if (exp == 0x1f) return bits_f32(sign | 0x7f800000u | (man << 13)); /* inf, nan */
    if (exp == 0) {
        /* zero or subnormal: man * 2^-24, exact in f32 */
        float v = (float)man * 0x1p-24f;
        return sign ? -v : v;
    }
    return bits_f32(sign | ((exp + 112) << 23) | (man << 13));
}

uint16_t mw_f32_to_f16(float f) {
    uint32_t u = f32_bits(f);
    uint16_t sign = (uint16_t)((u >> 16) & 0x8000);
    uint32_t exp = (u >> 23) & 0xff;
    uint32_t man = u & 0x7fffff;
    if (exp == 0xff) return sign | 0x7c00 | (man ? 0x200 | (man >> 13) : 0);
    int32_t e = (int32_t)exp - 127 + 15;
    if (e >= 0x1f) return sign | 0x7c00; /* overflow to inf */
    if (e <= 0) {
        /* subnormal half: shift the full mantissa, round to nearest even */
        if (e < -10) return sign;
        man |= 0x800000;
        uint32_t shift = (uint32_t)(14 - e);
        uint32_t half = man >> shift;
        uint32_t rem = man & ((1u << shift) - 1), mid = 1u << (shift - 1);
        if (rem > mid || (rem == mid && (half & 1))) half++;
        return sign | (uint16_t)half;
    }
    uint32_t half = ((uint32_t)e << 10) | (man >> 13);
    uint32_t rem = man & 0x1fff;
    if (rem > 0x1000 || (rem == 0x1000 && (half & 1))) half++; /* may carry into inf: right */
    return sign | (uint16_t)half;
}

float mw_bf16_to_f32(uint16_t h) {
    return bits_f32((uint32_t)h << 16);
}

uint16_t mw_f32_to_bf16(float f) {
    uint32_t u = f32_bits(f);
    if ((u & 0x7fffffff) > 0x7f800000) return (uint16_t)((u >> 16) | 0x40); /* quiet nan */
    u += 0x7fff + ((u >> 16) & 1);
    return (uint16_t)(u >> 16);
}

enum mw_status mw_quantize(enum mw_type type, const float *src, void *dst, uint64_t n,
                           mw_err *err) {
    switch (type) {
    case MW_TYPE_F32:
        memmove(dst, src, n * sizeof(float));
        return MW_OK;
    case MW_TYPE_F16: {
        uint16_t *d = dst;
        for (uint64_t i = 0; i < n; i++)
            d[i] = mw_f32_to_f16(src[i]);
        return MW_OK;
    }
    case MW_TYPE_BF16: {
        uint16_t *d = dst;
        for (uint64_t i = 0; i < n; i++)
            d[i] = mw_f32_to_bf16(src[i]);
        return MW_OK;
    }
    default:
        break;
    }
    const char *name = mw_type_name(type);
    return mw_fail(err, MW_ERR_UNSUPPORTED, "writing tensors of type %s is not supported",
                   name ? name : "?");
}
