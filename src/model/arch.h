/* Model families as data: what differs between llama, qwen2, qwen3 and
 * gemma3 is described here and read by the loader, the converter and (later)
 * the block forward pass. */
#ifndef MW_MODEL_ARCH_H
#define MW_MODEL_ARCH_H

#include "mwanda.h"

/* A block tensor's name in GGUF ("attn_q") and in a Hugging Face checkpoint
 * ("self_attn.q_proj"), without the "blk.N." / "model.layers.N." prefix and
 * without the ".weight" / ".bias" suffix. */
typedef struct mw_name_pair {
    const char *gguf;
    const char *hf;
} mw_name_pair;

enum mw_norm_kind { MW_NORM_RMS = 0 };
enum mw_act_kind { MW_ACT_SILU = 0, MW_ACT_GELU_TANH = 1 };

typedef struct mw_arch {
    const char *name;          /* general.architecture */
    const char *hf_model_type; /* config.json "model_type" */
    const char *hf_class;      /* config.json "architectures"[0] */
    const mw_name_pair *blk;   /* block tensors, NULL-terminated */
    bool permute_qk;           /* HF q/k rows are in rotate-half order (llama.cpp permutes them) */
    bool norm_plus_one;        /* HF RMSNorm weights w are applied as (1 + w); GGUF stores 1 + w */
    bool qkv_bias;             /* q, k, v projections have biases */
    bool qk_norm;              /* RMSNorm on each query and key head */
    bool post_norms;           /* extra norms after attention and after the FFN */
    bool embd_scale;           /* token embeddings are scaled by sqrt(n_embd) */
    bool rope_neox;            /* RoPE on pairs (i, i + d/2); else adjacent pairs (GGUF llama) */
    enum mw_act_kind act;      /* FFN gate activation */
    int64_t swa_pattern;       /* every swa_pattern-th block is global; 0 = no sliding window */
    double rope_base_local;    /* RoPE base of sliding-window blocks */
} mw_arch;

/* The family for a GGUF architecture name or an HF model_type; NULL if none. */
const mw_arch *mw_arch_find(const char *name);
const mw_arch *mw_arch_find_hf(const char *model_type);

/* Maps an HF tensor name to its GGUF name (false if the name is not a tensor
 * of this family). */
bool mw_arch_hf_to_gguf(const mw_arch *a, const char *hf, char *out, size_t out_size);
bool mw_arch_gguf_to_hf(const mw_arch *a, const char *gguf, char *out, size_t out_size);

/* Whether a GGUF tensor of this family is an RMSNorm weight (for the +1
 * convention) and whether it is a q or k projection (for the row order). */
bool mw_arch_is_norm(const char *gguf_name);
/* 0 = no, 1 = query projection, 2 = key projection */
int mw_arch_qk_kind(const char *gguf_name);

#endif
