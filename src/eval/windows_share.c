/* Perplexity across the processes of an MPI run: each runs a contiguous part
 * of the batches one process runs and sends rank 0 every scored position's
 * negative log-likelihood; rank 0 adds them in position order, as one
 * process does, so the total has its bits. */
#include "eval/windows.h"

#include "calib/mpi.h"
#include "core/err.h"

#include <stdlib.h>

enum mw_status mw_windows_nll_shared(const mw_model *m, const mw_windows *w,
                                     mw_progress_fn progress, void *user, double *nll,
                                     int64_t *n_scored, mw_err *err) {
    int rank = mw_mpi_rank(), size = mw_mpi_size();
    if (size == 1) return mw_windows_nll(m, w, progress, user, nll, n_scored, err);
    /* rank 0 holds every position, the others their part's */
    int64_t first, n_win, total = mw_windows_n_scored(w, 0, w->n_win);
    mw_windows_part(w, rank, size, &first, &n_win);
    int64_t mine = mw_windows_n_scored(w, first, n_win);
    double *each = malloc((size_t)((rank == 0 ? total : mine) + 1) * sizeof *each);
    int64_t k = 0;
    enum mw_status s = each ? mw_windows_nll_part(m, w, rank, size, progress, user, each, &k, err)
                            : mw_fail(err, MW_ERR_NOMEM, "out of memory");
    if (!s && k != mine)
        s = mw_fail(err, MW_ERR_ARG, "scored %lld positions of %lld", (long long)k,
                    (long long)mine);
    if ((s = mw_mpi_agree(s, 0, err)) || rank > 0) {
        if (!s) s = mw_mpi_send(each, mine, 0, err);
        *nll = mw_sum_in_order(each, s ? 0 : mine);
        *n_scored = s ? 0 : mine;
        free(each);
        return s;
    }
    for (int r = 1; r < size && !s; r++) {
        mw_windows_part(w, r, size, &first, &n_win);
        s = mw_mpi_recv(each + mw_windows_n_scored(w, 0, first),
                        mw_windows_n_scored(w, first, n_win), r, err);
    }
    *nll = mw_sum_in_order(each, s ? 0 : total);
    *n_scored = s ? 0 : total;
    free(each);
    return s;
}
