/* The report's charts, drawn from its runs. Each returns MW_OK; when there
 * is nothing to draw, *why says so (one sentence for the Markdown) and s is
 * left empty. */
#ifndef MW_REPORT_CHARTS_H
#define MW_REPORT_CHARTS_H

#include "report/summary.h"
#include "report/svg.h"

/* Perplexity of each run over the dense one's, per language, with means of
 * the calibration and held-out languages. */
enum mw_status mw_rpt_chart_ppl(const mw_report *r, const mw_rpt_langs *l, mw_svg *s,
                                const char **why, mw_err *err);
/* Target sparsity per decoder block of each pruned run. */
enum mw_status mw_rpt_chart_blocks(const mw_report *r, mw_svg *s, const char **why, mw_err *err);
/* Accuracy per language of each run that has the task, with confidence
 * intervals and chance. */
enum mw_status mw_rpt_chart_task(const mw_report *r, const char *task, const mw_rpt_langs *l,
                                 mw_svg *s, const char **why, mw_err *err);

/* Chance level when a task file gives neither "chance" nor "choices": the
 * shipped tasks pick one of four. */
#define MW_RPT_DEFAULT_CHANCE 0.25

#endif
