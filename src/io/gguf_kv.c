/* GGUF metadata value types and typed access to entries. */
#include "mwanda.h"

#include <math.h>
#include <string.h>

static const struct {
    const char *name;
    size_t size;
} VTYPES[MW_GGUF_VTYPE_COUNT] = {
    [MW_GGUF_UINT8] = {"uint8", 1},     [MW_GGUF_INT8] = {"int8", 1},
    [MW_GGUF_UINT16] = {"uint16", 2},   [MW_GGUF_INT16] = {"int16", 2},
    [MW_GGUF_UINT32] = {"uint32", 4},   [MW_GGUF_INT32] = {"int32", 4},
    [MW_GGUF_FLOAT32] = {"float32", 4}, [MW_GGUF_BOOL] = {"bool", 1},
    [MW_GGUF_STRING] = {"string", 0},   [MW_GGUF_ARRAY] = {"array", 0},
    [MW_GGUF_UINT64] = {"uint64", 8},   [MW_GGUF_INT64] = {"int64", 8},
    [MW_GGUF_FLOAT64] = {"float64", 8},
};

const char *mw_gguf_vtype_name(uint32_t vtype) {
    return vtype < MW_GGUF_VTYPE_COUNT ? VTYPES[vtype].name : NULL;
}

size_t mw_gguf_vtype_size(uint32_t vtype) {
    return vtype < MW_GGUF_VTYPE_COUNT ? VTYPES[vtype].size : 0;
}

bool mw_gguf_kv_int(const mw_gguf_kv *kv, int64_t *out) {
    if (!kv || kv->type == MW_GGUF_ARRAY || kv->n != 1) return false;
    const void *d = kv->data;
    switch (kv->type) {
    case MW_GGUF_UINT8:
        *out = *(const uint8_t *)d;
        return true;
    case MW_GGUF_INT8:
        *out = *(const int8_t *)d;
        return true;
    case MW_GGUF_UINT16:
        *out = *(const uint16_t *)d;
        return true;
    case MW_GGUF_INT16:
        *out = *(const int16_t *)d;
        return true;
    case MW_GGUF_UINT32:
        *out = *(const uint32_t *)d;
        return true;
    case MW_GGUF_INT32:
        *out = *(const int32_t *)d;
        return true;
    case MW_GGUF_BOOL:
        *out = *(const uint8_t *)d;
        return true;
    case MW_GGUF_INT64:
        *out = *(const int64_t *)d;
        return true;
    case MW_GGUF_UINT64: {
        uint64_t v = *(const uint64_t *)d;
        if (v > (uint64_t)INT64_MAX) return false;
        *out = (int64_t)v;
        return true;
    }
    default:
        return false;
    }
}

bool mw_gguf_kv_float(const mw_gguf_kv *kv, double *out) {
    if (!kv || kv->type == MW_GGUF_ARRAY || kv->n != 1) return false;
    if (kv->type == MW_GGUF_FLOAT32) {
        *out = *(const float *)kv->data;
        return true;
    }
    if (kv->type == MW_GGUF_FLOAT64) {
        *out = *(const double *)kv->data;
        return true;
    }
    if (kv->type == MW_GGUF_UINT64) { /* beyond INT64_MAX too */
        *out = (double)*(const uint64_t *)kv->data;
        return true;
    }
    int64_t i;
    if (kv->type == MW_GGUF_BOOL || !mw_gguf_kv_int(kv, &i)) return false;
    *out = (double)i;
    return true;
}

const char *mw_gguf_kv_str(const mw_gguf_kv *kv) {
    if (!kv || kv->type != MW_GGUF_STRING) return NULL;
    return ((const mw_str *)kv->data)->s;
}
