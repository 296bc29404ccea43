/* The temporary names of outputs being written, so that a signal handler can
 * remove them (mw_remove_partial_outputs) before the process dies. */
#ifndef MW_CORE_PENDING_H
#define MW_CORE_PENDING_H

/* Outputs recorded at once, across the process. */
#define MW_PENDING_SLOTS 64

/* Records path (a temporary file, or a temporary folder holding only recorded
 * files); returns its slot, or -1 when the path is too long or every slot is
 * taken (the output is then only cleaned up by its writer). */
int mw_pending_add(const char *path);
/* Forgets a slot (once the output is renamed into place or removed); -1 is
 * ignored. */
void mw_pending_drop(int slot);

#endif
