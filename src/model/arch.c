/* Families and the name mapping between GGUF and Hugging Face checkpoints. */
#include "model/arch.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern const mw_arch mw_arch_llama, mw_arch_qwen2, mw_arch_qwen3, mw_arch_gemma3;

static const mw_arch *const ARCHS[] = {&mw_arch_llama, &mw_arch_qwen2, &mw_arch_qwen3,
                                       &mw_arch_gemma3};
#define N_ARCHS (sizeof ARCHS / sizeof ARCHS[0])

const mw_arch *mw_arch_find(const char *name) {
    for (size_t i = 0; i < N_ARCHS; i++)
        if (strcmp(ARCHS[i]->name, name) == 0) return ARCHS[i];
    return NULL;
}

const mw_arch *mw_arch_find_hf(const char *model_type) {
    for (size_t i = 0; i < N_ARCHS; i++)
        if (strcmp(ARCHS[i]->hf_model_type, model_type) == 0) return ARCHS[i];
    /* the full Gemma 3 config names its text part "gemma3_text"; plain
     * "gemma3" is the multimodal wrapper, which we do not read */
    return NULL;
}

/* Tensors outside the blocks are the same for every family. */
static const mw_name_pair GLOBAL[] = {
    {"token_embd", "model.embed_tokens"},
    {"output_norm", "model.norm"},
    {"output", "lm_head"},
    {NULL, NULL},
};

/* Splits "<prefix><index>.<rest>" and returns rest; -1 if it does not match. */
static long split_block(const char *name, const char *prefix, const char **rest) {
    size_t n = strlen(prefix);
    if (strncmp(name, prefix, n) != 0) return -1;
    const char *p = name + n;
    if (*p < '0' || *p > '9') return -1;
    char *end;
    long idx = strtol(p, &end, 10);
    if (*end != '.' || idx < 0 || idx > 100000 || (p[0] == '0' && end - p > 1)) return -1;
    *rest = end + 1;
    return idx;
}

/* Splits "stem.weight" / "stem.bias" into the stem and the suffix. */
static bool split_suffix(const char *name, char *stem, size_t size, const char **suffix) {
    const char *dot = strrchr(name, '.');
    if (!dot || (strcmp(dot, ".weight") != 0 && strcmp(dot, ".bias") != 0)) return false;
    size_t n = (size_t)(dot - name);
    if (n == 0 || n >= size) return false;
    memcpy(stem, name, n);
    stem[n] = 0;
    *suffix = dot;
    return true;
}

static bool map_name(const mw_arch *a, const char *from, char *out, size_t out_size, bool to_gguf) {
    const char *src_prefix = to_gguf ? "model.layers." : "blk.";
    const char *dst_prefix = to_gguf ? "blk." : "model.layers.";
    const char *rest, *suffix;
    char stem[128];
    long blk = split_block(from, src_prefix, &rest);
    const char *name = blk >= 0 ? rest : from;
    if (!split_suffix(name, stem, sizeof stem, &suffix)) return false;
    const mw_name_pair *table = blk >= 0 ? a->blk : GLOBAL;
    for (const mw_name_pair *p = table; p->gguf; p++) {
        const char *src = to_gguf ? p->hf : p->gguf, *dst = to_gguf ? p->gguf : p->hf;
        if (strcmp(stem, src) != 0) continue;
        int n = blk >= 0 ? snprintf(out, out_size, "%s%ld.%s%s", dst_prefix, blk, dst, suffix)
                         : snprintf(out, out_size, "%s%s", dst, suffix);
        return n > 0 && (size_t)n < out_size;
    }
    return false;
}

bool mw_arch_hf_to_gguf(const mw_arch *a, const char *hf, char *out, size_t out_size) {
    return map_name(a, hf, out, out_size, true);
}

bool mw_arch_gguf_to_hf(const mw_arch *a, const char *gguf, char *out, size_t out_size) {
    return map_name(a, gguf, out, out_size, false);
}

bool mw_arch_is_norm(const char *gguf_name) {
    const char *dot = strrchr(gguf_name, '.');
    if (!dot || strcmp(dot, ".weight") != 0) return false;
    size_t n = (size_t)(dot - gguf_name);
    return n >= 4 && strncmp(dot - 4, "norm", 4) == 0;
}

int mw_arch_qk_kind(const char *gguf_name) {
    const char *rest;
    if (split_block(gguf_name, "blk.", &rest) < 0) return 0;
    if (strcmp(rest, "attn_q.weight") == 0 || strcmp(rest, "attn_q.bias") == 0) return 1;
    if (strcmp(rest, "attn_k.weight") == 0 || strcmp(rest, "attn_k.bias") == 0) return 2;
    return 0;
}
