/* Per-language statistics of the linear layers' inputs: accumulation,
 * creation, merging. */
#include "calib/calib.h"

#include "core/err.h"

#include <omp.h>
#include <stdlib.h>
#include <string.h>

static const char *const INPUT_NAMES[MW_IN_COUNT] = {
    [MW_IN_ATTN] = "attn",
    [MW_IN_ATTN_OUT] = "attn_out",
    [MW_IN_FFN] = "ffn",
    [MW_IN_FFN_DOWN] = "ffn_down",
};

const char *mw_input_name(enum mw_input in) {
    return INPUT_NAMES[in];
}

enum mw_input mw_linear_input(enum mw_linear lin) {
    switch (lin) {
    case MW_LIN_O:
        return MW_IN_ATTN_OUT;
    case MW_LIN_GATE:
    case MW_LIN_UP:
        return MW_IN_FFN;
    case MW_LIN_DOWN:
        return MW_IN_FFN_DOWN;
    default:
        return MW_IN_ATTN;
    }
}

/* Columns per thread below which splitting costs more than it saves. */
#define MIN_COLS 64

void mw_input_stats_add(mw_input_stats *s, int lang, const float *x, int64_t n_rows) {
    int64_t n = s->n_in;
    double *sum2 = s->sum2 + (int64_t)lang * n, *sum = s->sum + (int64_t)lang * n;
    double *pos = s->pos + (int64_t)lang * n;
    int64_t max_threads = n / MIN_COLS > 1 ? n / MIN_COLS : 1;
    int threads = omp_get_max_threads() < max_threads ? omp_get_max_threads() : (int)max_threads;
    /* each thread owns a range of columns and walks the rows in order, so
     * every sum is taken in the same order whatever the thread count */
#pragma omp parallel num_threads(threads)
    {
        int nt = omp_get_num_threads(), t = omp_get_thread_num();
        int64_t c0 = n * t / nt, c1 = n * (t + 1) / nt;
        for (int64_t r = 0; r < n_rows; r++) {
            const float *row = x + r * n;
            for (int64_t j = c0; j < c1; j++) {
                double v = (double)row[j];
                sum2[j] += v * v;
                sum[j] += v;
                pos[j] += row[j] > 0.0f ? 1.0 : 0.0;
            }
        }
    }
    s->tokens[lang] += (double)n_rows;
}

static void free_names(char **names, int n) {
    for (int i = 0; names && i < n; i++)
        free(names[i]);
    free(names);
}

void mw_stats_free(mw_stats *st) {
    if (!st) return;
    for (int64_t i = 0; st->in && i < st->n_layer * MW_IN_COUNT; i++) {
        free(st->in[i].sum2);
        free(st->in[i].sum);
        free(st->in[i].pos);
        free(st->in[i].tokens);
    }
    free(st->in);
    free_names(st->langs, st->n_lang);
    free_names(st->datasets, st->n_datasets);
    free(st->windows);
    memset(st, 0, sizeof *st);
}

enum mw_status mw_stats_create(mw_stats *st, int n_lang, const char *const *langs, int64_t n_layer,
                               const int64_t *n_in, mw_err *err) {
    memset(st, 0, sizeof *st);
    if (n_lang < 1 || n_layer < 1 || n_layer > 100000)
        return mw_fail(err, MW_ERR_ARG, "statistics need languages and blocks (%d, %lld)", n_lang,
                       (long long)n_layer);
    for (int64_t i = 0; i < n_layer * MW_IN_COUNT; i++)
        if (n_in[i] < 1 || n_in[i] > (1 << 24))
            return mw_fail(err, MW_ERR_ARG, "an input of %lld values", (long long)n_in[i]);
    st->samples = -1;
    st->n_layer = n_layer; /* set first: free() below copes with what is missing */
    st->n_lang = n_lang;
    st->in = calloc((size_t)(n_layer * MW_IN_COUNT), sizeof *st->in);
    st->langs = calloc((size_t)n_lang, sizeof *st->langs);
    st->windows = calloc((size_t)n_lang, sizeof *st->windows);
    if (!st->in || !st->langs || !st->windows) goto nomem;
    for (int l = 0; l < n_lang; l++)
        if (!(st->langs[l] = strdup(langs[l]))) goto nomem;
    for (int64_t i = 0; i < n_layer * MW_IN_COUNT; i++) {
        mw_input_stats *s = &st->in[i];
        size_t k = (size_t)n_lang * (size_t)n_in[i];
        s->n_in = n_in[i];
        s->sum2 = calloc(k, sizeof(double));
        s->sum = calloc(k, sizeof(double));
        s->pos = calloc(k, sizeof(double));
        s->tokens = calloc((size_t)n_lang, sizeof(double));
        if (!s->sum2 || !s->sum || !s->pos || !s->tokens) goto nomem;
    }
    return MW_OK;
nomem:
    mw_stats_free(st);
    return mw_fail(err, MW_ERR_NOMEM, "out of memory for statistics");
}

/* n_in of every block input of a model, [n_layer][MW_IN_COUNT]. */
static int64_t *model_inputs(const mw_model *m) {
    const mw_hparams *hp = mw_model_hparams(m);
    int64_t *n_in = malloc((size_t)(hp->n_layer * MW_IN_COUNT) * sizeof *n_in);
    for (int64_t b = 0; n_in && b < hp->n_layer; b++) {
        int64_t *r = n_in + b * MW_IN_COUNT;
        r[MW_IN_ATTN] = hp->n_embd;
        r[MW_IN_ATTN_OUT] = hp->n_head * hp->head_dim;
        r[MW_IN_FFN] = hp->n_embd;
        r[MW_IN_FFN_DOWN] = hp->n_ff;
    }
    return n_in;
}

enum mw_status mw_stats_create_for(mw_stats *st, const mw_model *m, int n_lang,
                                   const char *const *langs, mw_err *err) {
    memset(st, 0, sizeof *st);
    const mw_hparams *hp = mw_model_hparams(m);
    int64_t *n_in = model_inputs(m);
    if (!n_in) return mw_fail(err, MW_ERR_NOMEM, "out of memory for statistics");
    enum mw_status s = mw_stats_create(st, n_lang, langs, hp->n_layer, n_in, err);
    free(n_in);
    if (!s) snprintf(st->arch, sizeof st->arch, "%s", hp->arch);
    return s;
}

enum mw_status mw_stats_check_model(const mw_stats *st, const mw_model *m, mw_err *err) {
    const mw_hparams *hp = mw_model_hparams(m);
    if (st->arch[0] && strcmp(st->arch, hp->arch) != 0)
        return mw_fail(err, MW_ERR_SHAPE, "statistics of a %s model, not of this %s model",
                       st->arch, hp->arch);
    if (st->n_layer != hp->n_layer)
        return mw_fail(err, MW_ERR_SHAPE, "statistics of %lld blocks for a model of %lld",
                       (long long)st->n_layer, (long long)hp->n_layer);
    int64_t *n_in = model_inputs(m);
    if (!n_in) return mw_fail(err, MW_ERR_NOMEM, "out of memory");
    enum mw_status s = MW_OK;
    for (int64_t i = 0; i < st->n_layer * MW_IN_COUNT && !s; i++)
        if (st->in[i].n_in != n_in[i])
            s = mw_fail(err, MW_ERR_SHAPE,
                        "statistics of block %lld input %s have %lld values, the model %lld",
                        (long long)(i / MW_IN_COUNT), INPUT_NAMES[i % MW_IN_COUNT],
                        (long long)st->in[i].n_in, (long long)n_in[i]);
    free(n_in);
    return s;
}

enum mw_status mw_stats_add_dataset(mw_stats *st, const char *name, mw_err *err) {
    char **p = realloc(st->datasets, (size_t)(st->n_datasets + 1) * sizeof *p);
    if (p) st->datasets = p;
    char *copy = p ? strdup(name) : NULL;
    if (!copy) return mw_fail(err, MW_ERR_NOMEM, "out of memory");
    st->datasets[st->n_datasets++] = copy;
    return MW_OK;
}

/* Sorted union of two sorted lists of names. */
static int union_langs(const mw_stats *a, const mw_stats *b, const char **out) {
    int i = 0, j = 0, n = 0;
    while (i < a->n_lang || j < b->n_lang) {
        int c = i == a->n_lang ? 1 : j == b->n_lang ? -1 : strcmp(a->langs[i], b->langs[j]);
        out[n++] = c <= 0 ? a->langs[i] : b->langs[j];
        i += c <= 0;
        j += c >= 0;
    }
    return n;
}

static int find_lang(const mw_stats *st, const char *lang) {
    for (int l = 0; l < st->n_lang; l++)
        if (strcmp(st->langs[l], lang) == 0) return l;
    return -1;
}

/* Adds every language of src into dst (whose languages include them). */
static void add_into(mw_stats *dst, const mw_stats *src) {
    for (int l = 0; l < src->n_lang; l++) {
        int d = find_lang(dst, src->langs[l]);
        dst->windows[d] += src->windows[l];
        for (int64_t i = 0; i < src->n_layer * MW_IN_COUNT; i++) {
            const mw_input_stats *s = &src->in[i];
            mw_input_stats *o = &dst->in[i];
            int64_t n = s->n_in;
            for (int64_t j = 0; j < n; j++) {
                o->sum2[d * n + j] += s->sum2[l * n + j];
                o->sum[d * n + j] += s->sum[l * n + j];
                o->pos[d * n + j] += s->pos[l * n + j];
            }
            o->tokens[d] += s->tokens[l];
        }
    }
}

static enum mw_status check_mergeable(const mw_stats *a, const mw_stats *b, mw_err *err) {
    if (strcmp(a->arch, b->arch) != 0)
        return mw_fail(err, MW_ERR_SHAPE, "cannot merge statistics of %s and %s models",
                       a->arch[0] ? a->arch : "unknown", b->arch[0] ? b->arch : "unknown");
    if (a->n_layer != b->n_layer)
        return mw_fail(err, MW_ERR_SHAPE, "cannot merge statistics of %lld and %lld blocks",
                       (long long)a->n_layer, (long long)b->n_layer);
    for (int64_t i = 0; i < a->n_layer * MW_IN_COUNT; i++)
        if (a->in[i].n_in != b->in[i].n_in)
            return mw_fail(err, MW_ERR_SHAPE,
                           "cannot merge statistics of different models (block %lld input %s: "
                           "%lld vs %lld values)",
                           (long long)(i / MW_IN_COUNT), INPUT_NAMES[i % MW_IN_COUNT],
                           (long long)a->in[i].n_in, (long long)b->in[i].n_in);
    if (a->ctx != b->ctx)
        return mw_fail(err, MW_ERR_ARG, "cannot merge statistics of %lld- and %lld-token windows",
                       (long long)a->ctx, (long long)b->ctx);
    if (a->llamacpp != b->llamacpp)
        return mw_fail(err, MW_ERR_ARG,
                       "cannot merge statistics of plain and llama.cpp-style windows");
    return MW_OK;
}

enum mw_status mw_stats_merge(mw_stats *out, const mw_stats *a, const mw_stats *b, mw_err *err) {
    memset(out, 0, sizeof *out);
    enum mw_status s = check_mergeable(a, b, err);
    if (s) return s;
    const char **langs = malloc((size_t)(a->n_lang + b->n_lang) * sizeof *langs);
    int64_t *n_in = malloc((size_t)(a->n_layer * MW_IN_COUNT) * sizeof *n_in);
    if (!langs || !n_in) {
        free(langs);
        free(n_in);
        return mw_fail(err, MW_ERR_NOMEM, "out of memory merging statistics");
    }
    for (int64_t i = 0; i < a->n_layer * MW_IN_COUNT; i++)
        n_in[i] = a->in[i].n_in;
    int n = union_langs(a, b, langs);
    s = mw_stats_create(out, n, langs, a->n_layer, n_in, err);
    free(langs);
    free(n_in);
    if (s) return s;
    memcpy(out->arch, a->arch, sizeof out->arch);
    out->ctx = a->ctx;
    out->llamacpp = a->llamacpp;
    out->seed = a->seed;
    out->samples = a->samples == b->samples ? a->samples : 0;
    add_into(out, a);
    add_into(out, b);
    for (int i = 0; i < a->n_datasets && !s; i++)
        s = mw_stats_add_dataset(out, a->datasets[i], err);
    for (int i = 0; i < b->n_datasets && !s; i++)
        s = mw_stats_add_dataset(out, b->datasets[i], err);
    if (s) mw_stats_free(out);
    return s;
}
