/* The runs a report compares, read from their folders: prune.json (what
 * `mwanda prune --json` wrote), eval.json (`mwanda eval --json`), tasks.json
 * (`mwanda eval --tasks ... --json`) and an optional run.json naming the run
 * and its held-out languages. Every field is checked before use; strings
 * point into the parsed documents, which the run keeps until mw_report_free.
 * Numbers that a file leaves out are NAN (counts: -1). */
#ifndef MW_REPORT_RUNS_H
#define MW_REPORT_RUNS_H

#include "mwanda.h"

#include <jansson.h>

#define MW_REPORT_MAX_RUNS   64   /* colours and legends stop being readable long before */
#define MW_REPORT_MAX_BLOCKS 1024 /* decoder blocks; models have a few dozen */

/* Perplexity of one language (eval.json "languages"). */
typedef struct mw_rpt_ppl {
    const char *lang;
    double ppl, bpb, nll;
    int64_t tokens, bytes;
} mw_rpt_ppl;

/* One decoder block of a pruned model (prune.json "blocks"). */
typedef struct mw_rpt_block {
    int64_t index;
    double target, achieved, score;
} mw_rpt_block;

/* Multiple-choice accuracy in one language (tasks.json). */
typedef struct mw_rpt_acc {
    const char *lang;
    double acc, acc_norm;
    double lo, hi; /* 95% confidence interval of acc */
    double chance; /* "chance", or 1/"choices"; NAN when not given */
    int64_t n;     /* items */
} mw_rpt_acc;

/* One task: a tasks.json without task names holds one, named "". */
typedef struct mw_rpt_task {
    const char *name;
    mw_rpt_acc *langs; /* [n_langs], in file order */
    size_t n_langs;
} mw_rpt_task;

typedef struct mw_rpt_run {
    char *dir;       /* as given */
    char *name;      /* run.json "name", else the folder's last component */
    json_t *docs[4]; /* prune, eval, tasks, run.json: owners of the strings below */

    /* prune.json */
    bool has_prune;
    bool pruned; /* has_prune and method is not "dense" */
    const char *method, *pattern, *model;
    double target, achieved;
    const char **calib_langs; /* [n_calib] */
    size_t n_calib;
    int64_t samples, ctx, seed;
    mw_rpt_block *blocks; /* [n_blocks], by index */
    size_t n_blocks;

    /* eval.json */
    bool has_eval;
    const char *eval_model, *windows;
    int64_t eval_ctx;
    mw_rpt_ppl *ppl; /* [n_ppl], in file order */
    size_t n_ppl;

    /* tasks.json */
    bool has_tasks;
    mw_rpt_task *tasks; /* [n_tasks] */
    size_t n_tasks;

    /* run.json */
    const char **unseen; /* [n_unseen] */
    size_t n_unseen;
} mw_rpt_run;

typedef struct mw_report {
    mw_rpt_run *runs; /* [n_runs], in the order given */
    size_t n_runs;
    int dense; /* the baseline: first run that is not pruned; -1 if none */
} mw_report;

/* Reads the run folders. Errors name the file and the field:
 * "runs/wanda/prune.json: blocks[3].target: not a number in [0, 1]". */
enum mw_status mw_report_load(const char *const *dirs, size_t n, mw_report *r, mw_err *err);
void mw_report_free(mw_report *r);

/* Lookups; NULL when the run has no such entry. */
const mw_rpt_ppl *mw_rpt_run_ppl(const mw_rpt_run *run, const char *lang);
const mw_rpt_task *mw_rpt_run_task(const mw_rpt_run *run, const char *task);
const mw_rpt_acc *mw_rpt_task_acc(const mw_rpt_task *task, const char *lang);

/* A language is held out when a run.json lists it under "unseen", or when
 * some prune.json names its calibration languages and none names this one. */
bool mw_report_is_unseen(const mw_report *r, const char *lang);

#endif
