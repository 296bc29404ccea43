/* Pruning a whole model: the methods (magnitude, Wanda, OWL, M-Wanda) put
 * together from calibration (src/calib), scores and masks (prune.h) and the
 * model writer, block by block. */
#ifndef MW_PRUNE_DRIVER_H
#define MW_PRUNE_DRIVER_H

#include "calib/calib.h"
#include "prune/prune.h"

enum mw_method { MW_METHOD_MAGNITUDE, MW_METHOD_WANDA, MW_METHOD_OWL, MW_METHOD_MWANDA };

/* "magnitude", "wanda", "owl", "mwanda" */
const char *mw_method_name(enum mw_method m);
bool mw_method_parse(const char *text, enum mw_method *out);

typedef struct mw_prune_opts {
    enum mw_method method;
    double sparsity;    /* target over the prunable weights (unstructured) */
    mw_pattern pattern; /* n = m = 0: unstructured */
    /* M-Wanda's score (method mwanda) */
    mw_mwanda_opts score;
    /* M-Wanda's layerwise sparsity from cross-lingual correlation */
    bool cwl;
    enum mw_cwl_dir cwl_dir;
    double cwl_lambda;
    /* OWL */
    double owl_m, owl_lambda;
    /* output */
    enum mw_type type;
    uint64_t max_shard_bytes;
} mw_prune_opts;

/* Sets the defaults (see driver.c for where they come from). */
void mw_prune_opts_init(mw_prune_opts *o, enum mw_method method);

/* What was done: per block and per pruned tensor. */
typedef struct mw_prune_tensor {
    char name[64];
    int64_t zeros, total;
} mw_prune_tensor;

typedef struct mw_prune_report {
    double target, achieved; /* achieved: zeros / weights of the pruned tensors */
    int64_t n_layer;
    double *block_target;   /* [n_layer] */
    double *block_achieved; /* [n_layer] */
    double *block_score;    /* [n_layer] OWL outlier share or CWL correlation, else NaN */
    int n_clamped;          /* block targets clamped into [0, 1) */
    int64_t n_tensors;
    mw_prune_tensor *tensors; /* [n_tensors] in writing order */
} mw_prune_report;

void mw_prune_report_free(mw_prune_report *r);

/* Prunes m into `out` (GGUF when it ends in .gguf, else a folder; NULL:
 * nothing is written). Under mpirun only rank 0 writes it; the other ranks
 * take their share of the calibration windows.
 *  - magnitude needs neither set nor stats;
 *  - with stats (a saved file), one pass over the weights;
 *  - with a calibration set, Wanda's sequential procedure: each block's
 *    statistics are taken on the outputs of the blocks already pruned. OWL
 *    and CWL first take statistics of the dense model (one more pass). */
enum mw_status mw_prune_model(const mw_model *m, const mw_calib_set *set, const mw_stats *stats,
                              const mw_prune_opts *o, const char *out, mw_prune_report *rep,
                              mw_progress_fn progress, void *puser, mw_err *err);

/* The same with a memory budget for the calibration activations, a way to
 * stop (ctl->cancel: MW_ERR_INTERRUPTED), and, with ctl->state_dir, a
 * resumable run (src/calib/resume.h): the dense statistics and each pruned
 * block's statistics and mask are saved as blocks complete, a run with the
 * same options and inputs continues where the state ends, and the output is
 * written once every block is pruned (each block reloaded, its mask
 * applied), byte for byte what a run without state writes. The state folder
 * is removed when the output is complete; refused when it belongs to other
 * options or inputs. */
enum mw_status mw_prune_model_ctl(const mw_model *m, const mw_calib_set *set, const mw_stats *stats,
                                  const mw_prune_opts *o, const char *out, mw_prune_report *rep,
                                  const mw_run_ctl *ctl, mw_err *err);

#endif
