#include "report/report.h"

#include "core/err.h"
#include "core/outfile.h"
#include "core/pending.h"
#include "report/charts.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void mw_report_doc_free(mw_report_doc *doc) {
    for (size_t i = 0; i < doc->n; i++)
        mw_text_free(&doc->files[i].text);
    doc->n = 0;
}

/* Moves a drawn chart into the document. */
static void add_svg(mw_report_doc *doc, const char *name, mw_svg *s) {
    mw_report_file *f = &doc->files[doc->n++];
    snprintf(f->name, sizeof f->name, "%s", name);
    f->text = s->out;
    s->out = (mw_text){0};
}

static bool name_taken(const mw_report_doc *doc, const char *name) {
    for (size_t i = 0; i < doc->n; i++)
        if (strcmp(doc->files[i].name, name) == 0) return true;
    return false;
}

/* tasks.svg for an unnamed task, else tasks-<name>.svg with the name cut
 * down to characters every file system takes. */
static void task_file_name(const mw_report_doc *doc, const char *task, char *buf, size_t size) {
    if (!task[0]) {
        snprintf(buf, size, "tasks.svg");
        return;
    }
    char safe[64];
    size_t n = 0;
    for (const char *p = task; *p && n < sizeof safe - 1; p++) {
        char c = *p;
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '-' || c == '_';
        safe[n++] = ok ? c : '_';
    }
    safe[n] = '\0';
    snprintf(buf, size, "tasks-%s.svg", safe);
    for (int k = 2; name_taken(doc, buf); k++)
        snprintf(buf, size, "tasks-%s-%d.svg", safe, k);
}

enum mw_status mw_report_render(const mw_report *r, mw_report_doc *doc, mw_err *err) {
    memset(doc, 0, sizeof *doc);
    doc->n = 1;
    snprintf(doc->files[0].name, sizeof doc->files[0].name, "report.md");
    const char *task_names[MW_REPORT_MAX_TASKS];
    size_t n_tasks = mw_rpt_task_names(r, task_names, MW_REPORT_MAX_TASKS);
    if (n_tasks > MW_REPORT_MAX_TASKS)
        return mw_fail(err, MW_ERR_ARG, "the runs hold %zu tasks: at most %d fit in one report",
                       n_tasks, MW_REPORT_MAX_TASKS);
    mw_rpt_langs l;
    enum mw_status s = mw_rpt_ppl_langs(r, &l, err);
    if (s) return s;
    mw_report_chart ppl = {.alt = "Perplexity change per language"};
    mw_report_chart blocks = {.alt = "Target sparsity per decoder block"};
    mw_report_chart tasks[MW_REPORT_MAX_TASKS];
    mw_svg svg = {0};
    if (!(s = mw_rpt_chart_ppl(r, &l, &svg, &ppl.why, err)) && !ppl.why) {
        add_svg(doc, "perplexity.svg", &svg);
        ppl.file = doc->files[doc->n - 1].name;
    }
    if (!s && !(s = mw_rpt_chart_blocks(r, &svg, &blocks.why, err)) && !blocks.why) {
        add_svg(doc, "sparsity.svg", &svg);
        blocks.file = doc->files[doc->n - 1].name;
    }
    for (size_t k = 0; k < n_tasks && !s; k++) {
        mw_rpt_langs tl;
        tasks[k] = (mw_report_chart){.alt = "Task accuracy per language"};
        if ((s = mw_rpt_task_langs(r, task_names[k], &tl, err))) break;
        s = mw_rpt_chart_task(r, task_names[k], &tl, &svg, &tasks[k].why, err);
        mw_rpt_langs_free(&tl);
        if (s || tasks[k].why) continue;
        char name[96];
        task_file_name(doc, task_names[k], name, sizeof name);
        add_svg(doc, name, &svg);
        tasks[k].file = doc->files[doc->n - 1].name;
    }
    mw_svg_free(&svg);
    mw_rpt_langs_free(&l);
    if (!s)
        s = mw_report_markdown(r, &ppl, &blocks, tasks, task_names, n_tasks, &doc->files[0].text,
                               err);
    for (size_t i = 0; i < doc->n && !s; i++)
        if (doc->files[i].text.oom) s = mw_fail(err, MW_ERR_NOMEM, "out of memory");
    if (s) mw_report_doc_free(doc);
    return s;
}

/* ---- writing ---------------------------------------------------------------- */

/* Writes one file of the report into dir; with pending, records the written
 * file there for a signal's clean-up (a file inside a temporary folder). */
static enum mw_status write_file(const char *dir, const mw_report_file *f, int *pending,
                                 mw_err *err) {
    if (pending) *pending = -1;
    char path[4096];
    if (snprintf(path, sizeof path, "%s/%s", dir, f->name) >= (int)sizeof path)
        return mw_fail(err, MW_ERR_ARG, "%s: path too long", dir);
    mw_outfile o;
    enum mw_status s = mw_outfile_open(&o, path, MW_OUTFILE_OUTPUT, err);
    if (s) return s;
    if ((s = mw_outfile_write(&o, f->text.s ? f->text.s : "", f->text.len, err))) {
        mw_outfile_abort(&o);
        return s;
    }
    if ((s = mw_outfile_commit(&o, err))) return s;
    if (pending) *pending = mw_pending_add(path);
    return MW_OK;
}

/* Removes what a failed write left in a temporary folder. */
static void remove_tmp_dir(const char *tmp, const mw_report_doc *doc) {
    char path[4096];
    for (size_t i = 0; i < doc->n; i++)
        if (snprintf(path, sizeof path, "%s/%s", tmp, doc->files[i].name) < (int)sizeof path)
            unlink(path);
    rmdir(tmp);
}

enum mw_status mw_report_write(const mw_report_doc *doc, const char *out_dir, mw_err *err) {
    char dir[4096], tmp[4096 + 16];
    size_t len = strlen(out_dir);
    while (len > 1 && out_dir[len - 1] == '/')
        len--;
    if (len == 0 || len >= sizeof dir) return mw_fail(err, MW_ERR_ARG, "bad output folder name");
    memcpy(dir, out_dir, len);
    dir[len] = '\0';
    struct stat st;
    if (stat(dir, &st) == 0) {
        if (!S_ISDIR(st.st_mode))
            return mw_fail(err, MW_ERR_IO, "%s exists and is not a folder", dir);
        /* an existing folder: every file replaced by rename, the charts before
         * the report that links them */
        for (size_t i = doc->n; i-- > 0;) {
            enum mw_status s = write_file(dir, &doc->files[i], NULL, err);
            if (s) return s;
        }
        return MW_OK;
    }
    if (errno != ENOENT) return mw_fail(err, MW_ERR_IO, "%s: %s", dir, strerror(errno));
    /* a new folder: filled under a temporary name, then renamed into place */
    snprintf(tmp, sizeof tmp, "%s.tmp-XXXXXX", dir);
    if (!mkdtemp(tmp)) return mw_fail(err, MW_ERR_IO, "cannot create %s: %s", dir, strerror(errno));
    mode_t mask = umask(0);
    umask(mask);
    chmod(tmp, 0777 & ~mask); /* mkdtemp makes it private */
    /* the folder and the files already in it, for a signal's clean-up */
    int pending[MW_PENDING_SLOTS];
    size_t n_pending = 0;
    pending[n_pending++] = mw_pending_add(tmp);
    enum mw_status s = MW_OK;
    for (size_t i = 0; i < doc->n && !s; i++)
        s = write_file(tmp, &doc->files[i],
                       n_pending < MW_PENDING_SLOTS ? &pending[n_pending++] : NULL, err);
    if (!s && rename(tmp, dir) != 0) {
        int e = errno;
        s = mw_fail(err, MW_ERR_IO, "cannot rename into %s: %s", dir, strerror(e));
    }
    if (s) remove_tmp_dir(tmp, doc);
    for (size_t i = 0; i < n_pending; i++)
        mw_pending_drop(pending[i]);
    return s;
}
