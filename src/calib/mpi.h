/* Calibration across processes with MPI (Open MPI): the few collective steps
 * that calibration and sequential pruning need, so that `mpirun -np N mwanda
 * calibrate|prune ...` splits the windows over N processes (see share.h for
 * the split and the order of the sums, docs/scaling.md for the use).
 *
 * Without MPI (built without it, or not started by an MPI launcher) there is
 * one process, rank 0 of 1, and no collective step is ever taken. mpi.c has
 * the MPI version, mpi_none.c the other; the build compiles one of them.
 *
 * The protocol, the same in every process (all run the same command on the
 * same input):
 *  - at each block boundary the processes agree (mw_mpi_agree) on whether
 *    any of them failed; if one did, all stop with its message, and from
 *    then on no process takes part in any collective step but the last;
 *  - after an agreement that everyone passed, the block's statistics travel
 *    from process to process (mw_mpi_send/recv/bcast, in share.c);
 *  - the command line ends with one more agreement and mw_mpi_stop.
 * A process that fails outside the runner (reading its input, say) goes
 * straight to the final agreement, where it meets the others at their next
 * block boundary: the same collective call, so they learn of it there. */
#ifndef MW_CALIB_MPI_H
#define MW_CALIB_MPI_H

#include "mwanda.h"

/* Whether this build has MPI. */
bool mw_mpi_built(void);
/* Starts MPI if an MPI launcher started this process (its environment says
 * so: OMPI_COMM_WORLD_SIZE or PMIX_RANK); returns whether it did. Without a
 * launcher nothing starts, so a plain run never touches MPI. */
bool mw_mpi_start(int *argc, char ***argv);
/* Ends MPI after every process got here (no-op if not started). */
void mw_mpi_stop(void);
/* This process's rank and the number of processes: 0 and 1 without MPI. */
int mw_mpi_rank(void);
int mw_mpi_size(void);
/* The process that writes outputs and prints: rank 0. */
static inline bool mw_mpi_writer(void) {
    return mw_mpi_rank() == 0;
}

/* Every process passes its status s (its message in err when s != MW_OK)
 * and gets MW_OK if all passed MW_OK; otherwise the lowest failed rank's
 * status, err holding "rank R of N: <its message>" (its own message on the
 * failed process itself). After a failed agreement, later calls return s
 * at once. Without MPI: returns s.
 *
 * Test hook (MPI builds only): MWANDA_MPI_TEST_FAIL=R:B makes rank R fail at
 * its first agreement of block B; MWANDA_MPI_TEST_FAIL=R:B:kill makes it
 * kill itself (SIGKILL) there instead. block -1: the final agreement;
 * MW_MPI_OUTSIDE_BLOCKS: one before a resumable pass's first block. */
enum mw_status mw_mpi_agree(enum mw_status s, int64_t block, mw_err *err);
#define MW_MPI_OUTSIDE_BLOCKS (-2)

/* Point-to-point and broadcast of doubles between the processes (any n:
 * sent in pieces that MPI's int counts hold). Only called with MPI running
 * and more than one process. */
enum mw_status mw_mpi_send(const double *buf, int64_t n, int to, mw_err *err);
enum mw_status mw_mpi_recv(double *buf, int64_t n, int from, mw_err *err);
enum mw_status mw_mpi_bcast(double *buf, int64_t n, int root, mw_err *err);

#endif
