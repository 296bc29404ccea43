/* What the tables and charts of a report share: which languages appear, in
 * which order, which are held out, and the means over each set. */
#ifndef MW_REPORT_SUMMARY_H
#define MW_REPORT_SUMMARY_H

#include "report/runs.h"

/* Languages of one table or chart: calibration languages first, then the
 * held-out ones, each in code order. */
typedef struct mw_rpt_langs {
    const char **code; /* [n] */
    bool *unseen;      /* [n] held out */
    bool *common;      /* [n] every run concerned has it: counted in the means */
    size_t n, n_unseen, n_common;
} mw_rpt_langs;

void mw_rpt_langs_free(mw_rpt_langs *l);
/* The languages of the runs' eval.json files. */
enum mw_status mw_rpt_ppl_langs(const mw_report *r, mw_rpt_langs *out, mw_err *err);
/* The languages of one task over the runs that have it. */
enum mw_status mw_rpt_task_langs(const mw_report *r, const char *task, mw_rpt_langs *out,
                                 mw_err *err);

/* Task names over all runs, in the order they first appear; returns the
 * count (names beyond cap are not stored). */
size_t mw_rpt_task_names(const mw_report *r, const char **names, size_t cap);

/* Sets of languages a mean is taken over. */
enum mw_rpt_set { MW_SET_CALIB, MW_SET_UNSEEN, MW_SET_ALL };
const char *mw_rpt_set_name(enum mw_rpt_set set); /* "calibration", "held out", "all" */
bool mw_rpt_in_set(const mw_rpt_langs *l, size_t i, enum mw_rpt_set set);

/* Means over the common languages of a set; *n is how many (NAN when 0).
 * Perplexity: geometric mean, so that the ratio of two runs' means is the
 * geometric mean of their per-language ratios. Bits per byte and accuracy:
 * arithmetic means. */
double mw_rpt_ppl_mean(const mw_rpt_run *run, const mw_rpt_langs *l, enum mw_rpt_set set,
                       size_t *n);
double mw_rpt_bpb_mean(const mw_rpt_run *run, const mw_rpt_langs *l, enum mw_rpt_set set,
                       size_t *n);
/* field: 0 acc, 1 acc_norm, 2 chance */
double mw_rpt_acc_mean(const mw_rpt_task *t, const mw_rpt_langs *l, enum mw_rpt_set set, int field,
                       size_t *n);

/* The colour of a run in every chart: grey for the dense baseline, the
 * palette in order for the others. */
const char *mw_rpt_run_color(const mw_report *r, size_t run);

/* "wanda, 50% unstructured" for a pruned run, "dense" for the baseline. */
void mw_rpt_run_setting(const mw_rpt_run *run, char *buf, size_t size);

#endif
