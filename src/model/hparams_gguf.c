#include "model/hparams.h"

#include "core/err.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static const mw_gguf_kv *arch_kv(const mw_gguf *g, const char *arch, const char *suffix) {
    char key[128];
    snprintf(key, sizeof key, "%s.%s", arch, suffix);
    return mw_gguf_find_kv(g, key);
}

/* A required positive integer key. */
static enum mw_status need_int(const mw_gguf *g, const char *arch, const char *suffix, int64_t *out,
                               mw_err *err) {
    const mw_gguf_kv *kv = arch_kv(g, arch, suffix);
    if (!kv) return mw_fail(err, MW_ERR_NOT_FOUND, "missing GGUF key %s.%s", arch, suffix);
    if (!mw_gguf_kv_int(kv, out) || *out <= 0 || *out > (1ll << 40))
        return mw_fail(err, MW_ERR_FORMAT, "GGUF key %s.%s must be a positive integer", arch,
                       suffix);
    return MW_OK;
}

static enum mw_status opt_float(const mw_gguf *g, const char *arch, const char *suffix, double *out,
                                double dflt, mw_err *err) {
    const mw_gguf_kv *kv = arch_kv(g, arch, suffix);
    *out = dflt;
    if (!kv) return MW_OK;
    if (!mw_gguf_kv_float(kv, out) || !isfinite(*out) || *out < 0)
        return mw_fail(err, MW_ERR_FORMAT, "GGUF key %s.%s must be a non-negative number", arch,
                       suffix);
    return MW_OK;
}

/* n_head_kv may be an array (one per block) in some files; we need one value. */
static enum mw_status read_head_kv(const mw_gguf *g, const char *arch, mw_hparams *hp,
                                   mw_err *err) {
    const mw_gguf_kv *kv = arch_kv(g, arch, "attention.head_count_kv");
    hp->n_head_kv = hp->n_head;
    if (!kv) return MW_OK;
    if (mw_gguf_kv_int(kv, &hp->n_head_kv) && hp->n_head_kv > 0 && hp->n_head % hp->n_head_kv == 0)
        return MW_OK;
    return mw_fail(err, MW_ERR_FORMAT,
                   "GGUF key %s.attention.head_count_kv must be a positive divisor of the head "
                   "count",
                   arch);
}

/* Limits that keep derived sizes (heads x head_dim, one name per block) sane;
 * block indices past 100000 are not parsed from tensor names anyway. */
#define MAX_LAYERS 100000
#define MAX_SIZE   (1ll << 40)

static enum mw_status check_sizes(const char *arch, mw_hparams *hp, bool has_key_length,
                                  mw_err *err) {
    if (hp->n_layer > MAX_LAYERS)
        return mw_fail(err, MW_ERR_FORMAT, "GGUF key %s.block_count %lld is more than %d", arch,
                       (long long)hp->n_layer, MAX_LAYERS);
    if (!has_key_length && hp->n_embd % hp->n_head != 0)
        return mw_fail(err, MW_ERR_FORMAT,
                       "GGUF key %s.embedding_length %lld is not a multiple of the head count "
                       "%lld, and there is no %s.attention.key_length",
                       arch, (long long)hp->n_embd, (long long)hp->n_head, arch);
    if (hp->head_dim > MAX_SIZE / hp->n_head)
        return mw_fail(err, MW_ERR_FORMAT, "GGUF: %s head count x key length is too large", arch);
    return MW_OK;
}

/* Linear RoPE scaling of the global blocks, as llama.cpp reads it: the type
 * defaults to linear, the factor to none; the other types change the
 * frequencies in ways we do not compute. */
static enum mw_status read_rope_scaling(const mw_gguf *g, const char *arch, mw_hparams *hp,
                                        mw_err *err) {
    double factor = 0;
    enum mw_status s = opt_float(g, arch, "rope.scaling.factor", &factor, 0, err);
    if (!s && !arch_kv(g, arch, "rope.scaling.factor"))
        s = opt_float(g, arch, "rope.scale_linear", &factor, 0, err);
    if (s) return s;
    const mw_gguf_kv *kv = arch_kv(g, arch, "rope.scaling.type");
    const char *type = kv ? mw_gguf_kv_str(kv) : "linear";
    if (!type)
        return mw_fail(err, MW_ERR_FORMAT, "GGUF key %s.rope.scaling.type must be a string", arch);
    if (strcmp(type, "none") == 0 || factor == 0 || factor == 1) return MW_OK;
    if (strcmp(type, "linear") != 0)
        return mw_fail(err, MW_ERR_UNSUPPORTED, "RoPE scaling '%.20s' is not supported (linear is)",
                       type);
    hp->rope_scale = factor;
    return MW_OK;
}

/* Gemma's attention scale: the attention.scale key when a file has it (our
 * converter writes it from query_pre_attn_scalar); otherwise llama.cpp's rule,
 * as its converter writes no key: hidden / heads for the 27B model (62
 * blocks), head_dim for the others. 0 stands for 1/sqrt(head_dim). */
static enum mw_status read_attn_scale(const mw_gguf *g, const char *arch, mw_hparams *hp,
                                      mw_err *err) {
    double v = 0;
    enum mw_status s = opt_float(g, arch, "attention.scale", &v, 0, err);
    if (s) return s;
    if (!arch_kv(g, arch, "attention.scale") && hp->n_layer == 62)
        v = 1.0 / sqrt((double)(hp->n_embd / hp->n_head));
    if (fabs(v * sqrt((double)hp->head_dim) - 1) > 1e-6) hp->attn_scale = v;
    return MW_OK;
}

enum mw_status mw_hparams_from_gguf(const mw_gguf *g, mw_hparams *hp, const mw_arch **arch,
                                    mw_err *err) {
    memset(hp, 0, sizeof *hp);
    const mw_gguf_kv *arch_name = mw_gguf_find_kv(g, "general.architecture");
    if (!arch_name) return mw_fail(err, MW_ERR_NOT_FOUND, "missing GGUF key general.architecture");
    const char *name = mw_gguf_kv_str(arch_name);
    if (!name) return mw_fail(err, MW_ERR_FORMAT, "GGUF key general.architecture must be a string");
    const mw_arch *a = mw_arch_find(name);
    if (!a)
        return mw_fail(err, MW_ERR_UNSUPPORTED,
                       "architecture '%.40s' is not supported (llama, qwen2, qwen3, gemma3 are)",
                       name);
    snprintf(hp->arch, sizeof hp->arch, "%s", a->name);
    enum mw_status s;
    if ((s = need_int(g, name, "block_count", &hp->n_layer, err)) ||
        (s = need_int(g, name, "embedding_length", &hp->n_embd, err)) ||
        (s = need_int(g, name, "feed_forward_length", &hp->n_ff, err)) ||
        (s = need_int(g, name, "attention.head_count", &hp->n_head, err)) ||
        (s = need_int(g, name, "context_length", &hp->n_ctx_train, err)) ||
        (s = read_head_kv(g, name, hp, err)))
        return s;
    hp->head_dim = hp->n_embd / hp->n_head;
    bool has_key_length = arch_kv(g, name, "attention.key_length") != NULL;
    if (has_key_length && (s = need_int(g, name, "attention.key_length", &hp->head_dim, err)))
        return s;
    if ((s = check_sizes(name, hp, has_key_length, err))) return s;
    if ((s = opt_float(g, name, "attention.layer_norm_rms_epsilon", &hp->norm_eps, 1e-5, err)) ||
        (s = opt_float(g, name, "rope.freq_base", &hp->rope_base, 10000.0, err)))
        return s;
    if (a->swa_pattern) {
        hp->swa_pattern = a->swa_pattern;
        if ((s = need_int(g, name, "attention.sliding_window", &hp->sliding_window, err)) ||
            (s = opt_float(g, name, "rope.freq_base_swa", &hp->rope_base_local, a->rope_base_local,
                           err)))
            return s;
    }
    if ((s = read_rope_scaling(g, name, hp, err))) return s;
    if (strcmp(a->name, "gemma3") == 0 && (s = read_attn_scale(g, name, hp, err))) return s;
    const mw_gguf_kv *tokens = mw_gguf_find_kv(g, "tokenizer.ggml.tokens");
    const mw_tensor *embd = mw_gguf_find_tensor(g, "token_embd.weight");
    if (tokens && tokens->type == MW_GGUF_ARRAY)
        hp->n_vocab = (int64_t)tokens->n;
    else if (embd)
        hp->n_vocab = embd->ne[1];
    hp->tied_output = mw_gguf_find_tensor(g, "output.weight") == NULL;
    *arch = a;
    return MW_OK;
}

static enum mw_status set_arch_u32(mw_gguf_writer *w, const char *arch, const char *suffix,
                                   int64_t v, mw_err *err) {
    char key[128];
    snprintf(key, sizeof key, "%s.%s", arch, suffix);
    if (v < 0 || v > UINT32_MAX)
        return mw_fail(err, MW_ERR_ARG, "%s = %lld does not fit a uint32", key, (long long)v);
    return mw_gguf_writer_set_u32(w, key, (uint32_t)v, err);
}

static enum mw_status set_arch_f32(mw_gguf_writer *w, const char *arch, const char *suffix,
                                   double v, mw_err *err) {
    char key[128];
    snprintf(key, sizeof key, "%s.%s", arch, suffix);
    return mw_gguf_writer_set_f32(w, key, (float)v, err);
}

enum mw_status mw_hparams_to_gguf(const mw_hparams *hp, mw_gguf_writer *w, mw_err *err) {
    const char *a = hp->arch;
    enum mw_status s;
    if ((s = mw_gguf_writer_set_str(w, "general.architecture", a, err)) ||
        (s = set_arch_u32(w, a, "context_length", hp->n_ctx_train, err)) ||
        (s = set_arch_u32(w, a, "embedding_length", hp->n_embd, err)) ||
        (s = set_arch_u32(w, a, "block_count", hp->n_layer, err)) ||
        (s = set_arch_u32(w, a, "feed_forward_length", hp->n_ff, err)) ||
        (s = set_arch_u32(w, a, "attention.head_count", hp->n_head, err)) ||
        (s = set_arch_u32(w, a, "attention.head_count_kv", hp->n_head_kv, err)) ||
        (s = set_arch_u32(w, a, "attention.key_length", hp->head_dim, err)) ||
        (s = set_arch_u32(w, a, "attention.value_length", hp->head_dim, err)) ||
        (s = set_arch_f32(w, a, "attention.layer_norm_rms_epsilon", hp->norm_eps, err)) ||
        (s = set_arch_f32(w, a, "rope.freq_base", hp->rope_base, err)))
        return s;
    if (strcmp(a, "llama") == 0 &&
        (s = set_arch_u32(w, a, "rope.dimension_count", hp->head_dim, err)))
        return s;
    if (hp->sliding_window > 0 &&
        ((s = set_arch_u32(w, a, "attention.sliding_window", hp->sliding_window, err)) ||
         (s = set_arch_f32(w, a, "rope.freq_base_swa", hp->rope_base_local, err))))
        return s;
    if (hp->rope_scale > 0 && hp->rope_scale != 1) {
        char key[128];
        snprintf(key, sizeof key, "%s.rope.scaling.type", a);
        if ((s = mw_gguf_writer_set_str(w, key, "linear", err)) ||
            (s = set_arch_f32(w, a, "rope.scaling.factor", hp->rope_scale, err)))
            return s;
    }
    if (hp->attn_scale > 0 && (s = set_arch_f32(w, a, "attention.scale", hp->attn_scale, err)))
        return s;
    return MW_OK;
}
