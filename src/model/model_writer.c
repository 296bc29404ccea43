/* One writer for conversion and for pruned models. Tensors are declared up
 * front (both formats put offsets in the header) and then streamed in their
 * declared order, so at most one tensor's chunk is held at a time unless the
 * caller supplies values. */
#include "model/model_writer.h"

#include "core/err.h"
#include "model/arch.h"
#include "model/convert.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct entry {
    int64_t model_index;  /* model tensor (GGUF name and layout) */
    const mw_tensor *raw; /* file tensor written as stored (folder -> folder), or NULL */
    int64_t key;          /* writing order */
};

struct mw_model_writer {
    const mw_model *m;
    mw_gguf_writer *gguf;
    mw_st_writer *st;
    enum mw_type type;
    enum mw_layout_dir layout;
    struct entry *e;
    int64_t n, next;
    mw_convert_buf buf;
};

static bool ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

int64_t mw_convert_block_of(const char *n) {
    if (strncmp(n, "blk.", 4) != 0 || n[4] < '0' || n[4] > '9') return -1;
    char *end;
    long long b = strtoll(n + 4, &end, 10);
    return *end == '.' ? (int64_t)b : -1;
}

int64_t mw_convert_order_key(const mw_model *m, const char *n) {
    if (strcmp(n, "token_embd.weight") == 0) return -1;
    int64_t blk = mw_convert_block_of(n);
    if (blk < 0) return strcmp(n, "output_norm.weight") == 0 ? INT64_MAX - 1 : INT64_MAX;
    const char *rest = strchr(n + 4, '.') + 1;
    int64_t pos = 0;
    for (const mw_name_pair *p = mw_model_arch(m)->blk; p->gguf; p++, pos++) {
        size_t k = strlen(p->gguf);
        if (strncmp(rest, p->gguf, k) == 0 && rest[k] == '.') break;
    }
    return blk * 1000 + pos * 2 + (strstr(rest, ".bias") != NULL);
}

static int cmp_entry(const void *a, const void *b) {
    const struct entry *x = a, *y = b;
    if (x->key != y->key) return x->key < y->key ? -1 : 1;
    return (x->model_index > y->model_index) - (x->model_index < y->model_index);
}

static int64_t model_index_of(const mw_model *m, const char *gguf_name) {
    for (int64_t i = 0; i < mw_model_n_tensors(m); i++)
        if (strcmp(mw_model_tensor_at(m, i)->name, gguf_name) == 0) return i;
    return -1;
}

static const mw_tensor *declared(const mw_model_writer *w, const struct entry *e) {
    return e->raw ? e->raw : mw_model_tensor_at(w->m, e->model_index);
}

/* The entries in writing order. A folder written from a folder keeps its
 * tensors as stored (names, layout); everything else goes through the
 * model's GGUF view. */
static enum mw_status plan(mw_model_writer *w, enum mw_writer_order order, mw_err *err) {
    const mw_model *m = w->m;
    bool raw = w->st && mw_model_format(m) == MW_FORMAT_SAFETENSORS;
    const mw_st *st = mw_model_st(m);
    w->n = raw ? mw_st_n_tensors(st) : mw_model_n_tensors(m);
    w->e = calloc((size_t)(w->n ? w->n : 1), sizeof *w->e);
    if (!w->e) return mw_fail(err, MW_ERR_NOMEM, "out of memory");
    for (int64_t k = 0; k < w->n; k++) {
        struct entry *e = &w->e[k];
        if (raw) {
            e->raw = mw_st_tensor_at(st, k);
            char gguf[256];
            e->model_index = mw_arch_hf_to_gguf(mw_model_arch(m), e->raw->name, gguf, sizeof gguf)
                                 ? model_index_of(m, gguf)
                                 : -1;
        } else {
            e->model_index = k;
        }
        const char *name = e->model_index >= 0 ? mw_model_tensor_at(m, e->model_index)->name : "";
        e->key = order == MW_ORDER_BLOCKS || mw_model_format(m) == MW_FORMAT_SAFETENSORS
                     ? mw_convert_order_key(m, name)
                     : k;
    }
    /* a GGUF from a folder always gets llama.cpp's order; a folder from a
     * folder keeps the source order unless blocks are asked for */
    if (!(raw && order == MW_ORDER_SOURCE)) qsort(w->e, (size_t)w->n, sizeof *w->e, cmp_entry);
    return MW_OK;
}

static enum mw_status declare(mw_model_writer *w, mw_err *err) {
    for (int64_t k = 0; k < w->n; k++) {
        const struct entry *e = &w->e[k];
        const mw_tensor *t = declared(w, e);
        enum mw_type type = mw_convert_tensor_type(t, w->type);
        enum mw_status s;
        if (w->gguf) {
            s = mw_gguf_writer_add_tensor(w->gguf, t->name, type, t->n_dims, t->ne, err);
        } else if (e->raw) {
            s = mw_st_writer_add_tensor(w->st, t->name, type, t->n_dims, t->ne, err);
        } else {
            char hf[256];
            if (!mw_arch_gguf_to_hf(mw_model_arch(w->m), t->name, hf, sizeof hf))
                return mw_fail(err, MW_ERR_UNSUPPORTED, "tensor '%s' has no Hugging Face name",
                               t->name);
            s = mw_st_writer_add_tensor(w->st, hf, type, t->n_dims, t->ne, err);
        }
        if (s) return s;
    }
    return MW_OK;
}

enum mw_status mw_model_writer_create(const mw_model *m, const char *out, enum mw_type type,
                                      uint64_t max_shard_bytes, enum mw_writer_order order,
                                      mw_model_writer **wp, mw_err *err) {
    *wp = NULL;
    if (type != MW_TYPE_F32 && type != MW_TYPE_F16 && type != MW_TYPE_BF16)
        return mw_fail(err, MW_ERR_ARG, "output type must be f32, f16 or bf16");
    mw_model_writer *w = calloc(1, sizeof *w);
    if (!w) return mw_fail(err, MW_ERR_NOMEM, "out of memory");
    w->m = m;
    w->type = type;
    enum mw_status s;
    if (ends_with(out, ".gguf")) {
        w->layout = MW_GGUF_LAYOUT;
        s = mw_convert_gguf_begin(m, out, type, &w->gguf, err);
    } else {
        w->layout = MW_HF_LAYOUT;
        s = mw_convert_hf_begin(m, out, type, max_shard_bytes, &w->st, err);
    }
    if (!s) s = plan(w, order, err);
    if (!s) s = declare(w, err);
    if (s) {
        mw_model_writer_free(w);
        return s;
    }
    *wp = w;
    return MW_OK;
}

int64_t mw_model_writer_next(const mw_model_writer *w) {
    return w->next < w->n ? w->e[w->next].model_index : -1;
}

int64_t mw_model_writer_next_block(const mw_model_writer *w) {
    if (w->next >= w->n) return INT64_MAX;
    int64_t i = w->e[w->next].model_index;
    return i < 0 ? -1 : mw_convert_block_of(mw_model_tensor_at(w->m, i)->name);
}

static enum mw_status gguf_sink(void *w, const void *data, uint64_t n, mw_err *err) {
    return mw_gguf_writer_write_tensor_part(w, data, n, err);
}

static enum mw_status st_sink(void *w, const void *data, uint64_t n, mw_err *err) {
    return mw_st_writer_write_tensor_part(w, data, n, err);
}

enum mw_status mw_model_writer_put(mw_model_writer *w, const float *values, mw_err *err) {
    if (w->next >= w->n) return mw_fail(err, MW_ERR_ARG, "every tensor is already written");
    const struct entry *e = &w->e[w->next];
    if (values && e->model_index < 0)
        return mw_fail(err, MW_ERR_ARG, "tensor '%s' has no GGUF name to take values for",
                       e->raw->name);
    const mw_tensor *t = declared(w, e);
    enum mw_type type = mw_convert_tensor_type(t, w->type);
    mw_sink_fn sink = w->gguf ? gguf_sink : st_sink;
    void *ctx = w->gguf ? (void *)w->gguf : (void *)w->st;
    /* a folder's own tensors are copied as stored unless replaced */
    enum mw_layout_dir layout = e->raw && !values ? MW_KEEP_LAYOUT : w->layout;
    enum mw_status s = mw_convert_stream(w->m, e->model_index, e->raw, values, layout, type, sink,
                                         ctx, &w->buf, err);
    if (!s) w->next++;
    return s;
}

enum mw_status mw_model_writer_finish(mw_model_writer *w, mw_err *err) {
    enum mw_status s = MW_OK;
    if (w->next < w->n) {
        s = mw_fail(err, MW_ERR_ARG, "tensor '%s' was never written",
                    declared(w, &w->e[w->next])->name);
        mw_model_writer_free(w);
        return s;
    }
    if (w->gguf)
        s = mw_gguf_writer_finish(w->gguf, err);
    else
        s = mw_st_writer_finish(w->st, err);
    w->gguf = NULL;
    w->st = NULL;
    mw_model_writer_free(w);
    return s;
}

void mw_model_writer_free(mw_model_writer *w) {
    if (!w) return;
    if (w->gguf) mw_gguf_writer_free(w->gguf);
    if (w->st) mw_st_writer_free(w->st);
    mw_convert_buf_free(&w->buf);
    free(w->e);
    free(w);
}

enum mw_status mw_model_convert(const mw_model *m, const char *out_path, enum mw_type type,
                                uint64_t max_shard_bytes, mw_progress_fn progress, void *user,
                                mw_err *err) {
    mw_model_writer *w;
    enum mw_status s =
        mw_model_writer_create(m, out_path, type, max_shard_bytes, MW_ORDER_SOURCE, &w, err);
    if (s) return s;
    for (int64_t k = 0; k < w->n; k++) {
        if ((s = mw_model_writer_put(w, NULL, err))) {
            mw_model_writer_free(w);
            return s;
        }
        if (progress) progress(user, declared(w, &w->e[k])->name, k + 1, w->n);
    }
    return mw_model_writer_finish(w, err);
}
