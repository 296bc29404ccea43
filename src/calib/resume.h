/* The state of a resumable run (`--resume`): a folder next to the output,
 * OUT.mwanda-state/, that lets a killed prune or calibration continue from
 * the last completed block and end with the bytes of an uninterrupted run.
 *
 * It holds
 *   manifest.json     command, options, a fingerprint of the inputs, and how
 *                     far the run got: {"pass", "blocks_done", "slot"}
 *   activations.bin   the activation store's file (two slots: a block reads
 *                     one and writes its outputs to the other, so the slot
 *                     the manifest names is never half-written); under
 *                     mpirun one per rank, activations-rank-R.bin, and the
 *                     manifest's options hold the number of processes
 *   stats-P-B.bin     pass P's statistics of block B (raw doubles)
 *   mask-B.bin        which weights pruning zeroed in block B (one bit each)
 * Every file but the activations is written under a temporary name, synced
 * and renamed; the manifest is written last, after the activations are
 * synced, so it never names work that is not on disk. Under mpirun rank 0
 * alone writes the shared files (the other ranks' writes of them return
 * MW_OK at once) and the runner orders the ranks (calib/run.c). */
#ifndef MW_CALIB_RESUME_H
#define MW_CALIB_RESUME_H

#include "calib/calib.h"

#include <jansson.h>

typedef struct mw_state mw_state;

/* Opens the state folder `dir`, creating it when missing (or when it holds
 * no manifest: the run that made it saved no block). An existing state must
 * come from the same command, options (a JSON object of strings) and inputs
 * (a fingerprint from the hash functions below): anything else is refused
 * with a message naming what differs. */
enum mw_status mw_state_open(const char *dir, const char *command, const json_t *options,
                             uint64_t inputs, mw_state **out, mw_err *err);
/* Closes the handle; the folder stays. */
void mw_state_close(mw_state *s);
/* Deletes the folder and everything in it (after a run completed). */
void mw_state_remove(mw_state *s);

/* How far the run got: the pass it was in (passes are numbered by the
 * caller, in the order it runs them), the blocks that pass completed, and
 * the activation slot holding the next block's inputs. */
int mw_state_pass(const mw_state *s);
int64_t mw_state_blocks_done(const mw_state *s);
int mw_state_slot(const mw_state *s);
/* The activation file (in the folder). */
const char *mw_state_act_path(const mw_state *s);

/* Records that `pass` completed `blocks_done` blocks, the next block's
 * inputs being in `slot` (manifest rewritten atomically). */
enum mw_status mw_state_commit(mw_state *s, int pass, int64_t blocks_done, int slot, mw_err *err);

/* Statistics of one block of one pass: saved once complete, loaded into
 * statistics of the same shape. */
enum mw_status mw_state_save_stats(mw_state *s, int pass, int64_t block, const mw_stats *st,
                                   mw_err *err);
enum mw_status mw_state_load_stats(mw_state *s, int pass, int64_t block, mw_stats *st, mw_err *err);

/* Which weights of a pruned block are zero (b: the pruned block). */
enum mw_status mw_state_save_mask(mw_state *s, const mw_block *b, mw_err *err);
/* Zeroes, in the dense block b, the nonzero weights whose bit is set: the
 * pruned block again, since pruning only ever turns nonzero weights into
 * +0.0 and leaves the others as they were. */
enum mw_status mw_state_apply_mask(mw_state *s, mw_block *b, mw_err *err);

/* Fingerprints (64-bit FNV-1a) chained through h; start with MW_HASH_INIT. */
#define MW_HASH_INIT 0xcbf29ce484222325ull
uint64_t mw_hash_bytes(uint64_t h, const void *p, size_t n);
uint64_t mw_hash_str(uint64_t h, const char *s);
/* The model's tensor table (names, types, shapes) and up to 4 KiB of each
 * tensor's bytes at its start, middle and end: a fingerprint that tells
 * models apart without reading every byte of a large file. */
uint64_t mw_hash_model(uint64_t h, const mw_model *m);
/* Languages, window length, tokens and languages of every window. */
uint64_t mw_hash_calib_set(uint64_t h, const mw_calib_set *set);
/* Every sum of a statistics object. */
uint64_t mw_hash_stats(uint64_t h, const mw_stats *st);

#endif
