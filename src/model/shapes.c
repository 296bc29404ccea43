/* Every tensor a family needs, with the shape its hyperparameters give. A
 * model file that disagrees is rejected when opened, not halfway through a
 * conversion or a forward pass. */
#include "model/model.h"

#include "core/err.h"

#include <stdio.h>
#include <string.h>

enum dim { D_NONE, D_EMBD, D_Q, D_KV, D_FF, D_HEAD, D_VOCAB };

struct expect {
    const char *name;  /* block tensors: after "blk.N." */
    enum dim ne0, ne1; /* ne1 = D_NONE for vectors */
    bool required;
};

static int64_t dim_value(const mw_hparams *hp, enum dim d) {
    switch (d) {
    case D_EMBD:
        return hp->n_embd;
    case D_Q:
        return hp->n_head * hp->head_dim;
    case D_KV:
        return hp->n_head_kv * hp->head_dim;
    case D_FF:
        return hp->n_ff;
    case D_HEAD:
        return hp->head_dim;
    case D_VOCAB:
        return hp->n_vocab;
    default:
        return 1;
    }
}

static const struct expect GLOBALS[] = {
    {"token_embd.weight", D_EMBD, D_VOCAB, true},
    {"output_norm.weight", D_EMBD, D_NONE, true},
    {"output.weight", D_EMBD, D_VOCAB, false},
    {NULL, 0, 0, false},
};

static const struct expect BLOCK[] = {
    {"attn_norm.weight", D_EMBD, D_NONE, true},
    {"attn_q.weight", D_EMBD, D_Q, true},
    {"attn_k.weight", D_EMBD, D_KV, true},
    {"attn_v.weight", D_EMBD, D_KV, true},
    {"attn_output.weight", D_Q, D_EMBD, true},
    {"attn_q.bias", D_Q, D_NONE, false},
    {"attn_k.bias", D_KV, D_NONE, false},
    {"attn_v.bias", D_KV, D_NONE, false},
    {"attn_q_norm.weight", D_HEAD, D_NONE, false},
    {"attn_k_norm.weight", D_HEAD, D_NONE, false},
    {"post_attention_norm.weight", D_EMBD, D_NONE, false},
    {"ffn_norm.weight", D_EMBD, D_NONE, true},
    {"ffn_gate.weight", D_EMBD, D_FF, true},
    {"ffn_up.weight", D_EMBD, D_FF, true},
    {"ffn_down.weight", D_FF, D_EMBD, true},
    {"post_ffw_norm.weight", D_EMBD, D_NONE, false},
    {NULL, 0, 0, false},
};

/* Whether the family needs a tensor the table marks optional. */
static bool family_needs(const mw_arch *a, const char *name) {
    if (strstr(name, "_norm.weight") && strstr(name, "attn_") == name) return a->qk_norm;
    if (strstr(name, ".bias")) return a->qkv_bias;
    if (strncmp(name, "post_", 5) == 0) return a->post_norms;
    return false;
}

static enum mw_status check_one(const mw_model *m, const char *full, const struct expect *e,
                                mw_err *err) {
    const mw_tensor *t = mw_model_find_tensor(m, full);
    const mw_hparams *hp = mw_model_hparams(m);
    if (!t) {
        if (e->required || family_needs(mw_model_arch(m), e->name))
            return mw_fail(err, MW_ERR_NOT_FOUND, "missing tensor %s", full);
        return MW_OK;
    }
    int64_t ne0 = dim_value(hp, e->ne0), ne1 = dim_value(hp, e->ne1);
    uint32_t rank = e->ne1 == D_NONE ? 1 : 2;
    bool ok = t->ne[0] == ne0 && t->ne[1] == ne1 && t->ne[2] == 1 && t->ne[3] == 1;
    if (!ok || (t->n_dims != rank && !(t->n_dims > rank && t->ne[rank] == 1)))
        return mw_fail(err, MW_ERR_SHAPE,
                       "tensor %s has shape [%lld, %lld, %lld, %lld]; the hyperparameters give "
                       "[%lld, %lld]",
                       full, (long long)t->ne[0], (long long)t->ne[1], (long long)t->ne[2],
                       (long long)t->ne[3], (long long)ne0, (long long)ne1);
    return MW_OK;
}

enum mw_status mw_model_check_shapes(const mw_model *m, mw_err *err) {
    const mw_hparams *hp = mw_model_hparams(m);
    enum mw_status s;
    if (hp->n_vocab <= 0) return mw_fail(err, MW_ERR_FORMAT, "the vocabulary size is unknown");
    for (const struct expect *e = GLOBALS; e->name; e++)
        if ((s = check_one(m, e->name, e, err))) return s;
    for (int64_t b = 0; b < hp->n_layer; b++) {
        for (const struct expect *e = BLOCK; e->name; e++) {
            char full[128];
            snprintf(full, sizeof full, "blk.%lld.%s", (long long)b, e->name);
            if ((s = check_one(m, full, e, err))) return s;
        }
    }
    return MW_OK;
}
