/* The statistics file: a GGUF that llama.cpp reads as an imatrix, with the
 * per-language sums as extra F64 tensors (layout in calib.h). */
#include "calib/calib.h"

#include "core/err.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define KEY_LANGS    "mwanda.calib.languages"
#define KEY_WINDOWS  "mwanda.calib.windows"
#define KEY_SAMPLES  "mwanda.calib.samples"
#define KEY_SEED     "mwanda.calib.seed"
#define KEY_LLAMACPP "mwanda.calib.llamacpp"
#define KEY_ARCH     "mwanda.calib.arch"
#define KEY_DATASETS "imatrix.datasets"
#define KEY_CHUNKS   "imatrix.chunk_count"
#define KEY_CHUNK_SZ "imatrix.chunk_size"

/* Bounds on what a file may ask us to allocate. */
#define MAX_LANGS  4096
#define MAX_LAYERS 4096
#define MAX_IN     (1 << 24)

enum qty { Q_SUM2, Q_SUM, Q_POS, Q_TOKENS, Q_COUNT };
static const char *const QTY[Q_COUNT] = {"sum2", "sum", "pos", "tokens"};

static void lang_name(char *buf, size_t size, int64_t block, enum mw_input in, enum qty q) {
    snprintf(buf, size, "blk.%lld.mw.%s.%s", (long long)block, mw_input_name(in), QTY[q]);
}

static void pooled_name(char *buf, size_t size, int64_t block, enum mw_linear lin, bool counts) {
    snprintf(buf, size, "blk.%lld.%s.weight.%s", (long long)block, mw_linear_name(lin),
             counts ? "counts" : "in_sum2");
}

static double *qty_data(const mw_input_stats *s, enum qty q) {
    return q == Q_SUM2 ? s->sum2 : q == Q_SUM ? s->sum : q == Q_POS ? s->pos : s->tokens;
}

/* ---- writing ---- */

static enum mw_status write_keys(mw_gguf_writer *w, const mw_stats *st, mw_err *err) {
    int64_t total = 0;
    for (int l = 0; l < st->n_lang; l++)
        total += st->windows[l];
    mw_str *langs = malloc((size_t)st->n_lang * sizeof *langs);
    mw_str *ds = malloc((size_t)(st->n_datasets + 1) * sizeof *ds);
    enum mw_status s = MW_OK;
    if (!langs || !ds) s = mw_fail(err, MW_ERR_NOMEM, "out of memory");
    for (int l = 0; !s && l < st->n_lang; l++)
        langs[l] = (mw_str){st->langs[l], strlen(st->langs[l])};
    for (int i = 0; !s && i < st->n_datasets; i++)
        ds[i] = (mw_str){st->datasets[i], strlen(st->datasets[i])};
    mw_gguf_kv samples = {KEY_SAMPLES, MW_GGUF_INT64, MW_GGUF_INT64, 1, &st->samples};
    mw_gguf_kv seed = {KEY_SEED, MW_GGUF_UINT64, MW_GGUF_UINT64, 1, &st->seed};
    if (!s) s = mw_gguf_writer_set_str(w, "general.type", "imatrix", err);
    if (!s)
        s = mw_gguf_writer_set_array(w, KEY_DATASETS, MW_GGUF_STRING, (uint64_t)st->n_datasets, ds,
                                     err);
    if (!s) s = mw_gguf_writer_set_u32(w, KEY_CHUNKS, (uint32_t)total, err);
    if (!s) s = mw_gguf_writer_set_u32(w, KEY_CHUNK_SZ, (uint32_t)st->ctx, err);
    if (!s) s = mw_gguf_writer_set_str(w, KEY_ARCH, st->arch, err);
    if (!s)
        s = mw_gguf_writer_set_array(w, KEY_LANGS, MW_GGUF_STRING, (uint64_t)st->n_lang, langs,
                                     err);
    if (!s)
        s = mw_gguf_writer_set_array(w, KEY_WINDOWS, MW_GGUF_INT64, (uint64_t)st->n_lang,
                                     st->windows, err);
    if (!s) s = mw_gguf_writer_set_kv(w, &samples, err);
    if (!s) s = mw_gguf_writer_set_kv(w, &seed, err);
    if (!s) s = mw_gguf_writer_set_bool(w, KEY_LLAMACPP, st->llamacpp, err);
    free(langs);
    free(ds);
    return s;
}

static enum mw_status add_tensors(mw_gguf_writer *w, const mw_stats *st, mw_err *err) {
    enum mw_status s = MW_OK;
    char name[96];
    for (int64_t b = 0; b < st->n_layer && !s; b++) {
        for (int lin = 0; lin < MW_LIN_COUNT && !s; lin++) {
            int64_t n_in = st->in[b * MW_IN_COUNT + mw_linear_input(lin)].n_in;
            int64_t ne_sum[2] = {n_in, 1}, ne_cnt[2] = {1, 1};
            /* trailing dimensions of 1 are not written, as ggml writes them */
            pooled_name(name, sizeof name, b, lin, false);
            s = mw_gguf_writer_add_tensor(w, name, MW_TYPE_F32, 1, ne_sum, err);
            pooled_name(name, sizeof name, b, lin, true);
            if (!s) s = mw_gguf_writer_add_tensor(w, name, MW_TYPE_F32, 1, ne_cnt, err);
        }
        for (int in = 0; in < MW_IN_COUNT && !s; in++)
            for (int q = 0; q < Q_COUNT && !s; q++) {
                int64_t ne[2] = {q == Q_TOKENS ? 1 : st->in[b * MW_IN_COUNT + in].n_in, st->n_lang};
                lang_name(name, sizeof name, b, in, q);
                s = mw_gguf_writer_add_tensor(w, name, MW_TYPE_F64, ne[1] > 1 ? 2 : 1, ne, err);
            }
    }
    return s;
}

/* Pooled over languages, in double, then rounded to f32 as llama.cpp keeps it. */
static enum mw_status write_pooled(mw_gguf_writer *w, const mw_input_stats *s, int n_lang,
                                   float *buf, mw_err *err) {
    double tokens = 0;
    for (int l = 0; l < n_lang; l++)
        tokens += s->tokens[l];
    for (int64_t j = 0; j < s->n_in; j++) {
        double v = 0;
        for (int l = 0; l < n_lang; l++)
            v += s->sum2[l * s->n_in + j];
        buf[j] = (float)v;
    }
    float count = (float)tokens;
    enum mw_status st = mw_gguf_writer_write_tensor(w, buf, (uint64_t)s->n_in * sizeof(float), err);
    if (!st) st = mw_gguf_writer_write_tensor(w, &count, sizeof count, err);
    return st;
}

static enum mw_status write_data(mw_gguf_writer *w, const mw_stats *st, mw_err *err) {
    int64_t max_in = 0;
    for (int64_t i = 0; i < st->n_layer * MW_IN_COUNT; i++)
        max_in = st->in[i].n_in > max_in ? st->in[i].n_in : max_in;
    float *buf = malloc((size_t)max_in * sizeof *buf);
    if (!buf) return mw_fail(err, MW_ERR_NOMEM, "out of memory");
    enum mw_status s = MW_OK;
    for (int64_t b = 0; b < st->n_layer && !s; b++) {
        const mw_input_stats *in = st->in + b * MW_IN_COUNT;
        for (int lin = 0; lin < MW_LIN_COUNT && !s; lin++)
            s = write_pooled(w, &in[mw_linear_input(lin)], st->n_lang, buf, err);
        for (int i = 0; i < MW_IN_COUNT && !s; i++)
            for (int q = 0; q < Q_COUNT && !s; q++) {
                uint64_t n = (uint64_t)st->n_lang * (uint64_t)(q == Q_TOKENS ? 1 : in[i].n_in);
                s = mw_gguf_writer_write_tensor(w, qty_data(&in[i], q), n * sizeof(double), err);
            }
    }
    free(buf);
    return s;
}

enum mw_status mw_stats_write(const mw_stats *st, const char *path, mw_err *err) {
    int64_t total = 0;
    for (int l = 0; l < st->n_lang; l++)
        total += st->windows[l];
    if (st->ctx < 1 || st->ctx > UINT32_MAX || total < 0 || total > UINT32_MAX)
        return mw_fail(err, MW_ERR_ARG, "statistics of %lld windows of %lld tokens",
                       (long long)total, (long long)st->ctx);
    mw_gguf_writer *w = NULL;
    enum mw_status s = mw_gguf_writer_create(path, &w, err);
    if (!s) s = write_keys(w, st, err);
    if (!s) s = add_tensors(w, st, err);
    if (!s) s = write_data(w, st, err);
    if (!s) {
        s = mw_gguf_writer_finish(w, err);
        w = NULL;
    }
    mw_gguf_writer_free(w);
    return s;
}

/* ---- reading ---- */

static enum mw_status fail(mw_err *err, const char *path, const char *fmt, const char *what) {
    return mw_fail(err, MW_ERR_FORMAT, "%s: %s %s", path, fmt, what);
}

static const mw_gguf_kv *find(const mw_gguf *g, const char *key, enum mw_gguf_vtype type,
                              enum mw_gguf_vtype elem) {
    const mw_gguf_kv *kv = mw_gguf_find_kv(g, key);
    return kv && kv->type == type && kv->elem_type == elem ? kv : NULL;
}

static bool valid_code(const mw_str *s) {
    if (s->len == 0 || s->len > 60) return false;
    for (uint64_t i = 0; i < s->len; i++) {
        char c = s->s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_' || c == '@'))
            return false;
    }
    return true;
}

/* Languages (valid codes, strictly increasing) and window counts. */
static enum mw_status read_langs(const mw_gguf *g, const char *path, char **langs, int *n_lang,
                                 mw_err *err) {
    const mw_gguf_kv *kv = find(g, KEY_LANGS, MW_GGUF_ARRAY, MW_GGUF_STRING);
    if (!kv) return fail(err, path, "not a mwanda statistics file: no", KEY_LANGS);
    if (kv->n < 1 || kv->n > MAX_LANGS) return fail(err, path, "bad number of", "languages");
    const mw_str *s = kv->data;
    for (uint64_t i = 0; i < kv->n; i++) {
        if (!valid_code(&s[i])) return fail(err, path, "invalid language code in", KEY_LANGS);
        if (i && strcmp(s[i - 1].s, s[i].s) >= 0)
            return fail(err, path, "languages not sorted or repeated in", KEY_LANGS);
    }
    *n_lang = (int)kv->n;
    for (uint64_t i = 0; i < kv->n; i++)
        langs[i] = (char *)s[i].s; /* copied by mw_stats_create */
    return MW_OK;
}

static const mw_tensor *tensor_of(const mw_gguf *g, const char *name, enum mw_type type,
                                  int64_t ne0, int64_t ne1) {
    const mw_tensor *t = mw_gguf_find_tensor(g, name);
    if (!t || t->type != type || t->ne[2] != 1 || t->ne[3] != 1) return NULL;
    if ((ne0 >= 0 && t->ne[0] != ne0) || t->ne[1] != ne1) return NULL;
    return t;
}

/* The number of blocks and each input's width, from the per-language
 * tensors' shapes. */
static enum mw_status read_shapes(const mw_gguf *g, const char *path, int n_lang, int64_t *n_layer,
                                  int64_t **n_in, mw_err *err) {
    char name[96];
    int64_t n = 0;
    for (;; n++) {
        lang_name(name, sizeof name, n, MW_IN_ATTN, Q_SUM2);
        if (!mw_gguf_find_tensor(g, name) || n == MAX_LAYERS) break;
    }
    if (n < 1) return fail(err, path, "no per-language tensor", "blk.0.mw.attn.sum2");
    *n_in = malloc((size_t)(n * MW_IN_COUNT) * sizeof **n_in);
    if (!*n_in) return mw_fail(err, MW_ERR_NOMEM, "out of memory");
    for (int64_t i = 0; i < n * MW_IN_COUNT; i++) {
        lang_name(name, sizeof name, i / MW_IN_COUNT, i % MW_IN_COUNT, Q_SUM2);
        const mw_tensor *t = tensor_of(g, name, MW_TYPE_F64, -1, n_lang);
        if (!t || t->ne[0] < 1 || t->ne[0] > MAX_IN) {
            free(*n_in);
            *n_in = NULL;
            return fail(err, path, "missing, or wrong type or shape:", name);
        }
        (*n_in)[i] = t->ne[0];
    }
    *n_layer = n;
    return MW_OK;
}

static bool all_finite_f32(const float *v, int64_t n) {
    for (int64_t i = 0; i < n; i++)
        if (!isfinite(v[i]) || v[i] < 0) return false;
    return true;
}

/* One block input: the per-language quantities, and the pooled tensors of
 * the layers that read it. */
static enum mw_status read_input(const mw_gguf *g, const char *path, int64_t b, enum mw_input in,
                                 mw_input_stats *s, int n_lang, mw_err *err) {
    char name[96];
    for (int q = 0; q < Q_COUNT; q++) {
        lang_name(name, sizeof name, b, in, q);
        int64_t ne0 = q == Q_TOKENS ? 1 : s->n_in;
        const mw_tensor *t = tensor_of(g, name, MW_TYPE_F64, ne0, n_lang);
        if (!t) return fail(err, path, "missing, or wrong type or shape:", name);
        memcpy(qty_data(s, q), t->data, (size_t)(ne0 * n_lang) * sizeof(double));
    }
    for (int l = 0; l < n_lang; l++) {
        double tok = s->tokens[l];
        if (!isfinite(tok) || tok < 0) return fail(err, path, "bad token count in", name);
        for (int64_t j = l * s->n_in; j < (l + 1) * s->n_in; j++)
            if (!isfinite(s->sum2[j]) || s->sum2[j] < 0 || !isfinite(s->sum[j]) ||
                !isfinite(s->pos[j]) || s->pos[j] < 0 || s->pos[j] > tok)
                return fail(err, path, "non-finite or impossible values in block",
                            mw_input_name(in));
    }
    for (int lin = 0; lin < MW_LIN_COUNT; lin++) {
        if (mw_linear_input(lin) != in) continue;
        pooled_name(name, sizeof name, b, lin, false);
        const mw_tensor *t = tensor_of(g, name, MW_TYPE_F32, s->n_in, 1);
        if (!t || !all_finite_f32(t->data, s->n_in))
            return fail(err, path, "missing, misshapen or non-finite:", name);
        pooled_name(name, sizeof name, b, lin, true);
        t = tensor_of(g, name, MW_TYPE_F32, 1, 1);
        if (!t || !all_finite_f32(t->data, 1))
            return fail(err, path, "missing, misshapen or non-finite:", name);
    }
    return MW_OK;
}

static enum mw_status read_meta(const mw_gguf *g, const char *path, mw_stats *st, mw_err *err) {
    const mw_gguf_kv *type = find(g, "general.type", MW_GGUF_STRING, MW_GGUF_STRING);
    const mw_gguf_kv *ctx = find(g, KEY_CHUNK_SZ, MW_GGUF_UINT32, MW_GGUF_UINT32);
    const mw_gguf_kv *win = find(g, KEY_WINDOWS, MW_GGUF_ARRAY, MW_GGUF_INT64);
    const mw_gguf_kv *smp = find(g, KEY_SAMPLES, MW_GGUF_INT64, MW_GGUF_INT64);
    const mw_gguf_kv *seed = find(g, KEY_SEED, MW_GGUF_UINT64, MW_GGUF_UINT64);
    const mw_gguf_kv *lcpp = find(g, KEY_LLAMACPP, MW_GGUF_BOOL, MW_GGUF_BOOL);
    const mw_gguf_kv *arch = find(g, KEY_ARCH, MW_GGUF_STRING, MW_GGUF_STRING);
    const mw_gguf_kv *ds = find(g, KEY_DATASETS, MW_GGUF_ARRAY, MW_GGUF_STRING);
    if (!type || strcmp(mw_gguf_kv_str(type), "imatrix") != 0)
        return fail(err, path, "not an imatrix file:", "general.type");
    if (!ctx || !win || !smp || !seed || !lcpp || !arch || !ds)
        return fail(err, path, "missing or mistyped", "mwanda.calib.* or imatrix.* key");
    const int64_t *w = win->data;
    if (!mw_gguf_kv_int(ctx, &st->ctx) || !mw_gguf_kv_int(smp, &st->samples))
        return fail(err, path, "unreadable", "window length or samples");
    memcpy(&st->seed, seed->data, sizeof st->seed);
    st->llamacpp = *(const uint8_t *)lcpp->data != 0;
    if (win->n != (uint64_t)st->n_lang) return fail(err, path, "wrong length of", KEY_WINDOWS);
    for (int l = 0; l < st->n_lang; l++) {
        if (w[l] < 0) return fail(err, path, "negative count in", KEY_WINDOWS);
        st->windows[l] = w[l];
    }
    if (st->ctx < 2 || st->samples < -1) return fail(err, path, "bad window length or", "samples");
    const char *a = mw_gguf_kv_str(arch);
    if (strlen(a) >= sizeof st->arch) return fail(err, path, "too long:", KEY_ARCH);
    memcpy(st->arch, a, strlen(a) + 1);
    const mw_str *names = ds->data;
    enum mw_status s = MW_OK;
    for (uint64_t i = 0; i < ds->n && !s; i++)
        s = mw_stats_add_dataset(st, names[i].s, err);
    return s;
}

enum mw_status mw_stats_from_gguf(const mw_gguf *g, const char *path, mw_stats *st, mw_err *err) {
    memset(st, 0, sizeof *st);
    char *langs[MAX_LANGS];
    int n_lang = 0;
    int64_t n_layer = 0, *n_in = NULL;
    enum mw_status s = read_langs(g, path, langs, &n_lang, err);
    if (!s) s = read_shapes(g, path, n_lang, &n_layer, &n_in, err);
    if (!s) s = mw_stats_create(st, n_lang, (const char *const *)langs, n_layer, n_in, err);
    free(n_in);
    if (!s) s = read_meta(g, path, st, err);
    for (int64_t i = 0; !s && i < n_layer * MW_IN_COUNT; i++)
        s = read_input(g, path, i / MW_IN_COUNT, i % MW_IN_COUNT, &st->in[i], n_lang, err);
    if (s) mw_stats_free(st);
    return s;
}

enum mw_status mw_stats_read(const char *path, mw_stats *st, mw_err *err) {
    memset(st, 0, sizeof *st);
    mw_gguf *g = NULL;
    enum mw_status s = mw_gguf_open(path, &g, err);
    if (!s) s = mw_stats_from_gguf(g, path, st, err);
    mw_gguf_close(g);
    return s;
}
