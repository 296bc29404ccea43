/* The MPI side of calibration across processes (built when CMake finds
 * MPI): starting and stopping, the failure agreement, and moving doubles.
 * Errors inside MPI calls abort the whole job (MPI's default handler), which
 * is also what mpirun does when a process dies. */
#include "calib/mpi.h"

#include "core/err.h"

#include <mpi.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool started; /* MPI_Init done here */
static bool failed;  /* an agreement has failed: no more collective steps */

/* MPI counts are int: messages go in pieces of at most this many doubles. */
#define PIECE (1 << 26)

bool mw_mpi_built(void) {
    return true;
}

bool mw_mpi_start(int *argc, char ***argv) {
    /* Open MPI's mpirun sets OMPI_*, PMIx launchers (srun --mpi=pmix) PMIX_RANK */
    if (!getenv("OMPI_COMM_WORLD_SIZE") && !getenv("PMIX_RANK")) return false;
    int provided = 0;
    /* OpenMP threads compute; only the main thread calls MPI */
    MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided);
    started = true;
    return true;
}

void mw_mpi_stop(void) {
    if (!started) return;
    /* every process gets here once, failed or not: rank 0 has printed and
     * removed its temporary files before anyone exits, so mpirun does not
     * kill it in the middle for another process's non-zero exit code */
    MPI_Barrier(MPI_COMM_WORLD);
    MPI_Finalize();
    started = false;
}

int mw_mpi_rank(void) {
    int r = 0;
    if (started) MPI_Comm_rank(MPI_COMM_WORLD, &r);
    return r;
}

int mw_mpi_size(void) {
    int n = 1;
    if (started) MPI_Comm_size(MPI_COMM_WORLD, &n);
    return n;
}

/* MWANDA_MPI_TEST_FAIL=R:B[:kill] (see mpi.h): a failure on demand, once. */
static enum mw_status test_hook(enum mw_status s, int64_t block, int rank, mw_err *err) {
    static bool fired;
    const char *spec = getenv("MWANDA_MPI_TEST_FAIL");
    int r = -1;
    long long b = 0;
    char how[8] = "";
    if (fired || s || !spec || sscanf(spec, "%d:%lld:%7s", &r, &b, how) < 2) return s;
    if (r != rank || b != block) return s;
    fired = true;
    if (strcmp(how, "kill") == 0) raise(SIGKILL);
    return mw_fail(err, MW_ERR_ARG, "failed at block %lld on request (MWANDA_MPI_TEST_FAIL)",
                   (long long)block);
}

enum mw_status mw_mpi_agree(enum mw_status s, int64_t block, mw_err *err) {
    if (!started || failed) return s;
    int rank = mw_mpi_rank(), size = mw_mpi_size();
    s = test_hook(s, block, rank, err);
    int mine = s ? rank : size, first = size;
    MPI_Allreduce(&mine, &first, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
    if (first == size) return MW_OK;
    failed = true;
    /* the failed process's status and message, to everyone */
    struct {
        int status;
        char msg[sizeof err->msg];
    } m;
    memset(&m, 0, sizeof m);
    if (rank == first) {
        m.status = (int)s;
        if (err) snprintf(m.msg, sizeof m.msg, "%s", err->msg);
    }
    MPI_Bcast(&m, (int)sizeof m, MPI_BYTE, first, MPI_COMM_WORLD);
    if (rank == first) return s;
    m.msg[sizeof m.msg - 1] = '\0';
    enum mw_status st = m.status > MW_OK && m.status <= MW_ERR_NOT_AVAILABLE
                            ? (enum mw_status)m.status
                            : MW_ERR_ARG;
    return mw_fail(err, st, "rank %d of %d: %s", first, size, m.msg[0] ? m.msg : mw_strerror(st));
}

enum mw_status mw_mpi_send(const double *buf, int64_t n, int to, mw_err *err) {
    if (!started) return mw_fail(err, MW_ERR_ARG, "MPI is not running");
    for (int64_t i = 0; i < n; i += PIECE) {
        int k = (int)(n - i < PIECE ? n - i : PIECE);
        MPI_Send(buf + i, k, MPI_DOUBLE, to, 0, MPI_COMM_WORLD);
    }
    return MW_OK;
}

enum mw_status mw_mpi_recv(double *buf, int64_t n, int from, mw_err *err) {
    if (!started) return mw_fail(err, MW_ERR_ARG, "MPI is not running");
    for (int64_t i = 0; i < n; i += PIECE) {
        int k = (int)(n - i < PIECE ? n - i : PIECE);
        MPI_Recv(buf + i, k, MPI_DOUBLE, from, 0, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
    }
    return MW_OK;
}

enum mw_status mw_mpi_bcast(double *buf, int64_t n, int root, mw_err *err) {
    if (!started) return mw_fail(err, MW_ERR_ARG, "MPI is not running");
    for (int64_t i = 0; i < n; i += PIECE) {
        int k = (int)(n - i < PIECE ? n - i : PIECE);
        MPI_Bcast(buf + i, k, MPI_DOUBLE, root, MPI_COMM_WORLD);
    }
    return MW_OK;
}
