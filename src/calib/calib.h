/* Calibration: windows of text per language, run through the model block by
 * block, and the per-language statistics of every linear layer's input. */
#ifndef MW_CALIB_CALIB_H
#define MW_CALIB_CALIB_H

#include "model/block.h"

/* ------------------------------------------------------------------------ */
/* Calibration windows                                                      */
/* ------------------------------------------------------------------------ */

/* Calibration windows, each tagged with its language. */
typedef struct mw_calib_set {
    int n_lang;
    char **langs; /* [n_lang] language codes, sorted */
    int64_t n_win, T;
    int32_t *tokens; /* [n_win][T] */
    int32_t *lang;   /* [n_win] index into langs */
} mw_calib_set;

/* How windows are cut from a language's text. */
typedef struct mw_sample_opts {
    int64_t ctx;     /* window length T (>= 2) */
    int64_t samples; /* windows per language; -1 = every window */
    uint64_t seed;   /* of the choice among the windows (plain mode) */
    bool llamacpp;   /* windows as llama-imatrix -c T --chunks N cuts them */
} mw_sample_opts;

/* An empty set of windows of T tokens. */
enum mw_status mw_calib_set_create(mw_calib_set *set, int64_t T, mw_err *err);
void mw_calib_set_free(mw_calib_set *set);
/* Appends n_win windows ([n_win][T]) of language `lang`, which joins the
 * sorted list if new (the indices of the windows already there follow). */
enum mw_status mw_calib_set_add(mw_calib_set *set, const char *lang, const int32_t *tokens,
                                int64_t n_win, mw_err *err);
/* Appends every window of src (same T) to dst. */
enum mw_status mw_calib_set_merge(mw_calib_set *dst, const mw_calib_set *src, mw_err *err);

/* Window choice on a token sequence (tokens of the text, without BOS in plain
 * mode, with the BOS the model adds in llamacpp mode; bos = -1 when the
 * model adds none).
 *  - plain: the text is cut into non-overlapping full windows, each BOS plus
 *    T-1 text tokens (T text tokens without BOS); a partial last window is
 *    dropped. Of these n windows, `samples` are chosen by a partial
 *    Fisher-Yates shuffle driven by splitmix64(seed), j = i + r % (n - i)
 *    for r the next splitmix64 output, and returned in text order;
 *  - llamacpp: the sequence is cut into n / T chunks of T, the first
 *    `samples` are taken, and each chunk's first token becomes BOS.
 * Fewer than one full window is MW_ERR_ARG. *out ([*n_win][T], release
 * with free()). */
enum mw_status mw_calib_sample(const int32_t *tokens, int64_t n, int32_t bos,
                               const mw_sample_opts *o, int32_t **out, int64_t *n_win, mw_err *err);

/* Tokenizes one language's text (as mw_calib_sample wants it) and adds the
 * windows chosen from it. The language's name leads any error message. */
enum mw_status mw_calib_set_add_text(mw_calib_set *set, const mw_tokenizer *tok, const char *lang,
                                     const char *text, size_t len, const mw_sample_opts *o,
                                     mw_err *err);

/* splitmix64: the next output of the generator whose state is *state. */
uint64_t mw_splitmix64(uint64_t *state);

/* ------------------------------------------------------------------------ */
/* Statistics                                                               */
/* ------------------------------------------------------------------------ */

/* The distinct inputs of a block's linear layers. */
enum mw_input {
    MW_IN_ATTN,     /* q, k, v */
    MW_IN_ATTN_OUT, /* o */
    MW_IN_FFN,      /* gate, up */
    MW_IN_FFN_DOWN, /* down */
    MW_IN_COUNT,
};

/* Short name of an input ("attn", "attn_out", "ffn", "ffn_down"). */
const char *mw_input_name(enum mw_input in);
/* The input a linear layer reads. */
enum mw_input mw_linear_input(enum mw_linear lin);

/* Per-language statistics of one input, double precision. */
typedef struct mw_input_stats {
    int64_t n_in;
    double *sum2;   /* [n_lang][n_in] sum of x^2 */
    double *sum;    /* [n_lang][n_in] sum of x */
    double *pos;    /* [n_lang][n_in] number of x > 0 */
    double *tokens; /* [n_lang] rows seen */
} mw_input_stats;

/* Statistics of a whole model, and how they were taken. */
typedef struct mw_stats {
    int n_lang;
    char **langs; /* [n_lang] sorted */
    int64_t n_layer;
    mw_input_stats *in; /* [n_layer][MW_IN_COUNT] */
    char arch[32];      /* the model's family ("gemma3") */
    int64_t ctx;        /* window length */
    int64_t samples;    /* windows asked per language; -1 all, 0 mixed (merged) */
    uint64_t seed;      /* of the window choice (the first file's, merged) */
    bool llamacpp;      /* windows cut as llama-imatrix cuts them */
    int64_t *windows;   /* [n_lang] windows seen per language */
    int n_datasets;
    char **datasets; /* [n_datasets] where the text came from */
} mw_stats;

/* Zeroed statistics: n_in is [n_layer][MW_IN_COUNT]. */
enum mw_status mw_stats_create(mw_stats *st, int n_lang, const char *const *langs, int64_t n_layer,
                               const int64_t *n_in, mw_err *err);
/* Zeroed statistics shaped for a model's blocks. */
enum mw_status mw_stats_create_for(mw_stats *st, const mw_model *m, int n_lang,
                                   const char *const *langs, mw_err *err);
void mw_stats_free(mw_stats *st);
/* out = a + b: languages unioned (the same language's sums add up), window
 * counts and datasets joined. Different shapes, families, window lengths or
 * window kinds are refused. */
enum mw_status mw_stats_merge(mw_stats *out, const mw_stats *a, const mw_stats *b, mw_err *err);
/* Whether the statistics fit the model's blocks (MW_ERR_SHAPE if not). */
enum mw_status mw_stats_check_model(const mw_stats *st, const mw_model *m, mw_err *err);
/* Adds a dataset name (copied). */
enum mw_status mw_stats_add_dataset(mw_stats *st, const char *name, mw_err *err);

/* Writes the statistics as a GGUF that llama.cpp reads as an imatrix:
 *  - general.type = "imatrix", imatrix.datasets, imatrix.chunk_count (all
 *    windows), imatrix.chunk_size (ctx);
 *  - per weight tensor W of every block (attn_q, attn_k, attn_v, attn_output,
 *    ffn_gate, ffn_up, ffn_down): "W.in_sum2" F32 [n_in] and "W.counts" F32
 *    [1], pooled over the languages (q, k and v get the same input
 *    statistics, as do gate and up), as llama-imatrix writes them;
 *  - per block N and input I (attn, attn_out, ffn, ffn_down), in F64:
 *    "blk.N.mw.I.sum2", ".sum", ".pos" [n_in, n_lang] and ".tokens"
 *    [1, n_lang], languages in the order of the key mwanda.calib.languages
 *    (a trailing dimension of 1 is not written, as ggml does);
 *  - mwanda.calib.{languages, windows, ctx, samples, seed, llamacpp, arch}.
 * Written under a temporary name and renamed when complete. */
enum mw_status mw_stats_write(const mw_stats *st, const char *path, mw_err *err);
/* Reads and checks a file mw_stats_write wrote (every count, shape and value
 * is checked: finite, counts non-negative, sums of squares non-negative). */
enum mw_status mw_stats_read(const char *path, mw_stats *st, mw_err *err);
/* The same on an open GGUF (name: for messages). */
enum mw_status mw_stats_from_gguf(const mw_gguf *g, const char *name, mw_stats *st, mw_err *err);

/* ------------------------------------------------------------------------ */
/* The block-by-block runner                                                */
/* ------------------------------------------------------------------------ */

/* Called once per block after its statistics are complete (dense block),
 * before its outputs are computed; may change b's weights (pruning). */
typedef enum mw_status (*mw_block_hook)(void *user, int64_t block, mw_block *b, const mw_stats *st,
                                        mw_err *err);

/* Runs the set through the model block by block: embed, then for each block
 * load it in f32, run all windows through it with an observer accumulating
 * into st (block `block` only), call hook (if any), then compute the block
 * outputs (with the possibly changed weights) as next block's inputs.
 * Without a hook, one forward per block (stats observed while computing the
 * outputs); with a hook, the stats forward works on a copy of each group of
 * windows and the outputs come from a second forward after the hook. The
 * output head is never computed; the last block's outputs are not needed.
 * st: created here when st->in is NULL (languages of the set, shapes of the
 * model, ctx); otherwise it must have the set's languages and the model's
 * shapes, and the new sums are added to it. All rows of every window count,
 * BOS included. Activations of all windows stay in RAM. */
enum mw_status mw_calib_run(const mw_model *m, const mw_calib_set *set, mw_block_hook hook,
                            void *user, mw_stats *st, mw_progress_fn progress, void *puser,
                            mw_err *err);

/* How a long run is driven; every field is optional (zero: off). */
typedef struct mw_run_ctl {
    mw_progress_fn progress;
    void *puser;
    /* true: stop at the next safe point (between groups of windows or
     * blocks); the run then fails with MW_ERR_INTERRUPTED */
    bool (*cancel)(void *user);
    /* told after the state of a block was saved (resumable runs) */
    void (*saved)(void *user, int pass, int64_t block);
    void *cuser;
    /* bytes for activations (0: no limit, all in RAM): the windows that do
     * not fit go to a file; one group's buffer counts in the budget, the
     * block's weights in f32 and the forward pass's scratch do not */
    uint64_t mem;
    const char *spill_dir; /* folder of that file (NULL: the current one) */
    const char *state_dir; /* resumable runs: the state folder (NULL: none) */
} mw_run_ctl;

struct mw_state;
/* mw_calib_run with a memory budget, interruption and, when state is not
 * NULL, resumable: this run is pass `pass` of the state (numbered by the
 * caller). A state past this pass restores all its statistics and runs
 * nothing; one in this pass restores the completed blocks and continues
 * from the next. After each block the outputs are synced, the block's
 * statistics saved and the state committed. The activations then live in
 * the state's file, two slots; ctl->mem only bounds the group buffer. */
enum mw_status mw_calib_run_ctl(const mw_model *m, const mw_calib_set *set, mw_block_hook hook,
                                void *user, mw_stats *st, const mw_run_ctl *ctl,
                                struct mw_state *state, int pass, mw_err *err);

/* Drops the mapped file pages of block `block`'s tensors (block < 0: of the
 * tensors outside the blocks) from the resident set once they were read:
 * they are re-read from the file if needed again, and streaming through a
 * model that is mapped, not read, then never keeps more than a block of it
 * resident. */
void mw_calib_release_block(const mw_model *m, int64_t block);

/* Adds rows [0, n_rows) of x ([n_rows][n_in], f32) to language lang's sums
 * of one input: in double, in row order, columns split over threads. */
void mw_input_stats_add(mw_input_stats *s, int lang, const float *x, int64_t n_rows);

#endif
