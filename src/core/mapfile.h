/* Read-only memory maps of whole files. */
#ifndef MW_CORE_MAPFILE_H
#define MW_CORE_MAPFILE_H

#include "mwanda.h"

typedef struct mw_mapfile {
    const void *data; /* NULL for an empty file */
    size_t size;
} mw_mapfile;

enum mw_status mw_mapfile_open(const char *path, mw_mapfile *out, mw_err *err);
void mw_mapfile_close(mw_mapfile *f);

#endif
