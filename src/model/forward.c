/* The forward pass of one decoder block over a batch of windows, shared by
 * every family: what differs is read from the family descriptor.
 *
 * Threads: the four matrix products (q|k|v, o, gate|up, down) run on the
 * gemm's own team; everything between them runs in one parallel region per
 * phase (five per block), rows or attention units shared among the threads.
 * A region costs a wake-up and a barrier, which on a loaded machine is a
 * scheduler time slice, so there are as few as the data dependencies allow.
 * Every value is computed by one thread in an order that depends on the
 * shapes only, so the results are the same bits whatever the thread count. */
#include "model/block.h"

#include "core/err.h"
#include "kernels/gemm.h"
#include "kernels/ops.h"

#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

/* Query rows of one attention work unit: with the heads that share a KV head
 * stacked, a unit is a product of a few hundred rows (Gemma 3 270M: 4 x 64),
 * large enough for the gemm's packed path and small enough for L2. */
#define ATT_ROWS 64

static int64_t qkv_width(const mw_hparams *hp) {
    return (hp->n_head + 2 * hp->n_head_kv) * hp->head_dim;
}

static bool alloc_buffers(mw_block_scratch *s, const mw_hparams *hp, uint64_t M) {
    uint64_t E = (uint64_t)hp->n_embd, Q = (uint64_t)(hp->n_head * hp->head_dim);
    uint64_t F = (uint64_t)hp->n_ff, rep = (uint64_t)(hp->n_head / hp->n_head_kv);
    uint64_t hd = (uint64_t)hp->head_dim, T = (uint64_t)s->T;
    uint64_t rows = rep * (ATT_ROWS < T ? ATT_ROWS : T);
    s->work_floats = (int64_t)(rows * (2 * hd + T));
    s->xn = malloc(M * E * sizeof(float));
    s->qkv = malloc(M * (uint64_t)qkv_width(hp) * sizeof(float));
    s->att = malloc(M * Q * sizeof(float));
    s->gu = malloc(M * 2 * F * sizeof(float));
    s->act = malloc(M * F * sizeof(float));
    s->out = malloc(M * E * sizeof(float));
    s->work = malloc((uint64_t)s->n_threads * (uint64_t)s->work_floats * sizeof(float));
    return s->xn && s->qkv && s->att && s->gu && s->act && s->out && s->work;
}

enum mw_status mw_block_scratch_init(mw_block_scratch *s, const mw_hparams *hp, int64_t n_seq,
                                     int64_t T, mw_err *err) {
    memset(s, 0, sizeof *s);
    uint64_t M = (uint64_t)n_seq * (uint64_t)T;
    s->n_seq = n_seq;
    s->T = T;
    s->n_threads = omp_get_max_threads();
    double scale = hp->rope_scale > 0 ? hp->rope_scale : 1.0;
    double local = hp->rope_base_local > 0 ? hp->rope_base_local : hp->rope_base;
    bool ok = alloc_buffers(s, hp, M) &&
              mw_rope_table_init(&s->rope_global, T, hp->head_dim, hp->rope_base, scale);
    /* sliding-window blocks are never position-scaled (llama.cpp, transformers) */
    if (ok && hp->swa_pattern > 0)
        ok = mw_rope_table_init(&s->rope_local, T, hp->head_dim, local, 1.0);
    if (!ok) {
        mw_block_scratch_free(s);
        return mw_fail(err, MW_ERR_NOMEM, "out of memory for activations of %llu tokens",
                       (unsigned long long)M);
    }
    return MW_OK;
}

void mw_block_scratch_free(mw_block_scratch *s) {
    free(s->xn);
    free(s->qkv);
    free(s->att);
    free(s->gu);
    free(s->act);
    free(s->out);
    free(s->work);
    mw_rope_table_free(&s->rope_global);
    mw_rope_table_free(&s->rope_local);
    memset(s, 0, sizeof *s);
}

static void observe(const mw_observer *obs, const mw_block *b, enum mw_linear lin, const float *x,
                    int64_t M) {
    if (obs && obs->fn) obs->fn(obs->user, b->index, lin, x, M, b->cols[lin]);
}

/* y[M][ldy] = x W^T for the linears first .. first + n - 1, side by side in y.
 * mw_block_load keeps such weights adjacent in memory, so they usually make
 * one product (one packing of x, one team); each element of y comes out the
 * same either way. */
static void linears(const mw_block *b, enum mw_linear first, int n, const float *x, int64_t M,
                    float *y, int64_t ldy) {
    int64_t K = b->cols[first], N = b->rows[first];
    bool adjacent = true;
    for (int i = 1; i < n; i++) {
        adjacent = adjacent && b->cols[first + i] == K &&
                   b->w[first + i] == b->w[first + i - 1] + b->rows[first + i - 1] * K;
        N += b->rows[first + i];
    }
    if (adjacent) {
        mw_gemm_nt(M, N, K, x, K, b->w[first], K, y, ldy, false);
        return;
    }
    for (int i = 0; i < n; i++) {
        mw_gemm_nt(M, b->rows[first + i], K, x, K, b->w[first + i], K, y, ldy, false);
        y += b->rows[first + i];
    }
}

static void add_bias(float *x, const float *bias, int64_t n) {
    if (bias)
        for (int64_t i = 0; i < n; i++)
            x[i] += bias[i];
}

/* One call of the block forward: its shapes (n_seq may be less than the
 * scratch was made for: a last, smaller group). */
typedef struct pass {
    const mw_model *m;
    const mw_hparams *hp;
    const mw_block *b;
    mw_block_scratch *s;
    int64_t n_seq, T, M;
    const mw_packing *pk; /* NULL: plain windows */
} pass;

/* Biases, q/k norms and RoPE of every token's q and k heads. */
static void prepare_qk(const pass *p) {
    const mw_hparams *hp = p->hp;
    const mw_block *b = p->b;
    mw_block_scratch *s = p->s;
    bool neox = mw_model_arch(p->m)->rope_neox;
    int64_t hd = hp->head_dim, ld = qkv_width(hp);
    int64_t Q = hp->n_head * hd, KV = hp->n_head_kv * hd;
    float eps = (float)hp->norm_eps;
    const mw_rope_table *rope = b->global || !s->rope_local.cs ? &s->rope_global : &s->rope_local;
#pragma omp parallel for schedule(static) num_threads(s->n_threads)
    for (int64_t r = 0; r < p->M; r++) {
        float *q = s->qkv + r * ld, *k = q + Q;
        add_bias(q, b->bq, Q);
        add_bias(k, b->bk, KV);
        add_bias(k + KV, b->bv, KV);
        for (int64_t h = 0; b->q_norm && h < hp->n_head; h++)
            mw_rmsnorm_row(q + h * hd, q + h * hd, b->q_norm, hd, eps);
        for (int64_t h = 0; b->k_norm && h < hp->n_head_kv; h++)
            mw_rmsnorm_row(k + h * hd, k + h * hd, b->k_norm, hd, eps);
        int64_t pos = p->pk ? p->pk->pos[r] : r % p->T;
        mw_rope_row(q, hp->n_head, rope, pos, neox);
        mw_rope_row(k, hp->n_head_kv, rope, pos, neox);
    }
}

/* Causal softmax of one stacked query row over the keys k0 .. k0 + nk - 1 of
 * its unit, of which it sees lo .. t (absolute positions). */
static void softmax_row(float *row, int64_t nk, int64_t k0, int64_t lo, int64_t t) {
    int64_t a = lo - k0, n = t - lo + 1;
    memset(row, 0, (size_t)a * sizeof(float));
    mw_softmax(row + a, n);
    memset(row + a + n, 0, (size_t)(nk - a - n) * sizeof(float));
}

/* The same over keys 0 .. t of a packed window (pos, seg: its rows): key j
 * counts when it is in the shared prefix or in t's own sequence, and within
 * the sliding window by position; the others get exp(-inf) = 0. */
static void softmax_packed_row(float *row, int64_t nk, const int32_t *pos, const int32_t *seg,
                               int64_t t, int64_t window) {
    for (int64_t j = 0; j <= t; j++)
        if ((seg[j] != 0 && seg[j] != seg[t]) || pos[t] - pos[j] >= window) row[j] = -INFINITY;
    mw_softmax(row, t + 1);
    memset(row + t + 1, 0, (size_t)(nk - t - 1) * sizeof(float));
}

/* Attention of query rows r0 .. r1-1 of window `seq` for the query heads that
 * share KV head g, stacked into one product with the keys they can see. */
static void attend_unit(const pass *p, int64_t seq, int64_t g, int64_t r0, int64_t r1,
                        float *work) {
    const mw_hparams *hp = p->hp;
    int64_t T = p->T, hd = hp->head_dim, ld = qkv_width(hp), rep = hp->n_head / hp->n_head_kv;
    int64_t Q = hp->n_head * hd, KV = hp->n_head_kv * hd, nr = r1 - r0, rows = rep * nr;
    int64_t window = p->b->global || hp->sliding_window <= 0 ? T : hp->sliding_window;
    /* a packed window's positions are not its row numbers: every earlier key is a candidate */
    int64_t k0 = p->pk || r0 - window + 1 <= 0 ? 0 : r0 - window + 1, nk = r1 - k0;
    float scale = hp->attn_scale > 0 ? (float)hp->attn_scale : 1.0f / sqrtf((float)hd);
    const float *base = p->s->qkv + seq * T * ld;
    float *qb = work, *ob = qb + rows * hd, *sc = ob + rows * hd;
    for (int64_t j = 0; j < rep; j++)
        for (int64_t i = 0; i < nr; i++) {
            const float *q = base + (r0 + i) * ld + (g * rep + j) * hd;
            for (int64_t c = 0; c < hd; c++)
                qb[(j * nr + i) * hd + c] = q[c] * scale;
        }
    mw_gemm_nt(rows, nk, hd, qb, hd, base + k0 * ld + Q + g * hd, ld, sc, nk, false);
    for (int64_t j = 0; j < rep; j++)
        for (int64_t i = 0; i < nr; i++) {
            int64_t t = r0 + i, lo = t - window + 1 > 0 ? t - window + 1 : 0;
            if (p->pk)
                softmax_packed_row(sc + (j * nr + i) * nk, nk, p->pk->pos + seq * T,
                                   p->pk->seg + seq * T, t, window);
            else
                softmax_row(sc + (j * nr + i) * nk, nk, k0, lo, t);
        }
    mw_gemm_nn(rows, hd, nk, sc, nk, base + k0 * ld + Q + KV + g * hd, ld, ob, hd, false);
    for (int64_t j = 0; j < rep; j++)
        for (int64_t i = 0; i < nr; i++)
            memcpy(p->s->att + (seq * T + r0 + i) * Q + (g * rep + j) * hd, ob + (j * nr + i) * hd,
                   (size_t)hd * sizeof(float));
}

/* Units (window, KV head, block of query rows), the costliest first (the
 * last rows see the most keys) so that dynamic scheduling ends evenly. */
static void attention(const pass *p) {
    int64_t n_kv = p->hp->n_head_kv, nb = (p->T + ATT_ROWS - 1) / ATT_ROWS;
    int64_t per_block = p->n_seq * n_kv;
    mw_block_scratch *s = p->s;
#pragma omp parallel num_threads(s->n_threads)
    {
        float *work = s->work + (int64_t)omp_get_thread_num() * s->work_floats;
#pragma omp for schedule(dynamic, 1)
        for (int64_t u = 0; u < nb * per_block; u++) {
            int64_t rb = nb - 1 - u / per_block, r0 = rb * ATT_ROWS;
            int64_t r1 = r0 + ATT_ROWS < p->T ? r0 + ATT_ROWS : p->T;
            attend_unit(p, (u % per_block) / n_kv, u % n_kv, r0, r1, work);
        }
    }
}

/* x += norm(out) (norm optional), then xn = norm(x) when `next` is given. */
static void residual(const pass *p, float *x, const float *post, const float *next) {
    int64_t E = p->hp->n_embd;
    float eps = (float)p->hp->norm_eps;
    mw_block_scratch *s = p->s;
#pragma omp parallel for schedule(static) num_threads(s->n_threads)
    for (int64_t r = 0; r < p->M; r++) {
        float *o = s->out + r * E, *xr = x + r * E;
        if (post) mw_rmsnorm_row(o, o, post, E, eps);
        for (int64_t i = 0; i < E; i++)
            xr[i] += o[i];
        if (next) mw_rmsnorm_row(xr, s->xn + r * E, next, E, eps);
    }
}

static void glu(const pass *p) {
    int64_t F = p->hp->n_ff;
    bool gelu = mw_model_arch(p->m)->act == MW_ACT_GELU_TANH;
    mw_block_scratch *s = p->s;
#pragma omp parallel for schedule(static) num_threads(s->n_threads)
    for (int64_t r = 0; r < p->M; r++) {
        const float *gate = s->gu + r * 2 * F;
        if (gelu)
            mw_geglu_tanh_row(s->act + r * F, gate, gate + F, F);
        else
            mw_swiglu_row(s->act + r * F, gate, gate + F, F);
    }
}

void mw_block_forward(const mw_model *m, const mw_block *b, float *x, int64_t n_seq, int64_t T,
                      mw_block_scratch *s, const mw_observer *obs) {
    mw_block_forward_packed(m, b, x, n_seq, T, NULL, s, obs);
}

void mw_block_forward_packed(const mw_model *m, const mw_block *b, float *x, int64_t n_seq,
                             int64_t T, const mw_packing *pk, mw_block_scratch *s,
                             const mw_observer *obs) {
    const mw_hparams *hp = mw_model_hparams(m);
    pass p = {m, hp, b, s, n_seq, T, n_seq * T, pk};
    int64_t M = p.M, E = hp->n_embd, F = hp->n_ff;
    float eps = (float)hp->norm_eps;

#pragma omp parallel for schedule(static) num_threads(s->n_threads)
    for (int64_t r = 0; r < M; r++)
        mw_rmsnorm_row(x + r * E, s->xn + r * E, b->attn_norm, E, eps);
    observe(obs, b, MW_LIN_Q, s->xn, M);
    observe(obs, b, MW_LIN_K, s->xn, M);
    observe(obs, b, MW_LIN_V, s->xn, M);
    linears(b, MW_LIN_Q, 3, s->xn, M, s->qkv, qkv_width(hp));
    prepare_qk(&p);
    attention(&p);
    observe(obs, b, MW_LIN_O, s->att, M);
    linears(b, MW_LIN_O, 1, s->att, M, s->out, E);
    residual(&p, x, b->post_attn_norm, b->ffn_norm);

    observe(obs, b, MW_LIN_GATE, s->xn, M);
    observe(obs, b, MW_LIN_UP, s->xn, M);
    linears(b, MW_LIN_GATE, 2, s->xn, M, s->gu, 2 * F);
    glu(&p);
    observe(obs, b, MW_LIN_DOWN, s->act, M);
    linears(b, MW_LIN_DOWN, 1, s->act, M, s->out, E);
    residual(&p, x, b->post_ffn_norm, NULL);
}
