/* Qwen 2 (q/k/v biases) and Qwen 3 (per-head q/k RMSNorm, no biases). */
#include "model/arch.h"

static const mw_name_pair QWEN_BLOCK[] = {
    {"attn_norm", "input_layernorm"},    {"attn_q", "self_attn.q_proj"},
    {"attn_k", "self_attn.k_proj"},      {"attn_v", "self_attn.v_proj"},
    {"attn_q_norm", "self_attn.q_norm"}, {"attn_k_norm", "self_attn.k_norm"},
    {"attn_output", "self_attn.o_proj"}, {"ffn_norm", "post_attention_layernorm"},
    {"ffn_gate", "mlp.gate_proj"},       {"ffn_up", "mlp.up_proj"},
    {"ffn_down", "mlp.down_proj"},       {NULL, NULL},
};

const mw_arch mw_arch_qwen2 = {
    .name = "qwen2",
    .hf_model_type = "qwen2",
    .hf_class = "Qwen2ForCausalLM",
    .blk = QWEN_BLOCK,
    .qkv_bias = true,
    .act = MW_ACT_SILU,
    .rope_neox = true,
};

const mw_arch mw_arch_qwen3 = {
    .name = "qwen3",
    .hf_model_type = "qwen3",
    .hf_class = "Qwen3ForCausalLM",
    .blk = QWEN_BLOCK,
    .qk_norm = true,
    .act = MW_ACT_SILU,
    .rope_neox = true,
};
