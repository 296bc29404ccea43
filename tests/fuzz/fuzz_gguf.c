/* libFuzzer target: the GGUF reader on arbitrary bytes. Everything an
 * accepted file offers is touched through the public accessors, so that a
 * bad size, offset or pointer shows up under AddressSanitizer. */
#include "mwanda.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static volatile uint8_t g_sink;

static void touch(const void *p, uint64_t n) {
    const uint8_t *b = p;
    uint8_t x = 0;
    for (uint64_t i = 0; i < n; i++)
        x ^= b[i];
    g_sink ^= x;
}

static void check_kv(const mw_gguf *g, const mw_gguf_kv *kv) {
    if (!kv || !kv->key || !kv->key[0] || mw_gguf_find_kv(g, kv->key) != kv) __builtin_trap();
    if (kv->elem_type >= MW_GGUF_VTYPE_COUNT || kv->elem_type == MW_GGUF_ARRAY) __builtin_trap();
    if (kv->type != MW_GGUF_ARRAY && (kv->type != kv->elem_type || kv->n != 1)) __builtin_trap();
    touch(kv->key, strlen(kv->key) + 1);
    if (kv->elem_type == MW_GGUF_STRING) {
        const mw_str *s = kv->data;
        for (uint64_t i = 0; i < kv->n; i++) {
            touch(s[i].s, s[i].len);
            if (s[i].s[s[i].len] != 0) __builtin_trap();
        }
    } else {
        touch(kv->data, kv->n * mw_gguf_vtype_size(kv->elem_type));
        if (kv->elem_type == MW_GGUF_BOOL)
            for (uint64_t i = 0; i < kv->n; i++)
                if (((const uint8_t *)kv->data)[i] > 1) __builtin_trap();
    }
    int64_t iv;
    double fv;
    const char *s = mw_gguf_kv_str(kv);
    if (s) touch(s, strlen(s));
    if (mw_gguf_kv_int(kv, &iv)) g_sink ^= (uint8_t)iv;
    if (mw_gguf_kv_float(kv, &fv)) g_sink ^= (uint8_t)(fv != fv);
}

static void check_tensor(const mw_gguf *g, int64_t i, const uint8_t *data, size_t size) {
    const mw_tensor *t = mw_gguf_tensor_at(g, i);
    if (!t || mw_gguf_find_tensor(g, t->name) != t || strlen(t->name) >= 64) __builtin_trap();
    if (t->n_dims < 1 || t->n_dims > MW_MAX_DIMS || !mw_type_name(t->type)) __builtin_trap();
    uint64_t n = 1, bytes = 0;
    for (uint32_t d = 0; d < MW_MAX_DIMS; d++) {
        if (t->ne[d] < 0 || (d >= t->n_dims && t->ne[d] != 1)) __builtin_trap();
        n *= (uint64_t)t->ne[d];
    }
    if (n != t->n_elems || !mw_type_row_bytes(t->type, n, &bytes) || bytes != t->n_bytes)
        __builtin_trap();
    uint64_t off = mw_gguf_tensor_offset(g, i);
    if (off % mw_gguf_alignment(g) != 0) __builtin_trap();
    const uint8_t *p = t->data;
    if (p != data + mw_gguf_data_offset(g) + off || t->n_bytes > (uint64_t)(data + size - p))
        __builtin_trap();
    touch(p, t->n_bytes);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    mw_gguf *g = NULL;
    mw_err err;
    err.msg[0] = 0;
    if (mw_gguf_open_memory(data, size, &g, &err) != MW_OK) {
        /* a failure leaves no handle and one non-empty line */
        if (g || !err.msg[0] || strchr(err.msg, '\n')) __builtin_trap();
        return 0;
    }
    uint64_t a = mw_gguf_alignment(g);
    if (a == 0 || (a & (a - 1)) || mw_gguf_file_size(g) != size || mw_gguf_data_offset(g) > size ||
        (mw_gguf_version(g) != 2 && mw_gguf_version(g) != 3))
        __builtin_trap();
    for (int64_t i = 0; i < mw_gguf_n_kv(g); i++)
        check_kv(g, mw_gguf_kv_at(g, i));
    for (int64_t i = 0; i < mw_gguf_n_tensors(g); i++)
        check_tensor(g, i, data, size);
    if (mw_gguf_kv_at(g, mw_gguf_n_kv(g)) || mw_gguf_tensor_at(g, -1)) __builtin_trap();
    mw_gguf_close(g);
    return 0;
}
