/* Cutting a token sequence into scoring windows, and running windows through
 * the whole model layer by layer. */
#ifndef MW_EVAL_WINDOWS_H
#define MW_EVAL_WINDOWS_H

#include "mwanda.h"

/* n_win windows of T tokens; target[i] is the token position i must predict,
 * or -1 where nothing is scored. */
typedef struct mw_windows {
    int64_t n_win, T;
    int32_t *tokens;  /* [n_win][T] */
    int32_t *targets; /* [n_win][T] */
} mw_windows;

void mw_windows_free(mw_windows *w);

/* Non-overlapping windows: with a BOS token (bos >= 0) every window is BOS
 * followed by ctx-1 text tokens and every text token is scored once;
 * without, windows are ctx text tokens and each window's first is not. The
 * last window may be shorter: it is padded and the padding not scored. */
enum mw_status mw_windows_plain(const int32_t *tokens, int64_t n, int64_t ctx, int32_t bos,
                                mw_windows *w, mw_err *err);

/* llama-perplexity's windows: tokens (BOS included when the model adds one)
 * cut into n/ctx chunks of ctx, each chunk's first token replaced by BOS (if
 * bos >= 0), and only positions ctx/2 .. ctx-2 scored (predicting the next). */
enum mw_status mw_windows_llamacpp(const int32_t *tokens, int64_t n, int64_t ctx, int32_t bos,
                                   mw_windows *w, mw_err *err);

/* Runs the windows through the model and sums the negative log-likelihood of
 * every scored position (nats), in position order; *n_scored counts them. */
enum mw_status mw_windows_nll(const mw_model *m, const mw_windows *w, mw_progress_fn progress,
                              void *user, double *nll, int64_t *n_scored, mw_err *err);

/* Scored positions of windows [first, first + n_win). */
int64_t mw_windows_n_scored(const mw_windows *w, int64_t first, int64_t n_win);
/* Part `part` of n_parts of the windows: a contiguous run of whole batches
 * (the batches one process runs), windows [*first, *first + *n_win). */
void mw_windows_part(const mw_windows *w, int part, int n_parts, int64_t *first, int64_t *n_win);
/* Runs that part and writes each scored position's negative log-likelihood
 * to nll (room for mw_windows_n_scored of the part), in position order,
 * computed as one process computes it. */
enum mw_status mw_windows_nll_part(const mw_model *m, const mw_windows *w, int part, int n_parts,
                                   mw_progress_fn progress, void *user, double *nll,
                                   int64_t *n_scored, mw_err *err);
/* v[0] + v[1] + ... from zero, left to right: the order every total uses. */
double mw_sum_in_order(const double *v, int64_t n);
/* mw_windows_nll under mpirun (calib/mpi.h): each process runs a part and
 * rank 0 sums every position in order, so the total has the one process's
 * bits (the others get their part's). Every process must call it. */
enum mw_status mw_windows_nll_shared(const mw_model *m, const mw_windows *w,
                                     mw_progress_fn progress, void *user, double *nll,
                                     int64_t *n_scored, mw_err *err);

#endif
