/* libFuzzer target: config.json as the model loader reads it. The bytes are
 * parsed strictly (duplicate keys refused), read into hyperparameters, and
 * anything accepted is written back as config.json and read again: it must
 * give the same hyperparameters. */
#include "model/hparams.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool same(const mw_hparams *a, const mw_hparams *b) {
    return strcmp(a->arch, b->arch) == 0 && a->n_vocab == b->n_vocab &&
           a->n_ctx_train == b->n_ctx_train && a->n_embd == b->n_embd && a->n_layer == b->n_layer &&
           a->n_head == b->n_head && a->n_head_kv == b->n_head_kv && a->head_dim == b->head_dim &&
           a->n_ff == b->n_ff && a->norm_eps == b->norm_eps && a->rope_base == b->rope_base &&
           a->rope_base_local == b->rope_base_local && a->sliding_window == b->sliding_window &&
           a->swa_pattern == b->swa_pattern && a->tied_output == b->tied_output;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    json_error_t je;
    json_t *c = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, &je);
    if (!c) return 0;
    mw_hparams hp, back;
    const mw_arch *arch = NULL, *arch2 = NULL;
    mw_err err;
    err.msg[0] = 0;
    if (mw_hparams_from_config(c, &hp, &arch, &err) != MW_OK) {
        if (!err.msg[0] || strchr(err.msg, '\n')) __builtin_trap();
        json_decref(c);
        return 0;
    }
    json_decref(c);
    if (!arch || hp.n_embd <= 0 || hp.n_head <= 0 || hp.head_dim <= 0 || hp.n_head_kv <= 0 ||
        hp.n_head % hp.n_head_kv != 0 || hp.n_layer <= 0)
        __builtin_trap();
    json_t *out = mw_hparams_to_config(&hp, MW_TYPE_BF16, 1, 2);
    if (!out) __builtin_trap();
    char *text = json_dumps(out, JSON_COMPACT);
    json_decref(out);
    if (!text) __builtin_trap();
    json_t *again = json_loads(text, JSON_REJECT_DUPLICATES, &je);
    free(text);
    if (!again || mw_hparams_from_config(again, &back, &arch2, &err) != MW_OK || arch2 != arch ||
        !same(&hp, &back))
        __builtin_trap();
    json_decref(again);
    return 0;
}
