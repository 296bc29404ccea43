/* Multiple-choice scoring across the processes of an MPI run: each computes
 * a share of the batches one process would run (mw_tasks_loglik_part), so
 * every sequence is computed in the same batch as there and gets the same
 * bits; rank 0 adds the parts, in which each sequence is nonzero once. */
#include "eval/tasks.h"

#include "calib/mpi.h"
#include "core/err.h"

#include <stdlib.h>

enum mw_status mw_tasks_loglik_shared(const mw_model *m, const mw_task_seqs *s,
                                      mw_progress_fn progress, void *user, double *ll,
                                      mw_err *err) {
    int rank = mw_mpi_rank(), size = mw_mpi_size();
    if (size == 1) return mw_tasks_loglik(m, s, progress, user, ll, err);
    int64_t n = s->first[s->n_items];
    /* rank 0's buffer before the agreement: after it, the others send */
    double *part = rank == 0 ? malloc((size_t)(n ? n : 1) * sizeof *part) : NULL;
    enum mw_status st = rank == 0 && !part
                            ? mw_fail(err, MW_ERR_NOMEM, "out of memory")
                            : mw_tasks_loglik_part(m, s, rank, size, progress, user, ll, err);
    if ((st = mw_mpi_agree(st, 0, err)) || rank > 0) {
        if (!st) st = mw_mpi_send(ll, n, 0, err);
        free(part);
        return st;
    }
    for (int r = 1; r < size && !st; r++) {
        st = mw_mpi_recv(part, n, r, err);
        for (int64_t k = 0; k < n && !st; k++)
            ll[k] += part[k]; /* x + 0 = x: a sequence is computed by one rank */
    }
    free(part);
    return st;
}
