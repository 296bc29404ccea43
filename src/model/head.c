#include "model/head.h"

#include "core/err.h"
#include "kernels/gemm.h"
#include "kernels/ops.h"

#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

/* Vocabulary rows a thread takes at once: its weights (5 MiB at 640 wide)
 * and logits stay in L3 beside the other thread's. */
#define HEAD_CHUNK 2048

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

/* What a chunk of the vocabulary contributes to each position's
 * log-sum-exp: its largest logit and the sum of exp(logit - largest). */
typedef struct head_part {
    float *mx;   /* [n_chunks][n] */
    double *sum; /* [n_chunks][n] */
} head_part;

/* Logits of vocabulary rows v0 .. v0 + c - 1 for the n positions, reduced to
 * their part of the log-sum-exp; the target's logit when it is among them. */
static enum mw_status head_chunk(const mw_model *m, int64_t wi, const float *x, int64_t n,
                                 int64_t E, int64_t ci, int64_t c, const int32_t *targets, float *w,
                                 float *logits, head_part *part, double *target, mw_err *err) {
    int64_t v0 = ci * HEAD_CHUNK;
    enum mw_status s = mw_model_tensor_rows_f32(m, wi, v0, c, w, err);
    if (s) return s;
    mw_gemm_nt(n, c, E, x, E, w, E, logits, c, false);
    for (int64_t i = 0; i < n; i++) {
        const float *row = logits + i * c;
        float mx = mw_max(row, c);
        part->mx[ci * n + i] = mx;
        part->sum[ci * n + i] = mw_exp_sum(row, NULL, c, mx);
        if (targets[i] >= v0 && targets[i] < v0 + c) target[i] = row[targets[i] - v0];
    }
    return MW_OK;
}

/* The chunks shared dynamically among the threads, each computed by one
 * thread with a single-threaded product: no barrier per chunk, and the
 * dequantization runs in parallel too. */
static enum mw_status head_chunks(const mw_model *m, int64_t wi, const float *x, int64_t n,
                                  int64_t E, int64_t V, const int32_t *targets, head_part *part,
                                  double *target, mw_err *err) {
    int64_t n_chunks = (V + HEAD_CHUNK - 1) / HEAD_CHUNK;
    int nt = omp_get_max_threads();
    size_t per = (size_t)HEAD_CHUNK * (size_t)(E + n);
    float *buf = malloc((size_t)nt * per * sizeof(float));
    if (!buf) return mw_fail(err, MW_ERR_NOMEM, "out of memory for the output head");
    enum mw_status status = MW_OK;
#pragma omp parallel num_threads(nt)
    {
        float *w = buf + (size_t)omp_get_thread_num() * per, *logits = w + HEAD_CHUNK * E;
        mw_err mine = {{0}};
#pragma omp for schedule(dynamic, 1)
        for (int64_t ci = 0; ci < n_chunks; ci++) {
            int64_t c = V - ci * HEAD_CHUNK < HEAD_CHUNK ? V - ci * HEAD_CHUNK : HEAD_CHUNK;
            enum mw_status s =
                head_chunk(m, wi, x, n, E, ci, c, targets, w, logits, part, target, &mine);
            if (s)
#pragma omp critical(mw_head_error)
                if (!status) {
                    status = s;
                    *err = mine;
                }
        }
    }
    free(buf);
    return status;
}

enum mw_status mw_head_nll(const mw_model *m, float *x, int64_t n, const int32_t *targets,
                           double *nll, mw_err *err) {
    const mw_hparams *hp = mw_model_hparams(m);
    int64_t E = hp->n_embd, wi = tensor_index(m, "output.weight");
    if (wi < 0) wi = tensor_index(m, "token_embd.weight");
    int64_t V = mw_model_tensor_at(m, wi)->ne[1], n_chunks = (V + HEAD_CHUNK - 1) / HEAD_CHUNK;
    int64_t fi = tensor_index(m, "output_norm.weight");
    float *norm = malloc((size_t)E * sizeof(float));
    head_part part = {malloc((size_t)(n_chunks * n) * sizeof(float) + 1),
                      malloc((size_t)(n_chunks * n) * sizeof(double) + 1)};
    double *target = malloc((size_t)n * sizeof(double) + 1);
    enum mw_status s = MW_OK;
    if (!norm || !part.mx || !part.sum || !target) {
        s = mw_fail(err, MW_ERR_NOMEM, "out of memory for the output head");
        goto done;
    }
    if ((s = mw_model_tensor_f32(m, fi, norm, err))) goto done;
    mw_rmsnorm_rows(x, x, norm, n, E, (float)hp->norm_eps, E);
    for (int64_t i = 0; i < n; i++)
        target[i] = NAN;
    if ((s = head_chunks(m, wi, x, n, E, V, targets, &part, target, err))) goto done;
    /* the chunks' parts merged in vocabulary order, whoever computed them */
    for (int64_t i = 0; i < n; i++) {
        float mx = -INFINITY;
        for (int64_t ci = 0; ci < n_chunks; ci++)
            mx = part.mx[ci * n + i] > mx ? part.mx[ci * n + i] : mx;
        double sum = 0;
        for (int64_t ci = 0; ci < n_chunks; ci++)
            sum += part.sum[ci * n + i] * exp((double)part.mx[ci * n + i] - mx);
        nll[i] = mx + log(sum) - target[i];
    }
done:
    free(norm);
    free(part.mx);
    free(part.sum);
    free(target);
    return s;
}
