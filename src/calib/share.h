/* A process's share of the calibration windows, and statistics summed in an
 * order that depends on neither the grouping of windows nor the number of
 * processes, so that one process and `mpirun -np N` give the same bits.
 *
 * The order: each window's sums (of x^2, x, x > 0 and rows, per input) start
 * from zero and take its T rows in row order (mw_input_stats_add); the
 * totals are then the totals before the run plus each window's sums, one
 * window after the other in window order. Floating-point addition is not
 * associative, so this order is the definition, for every process count.
 *
 * With N processes, rank r runs windows [n r / N, n (r + 1) / N) (n windows
 * in the set). Rank 0 adds its windows' sums to the totals as they come (one
 * process: nothing is held). The other ranks hold theirs until the block
 * ends; then the block's totals go from rank to rank: rank r receives them
 * from r - 1, adds its windows in order and sends them to r + 1, and the last
 * rank sends the result to all. Per block every link carries the block's
 * totals once, and the broadcast once more: sum over the 4 inputs of
 * n_lang * (3 n_in + 1) doubles. */
#ifndef MW_CALIB_SHARE_H
#define MW_CALIB_SHARE_H

#include "calib/calib.h"

typedef struct mw_share {
    const mw_calib_set *set; /* all windows */
    mw_calib_set mine;       /* this process's windows: a view into set */
    int64_t first;           /* index in set of mine's first window */
    mw_stats *st;            /* the totals, [n_layer] blocks */
    int rank, size;
    int64_t width; /* doubles of one window's sums in the widest block */
    double *held;  /* [mine.n_win][width] ranks > 0: sums of the current block */
    double *one;   /* [3][largest n_in] rank 0: one window's sums */
    double *msg;   /* [msg_len] a block's totals as sent (more than one rank) */
    int64_t msg_len;
} mw_share;

/* This process's windows of set, and the buffers; st must have the set's
 * languages and its blocks' shapes. */
enum mw_status mw_share_init(mw_share *sh, const mw_calib_set *set, mw_stats *st, mw_err *err);
void mw_share_free(mw_share *sh);

/* Adds the rows of consecutive windows of this process, the first being
 * window `first` of the set: x is [n_rows][n_in], n_rows a multiple of T,
 * block `block`'s input `in`. */
void mw_share_add(mw_share *sh, int64_t block, enum mw_input in, int64_t first, const float *x,
                  int64_t n_rows, int64_t n_in);

/* Ends block `block` on every process: agreement on the status s (see
 * mw_mpi_agree; s is this process's, its message in err), then the totals
 * of the block, complete, on every process. */
enum mw_status mw_share_end_block(mw_share *sh, int64_t block, enum mw_status s, mw_err *err);

#endif
