/* Llama family (Llama 2/3, TinyLlama, SmolLM2). */
#include "model/arch.h"

static const mw_name_pair LLAMA_BLOCK[] = {
    {"attn_norm", "input_layernorm"},    {"attn_q", "self_attn.q_proj"},
    {"attn_k", "self_attn.k_proj"},      {"attn_v", "self_attn.v_proj"},
    {"attn_output", "self_attn.o_proj"}, {"ffn_norm", "post_attention_layernorm"},
    {"ffn_gate", "mlp.gate_proj"},       {"ffn_up", "mlp.up_proj"},
    {"ffn_down", "mlp.down_proj"},       {NULL, NULL},
};

const mw_arch mw_arch_llama = {
    .name = "llama",
    .hf_model_type = "llama",
    .hf_class = "LlamaForCausalLM",
    .blk = LLAMA_BLOCK,
    /* llama.cpp's llama graph uses interleaved RoPE; HF uses rotate-half, so
     * the converter reorders q/k rows */
    .permute_qk = true,
    .act = MW_ACT_SILU,
};
