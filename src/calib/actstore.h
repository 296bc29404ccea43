/* The activation store: the block inputs of every calibration window, kept
 * in RAM up to a budget and in a file beyond it, read and written a group of
 * windows at a time. */
#ifndef MW_CALIB_ACTSTORE_H
#define MW_CALIB_ACTSTORE_H

#include "mwanda.h"

typedef struct mw_actstore mw_actstore;

typedef struct mw_actstore_opts {
    int64_t n_items;     /* windows */
    int64_t item_floats; /* floats per window (T * n_embd) */
    int n_slots;         /* 1: updated in place; 2: read one slot, write the other */
    int64_t ram_items;   /* leading windows of each slot kept in RAM (the rest: file) */
    /* The file holding windows [ram_items, n_items) of every slot:
     *  - path: this file, created if missing, kept when the store closes
     *    (resumable runs); an existing one must have the exact size;
     *  - else a temporary file in `dir`, removed from the folder as soon as it
     *    is created, so that nothing is left behind even on SIGKILL. */
    const char *path;
    const char *dir;
} mw_actstore_opts;

enum mw_status mw_actstore_open(const mw_actstore_opts *o, mw_actstore **out, mw_err *err);
void mw_actstore_close(mw_actstore *s);

/* Windows [first, first + n) of a slot when all of them are in RAM, else
 * NULL: the caller then reads and writes them through a buffer. */
float *mw_actstore_ram(mw_actstore *s, int slot, int64_t first, int64_t n);

/* Copies windows [first, first + n) of a slot to dst ([n][item_floats]). */
enum mw_status mw_actstore_read(mw_actstore *s, int slot, int64_t first, int64_t n, float *dst,
                                mw_err *err);
/* Copies src ([n][item_floats]) into windows [first, first + n) of a slot. */
enum mw_status mw_actstore_write(mw_actstore *s, int slot, int64_t first, int64_t n,
                                 const float *src, mw_err *err);
/* Makes what was written durable (fdatasync of the file). */
enum mw_status mw_actstore_sync(mw_actstore *s, mw_err *err);

/* Bytes of the windows held in RAM and in the file. */
uint64_t mw_actstore_ram_bytes(const mw_actstore *s);
uint64_t mw_actstore_file_bytes(const mw_actstore *s);

#endif
