/* A model, whichever file it came from: tensors under GGUF names and in GGUF
 * layout, hyperparameters, and on-demand conversion to f32. */
#include "model/model.h"

#include "core/err.h"
#include "core/strmap.h"
#include "io/hf_tokenizer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

struct mw_model {
    enum mw_model_format format;
    mw_gguf *gguf;
    mw_st *st;
    char *dir;      /* safetensors folder */
    json_t *config; /* config.json of a folder */
    mw_hparams hp;
    const mw_arch *arch;
    int64_t n_tensors;
    mw_tensor *tensors; /* [n_tensors], GGUF names; data in the source file */
    char **names;       /* [n_tensors] owned names (folder) */
    mw_strmap index;
    char tokenizer_kind[96];
};

static bool is_dir(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static void describe_gguf_tokenizer(mw_model *m) {
    const char *model = mw_gguf_kv_str(mw_gguf_find_kv(m->gguf, "tokenizer.ggml.model"));
    const char *pre = mw_gguf_kv_str(mw_gguf_find_kv(m->gguf, "tokenizer.ggml.pre"));
    if (!model)
        snprintf(m->tokenizer_kind, sizeof m->tokenizer_kind, "none");
    else if (strcmp(model, "llama") == 0)
        snprintf(m->tokenizer_kind, sizeof m->tokenizer_kind,
                 "llama (SentencePiece BPE, byte fallback)");
    else if (strcmp(model, "gpt2") == 0)
        snprintf(m->tokenizer_kind, sizeof m->tokenizer_kind, "gpt2 (byte-level BPE, pre '%.32s')",
                 pre ? pre : "default");
    else
        snprintf(m->tokenizer_kind, sizeof m->tokenizer_kind, "%.40s", model);
}

static enum mw_status index_tensors(mw_model *m, mw_err *err) {
    if (!mw_strmap_init(&m->index, (uint64_t)m->n_tensors))
        return mw_fail(err, MW_ERR_NOMEM, "out of memory");
    for (int64_t i = 0; i < m->n_tensors; i++)
        if (!mw_strmap_put(&m->index, m->tensors[i].name, i))
            return mw_fail(err, MW_ERR_FORMAT, "tensor '%s' appears twice", m->tensors[i].name);
    return MW_OK;
}

static enum mw_status open_gguf(mw_model *m, const char *path, mw_err *err) {
    enum mw_status s = mw_gguf_open(path, &m->gguf, err);
    if (s) return s;
    m->format = MW_FORMAT_GGUF;
    if ((s = mw_hparams_from_gguf(m->gguf, &m->hp, &m->arch, err)))
        return mw_fail_context(err, s, "%s", path);
    m->n_tensors = mw_gguf_n_tensors(m->gguf);
    m->tensors = calloc((size_t)(m->n_tensors ? m->n_tensors : 1), sizeof *m->tensors);
    if (!m->tensors) return mw_fail(err, MW_ERR_NOMEM, "out of memory");
    for (int64_t i = 0; i < m->n_tensors; i++)
        m->tensors[i] = *mw_gguf_tensor_at(m->gguf, i);
    describe_gguf_tokenizer(m);
    return index_tensors(m, err);
}

/* Folder tensors get their GGUF names; names this family does not have are
 * an error, except buffers that transformers saves but never loads. */
static enum mw_status map_folder_tensors(mw_model *m, mw_err *err) {
    int64_t n = mw_st_n_tensors(m->st);
    m->tensors = calloc((size_t)(n ? n : 1), sizeof *m->tensors);
    m->names = calloc((size_t)(n ? n : 1), sizeof *m->names);
    if (!m->tensors || !m->names) return mw_fail(err, MW_ERR_NOMEM, "out of memory");
    for (int64_t i = 0; i < n; i++) {
        const mw_tensor *t = mw_st_tensor_at(m->st, i);
        char name[256];
        if (strstr(t->name, "rotary_emb.inv_freq")) continue;
        if (!mw_arch_hf_to_gguf(m->arch, t->name, name, sizeof name))
            return mw_fail(err, MW_ERR_UNSUPPORTED, "%s: tensor '%.80s' is not part of a %s model",
                           m->dir, t->name, m->arch->name);
        if (!mw_type_can_dequantize(t->type))
            return mw_fail(err, MW_ERR_UNSUPPORTED, "%s: tensor '%.80s' has an unsupported type",
                           m->dir, t->name);
        m->names[m->n_tensors] = strdup(name);
        if (!m->names[m->n_tensors]) return mw_fail(err, MW_ERR_NOMEM, "out of memory");
        m->tensors[m->n_tensors] = *t;
        m->tensors[m->n_tensors].name = m->names[m->n_tensors];
        m->n_tensors++;
    }
    return MW_OK;
}

static enum mw_status open_folder(mw_model *m, const char *dir, mw_err *err) {
    char path[4096];
    m->format = MW_FORMAT_SAFETENSORS;
    m->dir = strdup(dir);
    if (!m->dir) return mw_fail(err, MW_ERR_NOMEM, "out of memory");
    snprintf(path, sizeof path, "%s/config.json", dir);
    enum mw_status s = mw_json_load_file(path, &m->config, err);
    if (s) return s;
    if ((s = mw_hparams_from_config(m->config, &m->hp, &m->arch, err)))
        return mw_fail_context(err, s, "%s", path);
    if ((s = mw_st_open(dir, &m->st, err))) return s;
    if ((s = map_folder_tensors(m, err))) return s;
    m->hp.tied_output = m->hp.tied_output || !mw_model_find_tensor(m, "output.weight");
    snprintf(m->tokenizer_kind, sizeof m->tokenizer_kind, "%s", mw_hf_tokenizer_kind(dir));
    return index_tensors(m, err);
}

enum mw_status mw_model_open(const char *path, mw_model **out, mw_err *err) {
    *out = NULL;
    mw_model *m = calloc(1, sizeof *m);
    if (!m) return mw_fail(err, MW_ERR_NOMEM, "out of memory");
    enum mw_status s = is_dir(path) ? open_folder(m, path, err) : open_gguf(m, path, err);
    if (!s) s = mw_model_check_shapes(m, err);
    if (s) {
        mw_model_close(m);
        return s;
    }
    *out = m;
    return MW_OK;
}

void mw_model_close(mw_model *m) {
    if (!m) return;
    mw_gguf_close(m->gguf);
    mw_st_close(m->st);
    if (m->config) json_decref(m->config);
    if (m->names)
        for (int64_t i = 0; i < m->n_tensors; i++)
            free(m->names[i]);
    free(m->names);
    free(m->tensors);
    free(m->dir);
    mw_strmap_free(&m->index);
    free(m);
}

enum mw_model_format mw_model_format(const mw_model *m) {
    return m->format;
}
const mw_hparams *mw_model_hparams(const mw_model *m) {
    return &m->hp;
}
const char *mw_model_tokenizer_kind(const mw_model *m) {
    return m->tokenizer_kind;
}
const mw_gguf *mw_model_gguf(const mw_model *m) {
    return m->gguf;
}
const mw_st *mw_model_st(const mw_model *m) {
    return m->st;
}
const char *mw_model_dir(const mw_model *m) {
    return m->dir;
}
const json_t *mw_model_config(const mw_model *m) {
    return m->config;
}
const mw_arch *mw_model_arch(const mw_model *m) {
    return m->arch;
}
int64_t mw_model_n_tensors(const mw_model *m) {
    return m->n_tensors;
}

const mw_tensor *mw_model_tensor_at(const mw_model *m, int64_t i) {
    return i >= 0 && i < m->n_tensors ? &m->tensors[i] : NULL;
}

const mw_tensor *mw_model_find_tensor(const mw_model *m, const char *name) {
    int64_t i = mw_strmap_get(&m->index, name);
    return i >= 0 ? &m->tensors[i] : NULL;
}

static int64_t n_rows_of(const mw_tensor *t) {
    return t->ne[0] ? (int64_t)(t->n_elems / (uint64_t)t->ne[0]) : 0;
}

int64_t mw_model_row_align(const mw_model *m, int64_t i) {
    const mw_tensor *t = mw_model_tensor_at(m, i);
    return t ? mw_layout_row_align(m->arch, &m->hp, t) : 1;
}

enum mw_status mw_model_tensor_rows_f32(const mw_model *m, int64_t i, int64_t first, int64_t n,
                                        float *dst, mw_err *err) {
    const mw_tensor *t = mw_model_tensor_at(m, i);
    if (!t) return mw_fail(err, MW_ERR_ARG, "no tensor %lld", (long long)i);
    if (first < 0 || n < 0 || first > n_rows_of(t) - n)
        return mw_fail(err, MW_ERR_ARG, "tensor '%s': rows [%lld, +%lld) out of range", t->name,
                       (long long)first, (long long)n);
    uint64_t row_bytes = 0;
    mw_type_row_bytes(t->type, (uint64_t)t->ne[0], &row_bytes);
    const uint8_t *src = (const uint8_t *)t->data + (uint64_t)first * row_bytes;
    enum mw_status s = mw_dequantize(t->type, src, dst, (uint64_t)n * (uint64_t)t->ne[0], err);
    if (s) return mw_fail_context(err, s, "tensor '%s'", t->name);
    if (m->format == MW_FORMAT_SAFETENSORS)
        return mw_layout_hf_to_gguf(m->arch, &m->hp, t, first, n, dst, err);
    return MW_OK;
}

enum mw_status mw_model_tensor_f32(const mw_model *m, int64_t i, float *dst, mw_err *err) {
    const mw_tensor *t = mw_model_tensor_at(m, i);
    if (!t) return mw_fail(err, MW_ERR_ARG, "no tensor %lld", (long long)i);
    return mw_model_tensor_rows_f32(m, i, 0, n_rows_of(t), dst, err);
}

static bool is_embedding(const char *name) {
    return strcmp(name, "token_embd.weight") == 0 || strcmp(name, "output.weight") == 0;
}

void mw_model_param_counts(const mw_model *m, mw_param_counts *out) {
    memset(out, 0, sizeof *out);
    for (int64_t i = 0; i < m->n_tensors; i++) {
        const mw_tensor *t = &m->tensors[i];
        if (is_embedding(t->name))
            out->embedding += t->n_elems;
        else if (strncmp(t->name, "blk.", 4) == 0)
            out->blocks += t->n_elems;
        else
            out->other += t->n_elems;
        out->total += t->n_elems;
    }
}
