/* One decoder block in f32 and its forward pass over a batch of windows. */
#ifndef MW_MODEL_BLOCK_H
#define MW_MODEL_BLOCK_H

#include "kernels/ops.h"
#include "model/model.h"

/* The linear layers of a block, in the order their inputs appear. */
enum mw_linear {
    MW_LIN_Q,
    MW_LIN_K,
    MW_LIN_V,
    MW_LIN_O,
    MW_LIN_GATE,
    MW_LIN_UP,
    MW_LIN_DOWN,
    MW_LIN_COUNT,
};

/* GGUF name of a linear layer's weight within a block ("attn_q"). */
const char *mw_linear_name(enum mw_linear lin);

/* Weights of block `index` in f32, GGUF layout ([out][in], rows contiguous).
 * Optional tensors are NULL when the family has none. */
typedef struct mw_block {
    int64_t index;
    bool global;                /* full attention; else sliding window */
    float *attn_norm;           /* [n_embd] */
    float *w[MW_LIN_COUNT];     /* q [n_head*hd][n_embd], k, v [n_head_kv*hd][n_embd],
                                   o [n_embd][n_head*hd], gate, up [n_ff][n_embd],
                                   down [n_embd][n_ff] */
    int64_t rows[MW_LIN_COUNT]; /* out features of each linear */
    int64_t cols[MW_LIN_COUNT]; /* in features of each linear */
    float *bq, *bk, *bv;        /* [n_head*hd], [n_head_kv*hd] x2, or NULL */
    float *q_norm, *k_norm;     /* [hd] or NULL */
    float *post_attn_norm;      /* [n_embd] or NULL */
    float *ffn_norm;            /* [n_embd] */
    float *post_ffn_norm;       /* [n_embd] or NULL */
    float *mem;                 /* the one allocation behind every pointer above */
} mw_block;

enum mw_status mw_block_load(const mw_model *m, int64_t index, mw_block *b, mw_err *err);
void mw_block_free(mw_block *b);

/* Sees the input of every linear layer: x holds n_tokens rows of n_in values.
 * Layers that share an input (q, k, v; gate, up) are reported once each. */
typedef struct mw_observer {
    void (*fn)(void *user, int64_t block, enum mw_linear lin, const float *x, int64_t n_tokens,
               int64_t n_in);
    void *user;
} mw_observer;

/* Activations and buffers of a block forward over n_seq windows of T tokens
 * (M = n_seq * T rows). */
typedef struct mw_block_scratch {
    int64_t n_seq, T;
    int n_threads;             /* team of the parallel phases, fixed at init */
    float *xn;                 /* [M][n_embd] normed input of attention or FFN */
    float *qkv;                /* [M][(n_head + 2 n_head_kv) * hd]: q | k | v per token */
    float *att;                /* [M][n_head * hd] attention output */
    float *gu;                 /* [M][2 n_ff]: gate | up per token */
    float *act;                /* [M][n_ff] act(gate) * up, the input of down */
    float *out;                /* [M][n_embd] output of o and down */
    float *work;               /* [n_threads][work_floats] attention buffers */
    int64_t work_floats;       /* per thread */
    mw_rope_table rope_global; /* RoPE angles of global blocks */
    mw_rope_table rope_local;  /* ... of sliding-window blocks */
} mw_block_scratch;

enum mw_status mw_block_scratch_init(mw_block_scratch *s, const mw_hparams *hp, int64_t n_seq,
                                     int64_t T, mw_err *err);
void mw_block_scratch_free(mw_block_scratch *s);

/* x: [n_seq][T][n_embd], replaced by the block's output. Positions restart at
 * 0 in every window. n_seq and T at most what the scratch was made for. */
void mw_block_forward(const mw_model *m, const mw_block *b, float *x, int64_t n_seq, int64_t T,
                      mw_block_scratch *s, const mw_observer *obs);

/* Windows that each pack several sequences sharing a prefix (the choices of
 * one multiple-choice item after its context): row i of window w has RoPE
 * position pos[w*T + i] and sees row j <= i only when seg[w*T + j] is 0 (the
 * shared prefix) or equals seg[w*T + i], and, in sliding-window blocks, when
 * their positions are less than the window apart. A sequence's rows follow
 * the prefix in order; positions stay below T. */
typedef struct mw_packing {
    const int32_t *pos; /* [n_seq * T] */
    const int32_t *seg; /* [n_seq * T] */
} mw_packing;

/* mw_block_forward over packed windows (pk NULL: plain windows). */
void mw_block_forward_packed(const mw_model *m, const mw_block *b, float *x, int64_t n_seq,
                             int64_t T, const mw_packing *pk, mw_block_scratch *s,
                             const mw_observer *obs);

#endif
