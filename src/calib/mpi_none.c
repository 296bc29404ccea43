/* mpi.h in a build without MPI: always one process. */
#include "calib/mpi.h"

#include "core/err.h"

bool mw_mpi_built(void) {
    return false;
}

bool mw_mpi_start(int *argc, char ***argv) {
    return false;
}

void mw_mpi_stop(void) {}

int mw_mpi_rank(void) {
    return 0;
}

int mw_mpi_size(void) {
    return 1;
}

enum mw_status mw_mpi_agree(enum mw_status s, int64_t block, mw_err *err) {
    return s;
}

static enum mw_status none(mw_err *err) {
    return mw_fail(err, MW_ERR_NOT_AVAILABLE, "this mwanda was built without MPI");
}

enum mw_status mw_mpi_send(const double *buf, int64_t n, int to, mw_err *err) {
    return none(err);
}

enum mw_status mw_mpi_recv(double *buf, int64_t n, int from, mw_err *err) {
    return none(err);
}

enum mw_status mw_mpi_bcast(double *buf, int64_t n, int root, mw_err *err) {
    return none(err);
}
