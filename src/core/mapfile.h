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

/* Lets the kernel drop the mapped pages of [p, p + n) from this process's
 * resident set once a tensor has been consumed (they are re-read from the
 * file if touched again), so streaming through a model keeps RSS flat. */
void mw_map_release(const void *p, size_t n);

#endif
