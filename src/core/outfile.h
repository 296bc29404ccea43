/* Output files that appear complete or not at all: bytes go to a temporary
 * file next to the destination, renamed over it by mw_outfile_commit. */
#ifndef MW_CORE_OUTFILE_H
#define MW_CORE_OUTFILE_H

#include "mwanda.h"

#include <stdio.h>

typedef struct mw_outfile {
    char *path;     /* destination */
    char *tmp_path; /* where the bytes go until commit */
    FILE *f;
    uint64_t pos; /* bytes written so far */
    int pending;  /* slot in core/pending.h, or -1 */
} mw_outfile;

enum mw_outfile_kind {
    MW_OUTFILE_OUTPUT, /* what the user asked for: a signal removes it unfinished */
    MW_OUTFILE_STATE,  /* a resumable run's state: the run saves it on a signal */
};

enum mw_status mw_outfile_open(mw_outfile *o, const char *path, enum mw_outfile_kind kind,
                               mw_err *err);
enum mw_status mw_outfile_write(mw_outfile *o, const void *data, uint64_t n, mw_err *err);
/* Writes n zero bytes. */
enum mw_status mw_outfile_pad(mw_outfile *o, uint64_t n, mw_err *err);
static inline uint64_t mw_outfile_pos(const mw_outfile *o) {
    return o->pos;
}
/* Flushes, syncs and renames into place; the object is closed either way. */
enum mw_status mw_outfile_commit(mw_outfile *o, mw_err *err);
/* Removes the temporary file (no-op after commit). */
void mw_outfile_abort(mw_outfile *o);

#endif
