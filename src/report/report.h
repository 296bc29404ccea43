/* `mwanda report`: a Markdown report with SVG charts from run folders (see
 * docs/report.md). Rendering happens in memory; writing puts every file in
 * place by rename, so a reader never sees half a report. */
#ifndef MW_REPORT_REPORT_H
#define MW_REPORT_REPORT_H

#include "report/runs.h"
#include "report/text.h"

#define MW_REPORT_MAX_TASKS 32
#define MW_REPORT_MAX_FILES (3 + MW_REPORT_MAX_TASKS)

/* One output file. */
typedef struct mw_report_file {
    char name[96]; /* file name inside the output folder */
    mw_text text;
} mw_report_file;

/* report.md (always files[0]) and its charts. */
typedef struct mw_report_doc {
    mw_report_file files[MW_REPORT_MAX_FILES];
    size_t n;
} mw_report_doc;

enum mw_status mw_report_render(const mw_report *r, mw_report_doc *doc, mw_err *err);
/* Writes the files into out_dir, created if missing (its parent must exist). */
enum mw_status mw_report_write(const mw_report_doc *doc, const char *out_dir, mw_err *err);
void mw_report_doc_free(mw_report_doc *doc);

/* A chart of the report: its file, or why there is none. */
typedef struct mw_report_chart {
    const char *file; /* NULL when not drawn */
    const char *why;  /* the sentence saying why not */
    const char *alt;  /* alt text */
} mw_report_chart;

/* The Markdown, with links to the charts: ppl, blocks, then one per task
 * (task names as mw_rpt_task_names gives them). */
enum mw_status mw_report_markdown(const mw_report *r, const mw_report_chart *ppl,
                                  const mw_report_chart *blocks, const mw_report_chart *tasks,
                                  const char *const *task_names, size_t n_tasks, mw_text *out,
                                  mw_err *err);

#endif
