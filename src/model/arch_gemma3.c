/* Gemma 3 text models: GeGLU, norms before and after attention and FFN,
 * per-head q/k RMSNorm, sliding-window attention on 5 of every 6 blocks. */
#include "model/arch.h"

static const mw_name_pair GEMMA3_BLOCK[] = {
    {"attn_norm", "input_layernorm"},
    {"attn_q", "self_attn.q_proj"},
    {"attn_k", "self_attn.k_proj"},
    {"attn_v", "self_attn.v_proj"},
    {"attn_q_norm", "self_attn.q_norm"},
    {"attn_k_norm", "self_attn.k_norm"},
    {"attn_output", "self_attn.o_proj"},
    {"post_attention_norm", "post_attention_layernorm"},
    {"ffn_norm", "pre_feedforward_layernorm"},
    {"ffn_gate", "mlp.gate_proj"},
    {"ffn_up", "mlp.up_proj"},
    {"ffn_down", "mlp.down_proj"},
    {"post_ffw_norm", "post_feedforward_layernorm"},
    {NULL, NULL},
};

const mw_arch mw_arch_gemma3 = {
    .name = "gemma3",
    .hf_model_type = "gemma3_text",
    .hf_class = "Gemma3ForCausalLM",
    .blk = GEMMA3_BLOCK,
    /* Gemma's RMSNorm scales by (1 + w); llama.cpp's converter adds the 1 */
    .norm_plus_one = true,
    .qk_norm = true,
    .post_norms = true,
    .embd_scale = true,
    .act = MW_ACT_GELU_TANH,
    .rope_neox = true,
    /* llama.cpp fixes these for gemma3 rather than reading them from GGUF */
    .swa_pattern = 6,
    .rope_base_local = 10000.0,
};
