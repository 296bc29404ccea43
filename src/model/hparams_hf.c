/* Hugging Face config.json for the text models we handle. */
#include "model/hparams.h"

#include "core/err.h"

#include <math.h>
#include <string.h>

enum mw_status mw_json_load_file(const char *path, json_t **out, mw_err *err) {
    json_error_t je;
    *out = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
    if (*out) return MW_OK;
    if (je.line < 0 || json_error_code(&je) == json_error_cannot_open_file)
        return mw_fail(err, MW_ERR_IO, "cannot read %s: %s", path, je.text);
    return mw_fail(err, MW_ERR_FORMAT, "%s is not valid JSON (line %d: %s)", path, je.line,
                   je.text);
}

static enum mw_status get_int(const json_t *c, const char *key, int64_t *out, bool required,
                              mw_err *err) {
    const json_t *v = json_object_get(c, key);
    if (!v || json_is_null(v)) {
        if (required) return mw_fail(err, MW_ERR_NOT_FOUND, "config.json has no \"%s\"", key);
        return MW_OK;
    }
    if (!json_is_integer(v) || json_integer_value(v) <= 0 || json_integer_value(v) > (1ll << 40))
        return mw_fail(err, MW_ERR_FORMAT, "config.json \"%s\" must be a positive integer", key);
    *out = json_integer_value(v);
    return MW_OK;
}

static enum mw_status get_float(const json_t *c, const char *key, double *out, mw_err *err) {
    const json_t *v = json_object_get(c, key);
    if (!v || json_is_null(v)) return MW_OK;
    if (!json_is_number(v) || !isfinite(json_number_value(v)) || json_number_value(v) < 0)
        return mw_fail(err, MW_ERR_FORMAT, "config.json \"%s\" must be a non-negative number", key);
    *out = json_number_value(v);
    return MW_OK;
}

/* Limits that keep derived sizes (heads x head_dim, one name per block) sane;
 * block indices past 100000 are not parsed from tensor names anyway. */
#define MAX_LAYERS 100000
#define MAX_SIZE   (1ll << 40)

static enum mw_status read_sizes(const json_t *c, mw_hparams *hp, mw_err *err) {
    enum mw_status s;
    hp->n_ctx_train = 2048;
    if ((s = get_int(c, "vocab_size", &hp->n_vocab, true, err)) ||
        (s = get_int(c, "hidden_size", &hp->n_embd, true, err)) ||
        (s = get_int(c, "num_hidden_layers", &hp->n_layer, true, err)) ||
        (s = get_int(c, "num_attention_heads", &hp->n_head, true, err)) ||
        (s = get_int(c, "intermediate_size", &hp->n_ff, true, err)) ||
        (s = get_int(c, "max_position_embeddings", &hp->n_ctx_train, false, err)))
        return s;
    if (hp->n_layer > MAX_LAYERS)
        return mw_fail(err, MW_ERR_FORMAT, "config.json \"num_hidden_layers\" %lld is more than %d",
                       (long long)hp->n_layer, MAX_LAYERS);
    hp->n_head_kv = hp->n_head;
    hp->head_dim = 0;
    if ((s = get_int(c, "num_key_value_heads", &hp->n_head_kv, false, err)) ||
        (s = get_int(c, "head_dim", &hp->head_dim, false, err)))
        return s;
    if (hp->head_dim == 0) {
        if (hp->n_embd % hp->n_head != 0)
            return mw_fail(err, MW_ERR_FORMAT,
                           "config.json: hidden_size %lld is not a multiple of "
                           "num_attention_heads %lld, and there is no head_dim",
                           (long long)hp->n_embd, (long long)hp->n_head);
        hp->head_dim = hp->n_embd / hp->n_head;
    }
    if (hp->head_dim > MAX_SIZE / hp->n_head)
        return mw_fail(err, MW_ERR_FORMAT,
                       "config.json: num_attention_heads x head_dim is too large");
    if (hp->n_head % hp->n_head_kv != 0)
        return mw_fail(err, MW_ERR_FORMAT,
                       "config.json: num_key_value_heads must divide num_attention_heads");
    return MW_OK;
}

/* The kind of one RoPE parameter set ({"rope_type" or "type": ..., "factor":
 * ...}): none, or a linear factor; other kinds change the frequencies in
 * ways we do not compute. */
static enum mw_status rope_factor(const json_t *rs, const char *key, double *factor, mw_err *err) {
    *factor = 1;
    if (!rs || json_is_null(rs)) return MW_OK;
    if (!json_is_object(rs))
        return mw_fail(err, MW_ERR_FORMAT, "config.json \"%s\" must be an object or null", key);
    const json_t *t = json_object_get(rs, "rope_type");
    if (!t || json_is_null(t)) t = json_object_get(rs, "type");
    const char *type = !t || json_is_null(t) ? "default" : json_string_value(t);
    if (!type) return mw_fail(err, MW_ERR_FORMAT, "config.json \"%s\" type must be a string", key);
    if (strcmp(type, "default") == 0) return MW_OK;
    if (strcmp(type, "linear") != 0)
        return mw_fail(err, MW_ERR_UNSUPPORTED,
                       "config.json \"%s\": RoPE scaling '%.20s' is not supported (linear is)", key,
                       type);
    const json_t *f = json_object_get(rs, "factor");
    if (!json_is_number(f) || !isfinite(json_number_value(f)) || json_number_value(f) <= 0)
        return mw_fail(err, MW_ERR_FORMAT,
                       "config.json \"%s\": linear scaling needs a positive \"factor\"", key);
    *factor = json_number_value(f);
    return MW_OK;
}

/* RoPE bases and scaling: transformers 4 writes "rope_theta",
 * "rope_local_base_freq" and "rope_scaling" (Gemma 3: for the global
 * blocks); transformers 5 one "rope_parameters" object, flat or per layer
 * type ("full_attention", "sliding_attention"). */
static enum mw_status read_rope(const json_t *c, const mw_arch *a, mw_hparams *hp, mw_err *err) {
    enum mw_status s;
    double local_factor = 1;
    if ((s = get_float(c, "rope_theta", &hp->rope_base, err))) return s;
    if (a->swa_pattern && (s = get_float(c, "rope_local_base_freq", &hp->rope_base_local, err)))
        return s;
    const json_t *rp = json_object_get(c, "rope_parameters");
    if (!rp || json_is_null(rp)) {
        s = rope_factor(json_object_get(c, "rope_scaling"), "rope_scaling", &hp->rope_scale, err);
    } else if (!json_is_object(rp)) {
        s = mw_fail(err, MW_ERR_FORMAT, "config.json \"rope_parameters\" must be an object");
    } else if (json_object_get(rp, "full_attention") || json_object_get(rp, "sliding_attention")) {
        const json_t *full = json_object_get(rp, "full_attention");
        const json_t *slide = json_object_get(rp, "sliding_attention");
        if (!(s = rope_factor(full, "rope_parameters", &hp->rope_scale, err)) &&
            !(s = rope_factor(slide, "rope_parameters", &local_factor, err)) && full)
            s = get_float(full, "rope_theta", &hp->rope_base, err);
        if (!s && slide && a->swa_pattern)
            s = get_float(slide, "rope_theta", &hp->rope_base_local, err);
    } else if (!(s = rope_factor(rp, "rope_parameters", &hp->rope_scale, err))) {
        s = get_float(rp, "rope_theta", &hp->rope_base, err);
    }
    if (!s && local_factor != 1)
        s = mw_fail(err, MW_ERR_UNSUPPORTED,
                    "config.json: RoPE scaling of the sliding-window layers is not supported");
    if (hp->rope_scale == 1) hp->rope_scale = 0;
    return s;
}

/* Gemma scales q.k by query_pre_attn_scalar^-1/2 (head_dim for most sizes,
 * hidden / heads for the 27B model); 0 stands for 1/sqrt(head_dim). */
static enum mw_status read_attn_scale(const json_t *c, mw_hparams *hp, mw_err *err) {
    double v = 0;
    enum mw_status s = get_float(c, "query_pre_attn_scalar", &v, err);
    if (s) return s;
    if (v > 0 && fabs(v / (double)hp->head_dim - 1) > 1e-9) hp->attn_scale = 1 / sqrt(v);
    return MW_OK;
}

enum mw_status mw_hparams_from_config(const json_t *c, mw_hparams *hp, const mw_arch **arch,
                                      mw_err *err) {
    memset(hp, 0, sizeof *hp);
    if (!json_is_object(c)) return mw_fail(err, MW_ERR_FORMAT, "config.json is not an object");
    const json_t *mt = json_object_get(c, "model_type");
    if (!mt || json_is_null(mt))
        return mw_fail(err, MW_ERR_NOT_FOUND, "config.json has no \"model_type\"");
    const char *type = json_string_value(mt);
    if (!type) return mw_fail(err, MW_ERR_FORMAT, "config.json \"model_type\" must be a string");
    const mw_arch *a = mw_arch_find_hf(type);
    if (!a)
        return mw_fail(err, MW_ERR_UNSUPPORTED,
                       "model_type '%.40s' is not supported (llama, qwen2, qwen3, gemma3_text are)",
                       type);
    snprintf(hp->arch, sizeof hp->arch, "%s", a->name);
    enum mw_status s = read_sizes(c, hp, err);
    if (s) return s;
    hp->norm_eps = 1e-6;
    hp->rope_base = 10000.0;
    if ((s = get_float(c, "rms_norm_eps", &hp->norm_eps, err))) return s;
    const json_t *tie = json_object_get(c, "tie_word_embeddings");
    /* transformers' default is tied; null is "not set", as for other keys */
    if (tie && !json_is_null(tie) && !json_is_boolean(tie))
        return mw_fail(err, MW_ERR_FORMAT,
                       "config.json \"tie_word_embeddings\" must be true or false");
    hp->tied_output = !tie || json_is_null(tie) || json_is_true(tie);
    if (a->swa_pattern) {
        hp->swa_pattern = a->swa_pattern;
        hp->rope_base_local = a->rope_base_local;
        hp->sliding_window = 4096;
        if ((s = get_int(c, "sliding_window", &hp->sliding_window, false, err)) ||
            (s = get_int(c, "sliding_window_pattern", &hp->swa_pattern, false, err)))
            return s;
    }
    if ((s = read_rope(c, a, hp, err))) return s;
    if (a->act == MW_ACT_GELU_TANH && (s = read_attn_scale(c, hp, err))) return s;
    *arch = a;
    return MW_OK;
}

static const char *torch_dtype(enum mw_type t) {
    switch (t) {
    case MW_TYPE_F16:
        return "float16";
    case MW_TYPE_BF16:
        return "bfloat16";
    default:
        return "float32";
    }
}

/* query_pre_attn_scalar for attn_scale: an integer where it is one (it is in
 * every published config), also after a trip through a GGUF's f32. */
static json_t *attn_scalar(const mw_hparams *hp) {
    if (hp->attn_scale <= 0) return json_integer(hp->head_dim);
    double v = 1 / (hp->attn_scale * hp->attn_scale), r = round(v);
    return fabs(v - r) < 1e-5 * v ? json_integer((json_int_t)r) : json_real(v);
}

/* What transformers needs beyond the sizes, per family. */
static void add_family_keys(json_t *c, const mw_hparams *hp, const mw_arch *a) {
    if (a->act == MW_ACT_GELU_TANH) {
        json_object_set_new(c, "hidden_activation", json_string("gelu_pytorch_tanh"));
        json_object_set_new(c, "query_pre_attn_scalar", attn_scalar(hp));
        json_object_set_new(c, "final_logit_softcapping", json_null());
        json_object_set_new(c, "attn_logit_softcapping", json_null());
    } else {
        json_object_set_new(c, "hidden_act", json_string("silu"));
    }
    if (a->swa_pattern) {
        json_object_set_new(c, "sliding_window", json_integer(hp->sliding_window));
        json_object_set_new(c, "sliding_window_pattern", json_integer(hp->swa_pattern));
        json_object_set_new(c, "rope_local_base_freq", json_real(hp->rope_base_local));
        json_t *types = json_array();
        for (int64_t i = 0; i < hp->n_layer; i++)
            json_array_append_new(types, json_string((i + 1) % hp->swa_pattern == 0
                                                         ? "full_attention"
                                                         : "sliding_attention"));
        json_object_set_new(c, "layer_types", types);
    }
    if (strcmp(a->name, "llama") == 0 || strcmp(a->name, "qwen3") == 0) {
        json_object_set_new(c, "attention_bias", json_false());
        if (strcmp(a->name, "llama") == 0) json_object_set_new(c, "mlp_bias", json_false());
    }
    if (strcmp(a->name, "qwen2") == 0 || strcmp(a->name, "qwen3") == 0)
        json_object_set_new(c, "use_sliding_window", json_false());
}

json_t *mw_hparams_to_config(const mw_hparams *hp, enum mw_type type, int64_t bos_id,
                             int64_t eos_id) {
    const mw_arch *a = mw_arch_find(hp->arch);
    if (!a) return NULL;
    json_t *c = json_object();
    json_object_set_new(c, "architectures", json_pack("[s]", a->hf_class));
    json_object_set_new(c, "model_type", json_string(a->hf_model_type));
    json_object_set_new(c, "vocab_size", json_integer(hp->n_vocab));
    json_object_set_new(c, "hidden_size", json_integer(hp->n_embd));
    json_object_set_new(c, "intermediate_size", json_integer(hp->n_ff));
    json_object_set_new(c, "num_hidden_layers", json_integer(hp->n_layer));
    json_object_set_new(c, "num_attention_heads", json_integer(hp->n_head));
    json_object_set_new(c, "num_key_value_heads", json_integer(hp->n_head_kv));
    json_object_set_new(c, "head_dim", json_integer(hp->head_dim));
    json_object_set_new(c, "max_position_embeddings", json_integer(hp->n_ctx_train));
    json_object_set_new(c, "rms_norm_eps", json_real(hp->norm_eps));
    json_object_set_new(c, "rope_theta", json_real(hp->rope_base));
    json_object_set_new(c, "tie_word_embeddings", json_boolean(hp->tied_output));
    json_object_set_new(
        c, "rope_scaling",
        hp->rope_scale > 0 && hp->rope_scale != 1
            ? json_pack("{s:s, s:f}", "rope_type", "linear", "factor", hp->rope_scale)
            : json_null());
    if (bos_id >= 0) json_object_set_new(c, "bos_token_id", json_integer(bos_id));
    if (eos_id >= 0) json_object_set_new(c, "eos_token_id", json_integer(eos_id));
    add_family_keys(c, hp, a);
    json_object_set_new(c, "torch_dtype", json_string(torch_dtype(type)));
    return c;
}
