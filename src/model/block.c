/* Loading one block's weights in f32. */
#include "model/block.h"

#include "core/err.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const LINEAR_NAMES[MW_LIN_COUNT] = {
    [MW_LIN_Q] = "attn_q",      [MW_LIN_K] = "attn_k",      [MW_LIN_V] = "attn_v",
    [MW_LIN_O] = "attn_output", [MW_LIN_GATE] = "ffn_gate", [MW_LIN_UP] = "ffn_up",
    [MW_LIN_DOWN] = "ffn_down",
};

const char *mw_linear_name(enum mw_linear lin) {
    return LINEAR_NAMES[lin];
}

/* The tensors of a block in load order, with where each one goes. */
struct slot {
    char name[64];
    float **dst;
    bool required;
};

static int collect(mw_block *b, int64_t index, struct slot *slots) {
    int n = 0;
#define SLOT(suffix, field, req)                                                                   \
    do {                                                                                           \
        snprintf(slots[n].name, sizeof slots[n].name, "blk.%lld.%s", (long long)index, suffix);    \
        slots[n].dst = &(field);                                                                   \
        slots[n++].required = req;                                                                 \
    } while (0)
    SLOT("attn_norm.weight", b->attn_norm, true);
    for (int l = 0; l < MW_LIN_COUNT; l++) {
        char suffix[32];
        snprintf(suffix, sizeof suffix, "%s.weight", LINEAR_NAMES[l]);
        SLOT(suffix, b->w[l], true);
    }
    SLOT("attn_q.bias", b->bq, false);
    SLOT("attn_k.bias", b->bk, false);
    SLOT("attn_v.bias", b->bv, false);
    SLOT("attn_q_norm.weight", b->q_norm, false);
    SLOT("attn_k_norm.weight", b->k_norm, false);
    SLOT("post_attention_norm.weight", b->post_attn_norm, false);
    SLOT("ffn_norm.weight", b->ffn_norm, true);
    SLOT("post_ffw_norm.weight", b->post_ffn_norm, false);
#undef SLOT
    return n;
}

static int64_t find_index(const mw_model *m, const char *name) {
    const mw_tensor *t = mw_model_find_tensor(m, name);
    if (!t) return -1;
    return (int64_t)(t - mw_model_tensor_at(m, 0));
}

enum mw_status mw_block_load(const mw_model *m, int64_t index, mw_block *b, mw_err *err) {
    memset(b, 0, sizeof *b);
    const mw_hparams *hp = mw_model_hparams(m);
    struct slot slots[32];
    int n = collect(b, index, slots);
    int64_t idx[32];
    uint64_t total = 0;
    for (int i = 0; i < n; i++) {
        idx[i] = find_index(m, slots[i].name);
        if (idx[i] < 0 && slots[i].required)
            return mw_fail(err, MW_ERR_NOT_FOUND, "missing tensor %s", slots[i].name);
        if (idx[i] >= 0) total += mw_model_tensor_at(m, idx[i])->n_elems;
    }
    b->mem = malloc(total * sizeof(float));
    if (!b->mem)
        return mw_fail(err, MW_ERR_NOMEM, "out of memory for block %lld (%llu values)",
                       (long long)index, (unsigned long long)total);
    float *p = b->mem;
    for (int i = 0; i < n; i++) {
        if (idx[i] < 0) continue;
        enum mw_status s = mw_model_tensor_f32(m, idx[i], p, err);
        if (s) {
            mw_block_free(b);
            return s;
        }
        *slots[i].dst = p;
        p += mw_model_tensor_at(m, idx[i])->n_elems;
    }
    for (int l = 0; l < MW_LIN_COUNT; l++) {
        char name[64];
        snprintf(name, sizeof name, "blk.%lld.%s.weight", (long long)index, LINEAR_NAMES[l]);
        const mw_tensor *t = mw_model_find_tensor(m, name);
        b->rows[l] = t->ne[1];
        b->cols[l] = t->ne[0];
    }
    b->index = index;
    b->global = hp->swa_pattern <= 0 || (index + 1) % hp->swa_pattern == 0;
    return MW_OK;
}

void mw_block_free(mw_block *b) {
    free(b->mem);
    memset(b, 0, sizeof *b);
}
