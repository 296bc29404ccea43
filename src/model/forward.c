/* The forward pass of one decoder block over a batch of windows, shared by
 * every family: what differs is read from the family descriptor. */
#include "model/block.h"

#include "core/err.h"
#include "kernels/gemm.h"
#include "kernels/ops.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

enum mw_status mw_block_scratch_init(mw_block_scratch *s, const mw_hparams *hp, int64_t n_seq,
                                     int64_t T, mw_err *err) {
    memset(s, 0, sizeof *s);
    uint64_t M = (uint64_t)n_seq * (uint64_t)T;
    uint64_t E = (uint64_t)hp->n_embd, Q = (uint64_t)(hp->n_head * hp->head_dim);
    uint64_t KV = (uint64_t)(hp->n_head_kv * hp->head_dim), F = (uint64_t)hp->n_ff;
    s->n_seq = n_seq;
    s->T = T;
    s->xn = malloc(M * E * sizeof(float));
    s->q = malloc(M * Q * sizeof(float));
    s->k = malloc(M * KV * sizeof(float));
    s->v = malloc(M * KV * sizeof(float));
    s->att = malloc(M * Q * sizeof(float));
    s->gate = malloc(M * F * sizeof(float));
    s->up = malloc(M * F * sizeof(float));
    s->out = malloc(M * E * sizeof(float));
    s->scores = malloc((uint64_t)T * (uint64_t)T * sizeof(float));
    if (!s->xn || !s->q || !s->k || !s->v || !s->att || !s->gate || !s->up || !s->out ||
        !s->scores) {
        mw_block_scratch_free(s);
        return mw_fail(err, MW_ERR_NOMEM, "out of memory for activations of %lld tokens",
                       (long long)M);
    }
    return MW_OK;
}

void mw_block_scratch_free(mw_block_scratch *s) {
    free(s->xn);
    free(s->q);
    free(s->k);
    free(s->v);
    free(s->att);
    free(s->gate);
    free(s->up);
    free(s->out);
    free(s->scores);
    memset(s, 0, sizeof *s);
}

static void observe(const mw_observer *obs, const mw_block *b, enum mw_linear lin, const float *x,
                    int64_t M) {
    if (obs && obs->fn) obs->fn(obs->user, b->index, lin, x, M, b->cols[lin]);
}

static void linear(const mw_block *b, enum mw_linear lin, const float *x, float *y, int64_t M,
                   const float *bias) {
    int64_t N = b->rows[lin], K = b->cols[lin];
    mw_gemm_nt(M, N, K, x, K, b->w[lin], K, y, N, false);
    if (bias)
#pragma omp parallel for schedule(static)
        for (int64_t i = 0; i < M; i++)
            for (int64_t j = 0; j < N; j++)
                y[i * N + j] += bias[j];
}

static void add_rows(float *x, const float *y, uint64_t n) {
#pragma omp parallel for schedule(static)
    for (uint64_t i = 0; i < n; i++)
        x[i] += y[i];
}

/* Causal softmax attention of one window and one query head. */
static void attend(const mw_hparams *hp, const mw_block *b, mw_block_scratch *s, int64_t seq,
                   int64_t h) {
    int64_t T = s->T, hd = hp->head_dim, Q = hp->n_head * hd, KV = hp->n_head_kv * hd;
    int64_t g = h / (hp->n_head / hp->n_head_kv);
    const float *q = s->q + seq * T * Q + h * hd;
    const float *k = s->k + seq * T * KV + g * hd;
    const float *v = s->v + seq * T * KV + g * hd;
    float *out = s->att + seq * T * Q + h * hd;
    float *sc = s->scores;
    mw_gemm_nt(T, T, hd, q, Q, k, KV, sc, T, false);
    int64_t window = b->global || hp->sliding_window <= 0 ? T : hp->sliding_window;
    float scale = 1.0f / sqrtf((float)hd);
#pragma omp parallel for schedule(static)
    for (int64_t t = 0; t < T; t++) {
        float *row = sc + t * T;
        int64_t first = t - window + 1 > 0 ? t - window + 1 : 0;
        for (int64_t j = 0; j < first; j++)
            row[j] = 0;
        for (int64_t j = first; j <= t; j++)
            row[j] *= scale;
        mw_softmax(row + first, t + 1 - first);
        for (int64_t j = t + 1; j < T; j++)
            row[j] = 0;
    }
    mw_gemm_nn(T, hd, T, sc, T, v, KV, out, Q, false);
}

static void attention(const mw_model *m, const mw_block *b, mw_block_scratch *s) {
    const mw_hparams *hp = mw_model_hparams(m);
    const mw_arch *a = mw_model_arch(m);
    int64_t M = s->n_seq * s->T, hd = hp->head_dim;
    int64_t Q = hp->n_head * hd, KV = hp->n_head_kv * hd;
    float eps = (float)hp->norm_eps;
    if (b->q_norm) mw_rmsnorm_rows(s->q, s->q, b->q_norm, M * hp->n_head, hd, eps, hd);
    if (b->k_norm) mw_rmsnorm_rows(s->k, s->k, b->k_norm, M * hp->n_head_kv, hd, eps, hd);
    double base = !b->global && hp->rope_base_local > 0 ? hp->rope_base_local : hp->rope_base;
#pragma omp parallel for schedule(static)
    for (int64_t seq = 0; seq < s->n_seq; seq++) {
        mw_rope_rows(s->q + seq * s->T * Q, s->T, Q, hp->n_head, hd, 0, base, 1.0, a->rope_neox);
        mw_rope_rows(s->k + seq * s->T * KV, s->T, KV, hp->n_head_kv, hd, 0, base, 1.0,
                     a->rope_neox);
    }
    for (int64_t seq = 0; seq < s->n_seq; seq++)
        for (int64_t h = 0; h < hp->n_head; h++)
            attend(hp, b, s, seq, h);
}

void mw_block_forward(const mw_model *m, const mw_block *b, float *x, int64_t n_seq, int64_t T,
                      mw_block_scratch *s, const mw_observer *obs) {
    const mw_hparams *hp = mw_model_hparams(m);
    int64_t M = n_seq * T, E = hp->n_embd, F = hp->n_ff;
    float eps = (float)hp->norm_eps;

    mw_rmsnorm_rows(x, s->xn, b->attn_norm, M, E, eps, E);
    observe(obs, b, MW_LIN_Q, s->xn, M);
    observe(obs, b, MW_LIN_K, s->xn, M);
    observe(obs, b, MW_LIN_V, s->xn, M);
    linear(b, MW_LIN_Q, s->xn, s->q, M, b->bq);
    linear(b, MW_LIN_K, s->xn, s->k, M, b->bk);
    linear(b, MW_LIN_V, s->xn, s->v, M, b->bv);
    attention(m, b, s);
    observe(obs, b, MW_LIN_O, s->att, M);
    linear(b, MW_LIN_O, s->att, s->out, M, NULL);
    if (b->post_attn_norm) mw_rmsnorm_rows(s->out, s->out, b->post_attn_norm, M, E, eps, E);
    add_rows(x, s->out, (uint64_t)M * (uint64_t)E);

    mw_rmsnorm_rows(x, s->xn, b->ffn_norm, M, E, eps, E);
    observe(obs, b, MW_LIN_GATE, s->xn, M);
    observe(obs, b, MW_LIN_UP, s->xn, M);
    linear(b, MW_LIN_GATE, s->xn, s->gate, M, NULL);
    linear(b, MW_LIN_UP, s->xn, s->up, M, NULL);
    if (mw_model_arch(m)->act == MW_ACT_GELU_TANH)
        mw_geglu_tanh(s->gate, s->up, M * F);
    else
        mw_swiglu(s->gate, s->up, M * F);
    observe(obs, b, MW_LIN_DOWN, s->gate, M);
    linear(b, MW_LIN_DOWN, s->gate, s->out, M, NULL);
    if (b->post_ffn_norm) mw_rmsnorm_rows(s->out, s->out, b->post_ffn_norm, M, E, eps, E);
    add_rows(x, s->out, (uint64_t)M * (uint64_t)E);
}
