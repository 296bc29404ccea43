/* What eval's perplexity windows and its multiple-choice items share: the
 * pass of a batch of windows through every block, one block in memory at a
 * time, with progress counted in steps (a block, the output head). */
#ifndef MW_EVAL_BLOCKS_H
#define MW_EVAL_BLOCKS_H

#include "model/block.h"

typedef struct mw_eval_progress {
    mw_progress_fn fn; /* or NULL */
    void *user;
    int64_t done, total;
} mw_eval_progress;

/* One step done: reports `what` and done/total. */
void mw_eval_tick(mw_eval_progress *p, const char *what);

/* x ([n_win][T][n_embd], embeddings) replaced by the last block's output;
 * pk NULL for plain windows. One tick per block. */
enum mw_status mw_eval_blocks(const mw_model *m, float *x, int64_t n_win, int64_t T,
                              const mw_packing *pk, mw_eval_progress *p, mw_err *err);

#endif
