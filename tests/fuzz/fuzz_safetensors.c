/* libFuzzer target: the safetensors reader on arbitrary bytes. Every tensor
 * it accepts is looked at in full, so that a bad offset or size shows up
 * under AddressSanitizer. */
#include "mwanda.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    mw_st *st = NULL;
    mw_err err;
    if (mw_st_open_memory(data, size, &st, &err) != MW_OK) {
        /* messages are one line */
        if (strchr(err.msg, '\n')) __builtin_trap();
        return 0;
    }
    const uint8_t *end = data + size;
    for (int64_t i = 0; i < mw_st_n_tensors(st); i++) {
        const mw_tensor *t = mw_st_tensor_at(st, i);
        if (mw_st_find_tensor(st, t->name) != t) __builtin_trap();
        uint64_t n = 1;
        for (uint32_t k = 0; k < MW_MAX_DIMS; k++)
            n *= (uint64_t)t->ne[k];
        if (t->n_dims > MW_MAX_DIMS || n != t->n_elems) __builtin_trap();
        const uint8_t *p = t->data;
        if (p < data || t->n_bytes > (uint64_t)(end - p)) __builtin_trap();
        volatile uint8_t sum = 0;
        for (uint64_t b = 0; b < t->n_bytes; b++)
            sum ^= p[b];
        (void)sum;
    }
    mw_st_metadata(st, "format");
    mw_st_close(st);
    return 0;
}
