#include "model/head.h"

#include "core/err.h"
#include "kernels/gemm.h"
#include "kernels/ops.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Vocabulary rows per chunk of the output head */
#define HEAD_CHUNK 8192

static int64_t tensor_index(const mw_model *m, const char *name) {
    const mw_tensor *t = mw_model_find_tensor(m, name);
    return t ? (int64_t)(t - mw_model_tensor_at(m, 0)) : -1;
}

enum mw_status mw_embed(const mw_model *m, const int32_t *tokens, int64_t n, float *x,
                        mw_err *err) {
    const mw_hparams *hp = mw_model_hparams(m);
    int64_t ti = tensor_index(m, "token_embd.weight"), E = hp->n_embd;
    const mw_tensor *t = mw_model_tensor_at(m, ti);
    float scale = mw_model_arch(m)->embd_scale ? sqrtf((float)E) : 1.0f;
    for (int64_t i = 0; i < n; i++) {
        if (tokens[i] < 0 || tokens[i] >= t->ne[1])
            return mw_fail(err, MW_ERR_ARG, "token id %d is outside the vocabulary (%lld)",
                           tokens[i], (long long)t->ne[1]);
        enum mw_status s = mw_model_tensor_rows_f32(m, ti, tokens[i], 1, x + i * E, err);
        if (s) return s;
        if (scale != 1.0f)
            for (int64_t j = 0; j < E; j++)
                x[i * E + j] *= scale;
    }
    return MW_OK;
}

/* Running log-sum-exp per position, merged chunk by chunk. */
static void merge_chunk(const float *logits, int64_t n, int64_t c, int64_t v0,
                        const int32_t *targets, double *mx, double *sum, double *target) {
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < n; i++) {
        const float *row = logits + i * c;
        float cm = -INFINITY;
        for (int64_t j = 0; j < c; j++)
            cm = row[j] > cm ? row[j] : cm;
        double s = 0;
        for (int64_t j = 0; j < c; j++)
            s += exp((double)row[j] - cm);
        if (cm > mx[i]) {
            sum[i] = sum[i] * exp(mx[i] - cm) + s;
            mx[i] = cm;
        } else {
            sum[i] += s * exp(cm - mx[i]);
        }
        if (targets[i] >= v0 && targets[i] < v0 + c) target[i] = row[targets[i] - v0];
    }
}

enum mw_status mw_head_nll(const mw_model *m, float *x, int64_t n, const int32_t *targets,
                           double *nll, mw_err *err) {
    const mw_hparams *hp = mw_model_hparams(m);
    int64_t E = hp->n_embd, wi = tensor_index(m, "output.weight");
    if (wi < 0) wi = tensor_index(m, "token_embd.weight");
    int64_t V = mw_model_tensor_at(m, wi)->ne[1];
    int64_t fi = tensor_index(m, "output_norm.weight");
    float *norm = malloc((size_t)E * sizeof(float));
    float *w = malloc((size_t)HEAD_CHUNK * (size_t)E * sizeof(float));
    float *logits = malloc((size_t)n * HEAD_CHUNK * sizeof(float));
    double *mx = malloc((size_t)n * sizeof(double)), *sum = calloc((size_t)n, sizeof(double));
    double *target = malloc((size_t)n * sizeof(double));
    enum mw_status s = MW_OK;
    if (!norm || !w || !logits || !mx || !sum || !target) {
        s = mw_fail(err, MW_ERR_NOMEM, "out of memory for the output head");
        goto done;
    }
    if ((s = mw_model_tensor_f32(m, fi, norm, err))) goto done;
    mw_rmsnorm_rows(x, x, norm, n, E, (float)hp->norm_eps, E);
    for (int64_t i = 0; i < n; i++) {
        mx[i] = -INFINITY;
        target[i] = NAN;
    }
    for (int64_t v0 = 0; v0 < V; v0 += HEAD_CHUNK) {
        int64_t c = V - v0 < HEAD_CHUNK ? V - v0 : HEAD_CHUNK;
        if ((s = mw_model_tensor_rows_f32(m, wi, v0, c, w, err))) goto done;
        mw_gemm_nt(n, c, E, x, E, w, E, logits, c, false);
        merge_chunk(logits, n, c, v0, targets, mx, sum, target);
    }
    for (int64_t i = 0; i < n; i++)
        nll[i] = mx[i] + log(sum[i]) - target[i];
done:
    free(norm);
    free(w);
    free(logits);
    free(mx);
    free(sum);
    free(target);
    return s;
}
