/* report.md: the tables behind the charts, and the runs they come from. */
#include "report/report.h"

#include "core/err.h"
#include "report/summary.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define NONE "\xe2\x80\x93" /* en dash: no value */

/* " | " then a number, or the dash. */
static void cell_num(mw_text *t, double v, int decimals, const char *suffix) {
    mw_text_put(t, " | ");
    if (isnan(v)) {
        mw_text_put(t, NONE);
        return;
    }
    mw_text_num(t, v, decimals);
    mw_text_put(t, suffix);
}

/* A change in percent with its sign: +12.3%. */
static void cell_change(mw_text *t, double ratio) {
    mw_text_put(t, " | ");
    if (isnan(ratio)) {
        mw_text_put(t, NONE);
        return;
    }
    char buf[64];
    mw_fmt_num(buf, sizeof buf, (ratio - 1) * 100, 1);
    if (buf[0] != '-' && strcmp(buf, "0.0") != 0) mw_text_put(t, "+");
    mw_text_put(t, buf);
    mw_text_put(t, "%");
}

static void cell_str(mw_text *t, const char *s) {
    mw_text_put(t, " | ");
    mw_text_md(t, s && *s ? s : NONE);
}

static void header_rule(mw_text *t, size_t n_left, size_t n_right) {
    mw_text_put(t, "|");
    for (size_t i = 0; i < n_left; i++)
        mw_text_put(t, "---|");
    for (size_t i = 0; i < n_right; i++)
        mw_text_put(t, "---:|");
    mw_text_put(t, "\n");
}

static void chart_link(mw_text *t, const mw_report_chart *c) {
    if (c->file)
        mw_text_printf(t, "![%s](%s)\n\n", c->alt, c->file);
    else
        mw_text_printf(t, "%s\n\n", c->why);
}

/* ---- runs -------------------------------------------------------------- */

static void calib_cell(mw_text *t, const mw_rpt_run *run) {
    mw_text_put(t, " | ");
    if (!run->pruned || (!run->n_calib && run->samples < 0)) {
        mw_text_put(t, NONE);
        return;
    }
    if (run->n_calib) mw_text_printf(t, "%zu languages", run->n_calib);
    if (run->samples >= 0 && run->ctx >= 0)
        mw_text_printf(t, "%s%lld \xc3\x97 %lld tokens each", run->n_calib ? ", " : "",
                       (long long)run->samples, (long long)run->ctx);
    if (run->seed >= 0) mw_text_printf(t, ", seed %lld", (long long)run->seed);
}

static void runs_table(mw_text *t, const mw_report *r) {
    mw_text_put(t,
                "| run | method | target sparsity | achieved | pattern | calibration | model |\n");
    mw_text_put(t, "|---|---|---:|---:|---|---|---|\n");
    for (size_t i = 0; i < r->n_runs; i++) {
        const mw_rpt_run *run = &r->runs[i];
        mw_text_put(t, "|");
        mw_text_put(t, (int)i == r->dense ? " **" : " ");
        mw_text_md(t, run->name);
        mw_text_put(t, (int)i == r->dense ? "**" : "");
        cell_str(t, run->has_prune ? run->method : "dense");
        cell_num(t, run->pruned ? run->target * 100 : NAN, 2, "%");
        cell_num(t, run->pruned ? run->achieved * 100 : NAN, 2, "%");
        cell_str(t, run->pruned ? (run->pattern ? run->pattern : "unstructured") : NULL);
        calib_cell(t, run);
        cell_str(t, run->model ? run->model : run->eval_model);
        mw_text_put(t, " |\n");
    }
    mw_text_put(t, "\n");
}

static void held_out_line(mw_text *t, const mw_rpt_langs *l) {
    if (!l->n_unseen) return;
    mw_text_put(t, "Held-out languages (not used for calibration; shaded in the charts): ");
    bool first = true;
    for (size_t i = 0; i < l->n; i++) {
        if (!l->unseen[i]) continue;
        mw_text_put(t, first ? "" : ", ");
        mw_text_md(t, l->code[i]);
        first = false;
    }
    mw_text_put(t, ".\n\n");
}

/* The sets the mean rows cover: both when the languages split, else all. */
static size_t mean_sets(const mw_rpt_langs *l, enum mw_rpt_set *sets) {
    size_t unseen = 0;
    for (size_t i = 0; i < l->n; i++)
        unseen += l->common[i] && l->unseen[i];
    if (unseen == 0 || unseen == l->n_common) {
        sets[0] = MW_SET_ALL;
        return 1;
    }
    sets[0] = MW_SET_CALIB;
    sets[1] = MW_SET_UNSEEN;
    return 2;
}

/* How many languages a mean over the set covers. */
static size_t set_count(const mw_rpt_langs *l, enum mw_rpt_set set) {
    size_t n = 0;
    for (size_t i = 0; i < l->n; i++)
        n += l->common[i] && mw_rpt_in_set(l, i, set);
    return n;
}

/* The first cell of a mean row, then n_empty empty cells. */
static void mean_label(mw_text *t, const mw_rpt_langs *l, enum mw_rpt_set set, size_t n_empty) {
    mw_text_printf(t, "| **mean, %s (%zu)**", mw_rpt_set_name(set), set_count(l, set));
    for (size_t i = 0; i < n_empty; i++)
        mw_text_put(t, " |");
}

static void set_cell(mw_text *t, const mw_rpt_langs *l, size_t i, bool split) {
    if (split) mw_text_put(t, l->unseen[i] ? " | held out" : " | calibration");
}

static void common_note(mw_text *t, const mw_rpt_langs *l) {
    if (l->n_common == l->n) return;
    mw_text_printf(t, "Means cover the %zu languages that every run has (of %zu).\n\n", l->n_common,
                   l->n);
}

/* ---- perplexity ---------------------------------------------------------- */

/* Runs with an eval.json; the dense one first when there is one. */
static size_t eval_runs(const mw_report *r, size_t *idx) {
    size_t n = 0;
    if (r->dense >= 0 && r->runs[r->dense].has_eval) idx[n++] = (size_t)r->dense;
    for (size_t i = 0; i < r->n_runs; i++)
        if ((int)i != r->dense && r->runs[i].has_eval) idx[n++] = i;
    return n;
}

static void ppl_table(mw_text *t, const mw_report *r, const mw_rpt_langs *l) {
    size_t idx[MW_REPORT_MAX_RUNS], n = eval_runs(r, idx);
    const mw_rpt_run *dense =
        r->dense >= 0 && r->runs[r->dense].has_eval ? &r->runs[r->dense] : NULL;
    bool split = l->n_unseen > 0 && l->n_unseen < l->n;
    size_t cols = 0;
    mw_text_put(t, split ? "| language | set" : "| language");
    for (size_t k = 0; k < n; k++) {
        mw_text_put(t, " | ");
        mw_text_md(t, r->runs[idx[k]].name);
        cols++;
        if (dense && k > 0) mw_text_put(t, " | change"), cols++;
    }
    mw_text_put(t, " |\n");
    header_rule(t, split ? 2 : 1, cols);
    for (size_t i = 0; i < l->n; i++) {
        mw_text_put(t, "| ");
        mw_text_md(t, l->code[i]);
        set_cell(t, l, i, split);
        const mw_rpt_ppl *base = dense ? mw_rpt_run_ppl(dense, l->code[i]) : NULL;
        for (size_t k = 0; k < n; k++) {
            const mw_rpt_ppl *p = mw_rpt_run_ppl(&r->runs[idx[k]], l->code[i]);
            cell_num(t, p ? p->ppl : NAN, 2, "");
            if (dense && k > 0) cell_change(t, p && base ? p->ppl / base->ppl : NAN);
        }
        mw_text_put(t, " |\n");
    }
    enum mw_rpt_set sets[2];
    size_t n_sets = l->n_common ? mean_sets(l, sets) : 0;
    for (size_t s = 0; s < n_sets; s++) {
        mean_label(t, l, sets[s], split);
        size_t m;
        double base = dense ? mw_rpt_ppl_mean(dense, l, sets[s], &m) : NAN;
        for (size_t k = 0; k < n; k++) {
            double v = mw_rpt_ppl_mean(&r->runs[idx[k]], l, sets[s], &m);
            cell_num(t, v, 2, "");
            if (dense && k > 0) cell_change(t, v / base);
        }
        mw_text_put(t, " |\n");
    }
    mw_text_put(t, "\n");
    if (n_sets)
        mw_text_put(t, "Perplexity means are geometric: the change of a mean is the geometric "
                       "mean of the per-language changes.\n\n");
    common_note(t, l);
}

static void bpb_table(mw_text *t, const mw_report *r, const mw_rpt_langs *l) {
    size_t idx[MW_REPORT_MAX_RUNS], n = eval_runs(r, idx);
    bool any = false;
    for (size_t k = 0; k < n; k++)
        for (size_t j = 0; j < r->runs[idx[k]].n_ppl; j++)
            any |= !isnan(r->runs[idx[k]].ppl[j].bpb);
    if (!any) return;
    bool split = l->n_unseen > 0 && l->n_unseen < l->n;
    mw_text_put(t, "### Bits per byte\n\nComparable across languages and tokenizers: the "
                   "text's negative log-likelihood in bits over its size in UTF-8 bytes.\n\n");
    mw_text_put(t, split ? "| language | set" : "| language");
    for (size_t k = 0; k < n; k++) {
        mw_text_put(t, " | ");
        mw_text_md(t, r->runs[idx[k]].name);
    }
    mw_text_put(t, " |\n");
    header_rule(t, split ? 2 : 1, n);
    for (size_t i = 0; i < l->n; i++) {
        mw_text_put(t, "| ");
        mw_text_md(t, l->code[i]);
        set_cell(t, l, i, split);
        for (size_t k = 0; k < n; k++) {
            const mw_rpt_ppl *p = mw_rpt_run_ppl(&r->runs[idx[k]], l->code[i]);
            cell_num(t, p ? p->bpb : NAN, 4, "");
        }
        mw_text_put(t, " |\n");
    }
    enum mw_rpt_set sets[2];
    size_t n_sets = l->n_common ? mean_sets(l, sets) : 0;
    for (size_t s = 0; s < n_sets; s++) {
        mean_label(t, l, sets[s], split);
        for (size_t k = 0; k < n; k++) {
            size_t m;
            cell_num(t, mw_rpt_bpb_mean(&r->runs[idx[k]], l, sets[s], &m), 4, "");
        }
        mw_text_put(t, " |\n");
    }
    mw_text_put(t, "\n");
}

/* ---- blocks ---------------------------------------------------------------- */

static void blocks_table(mw_text *t, const mw_report *r) {
    size_t idx[MW_REPORT_MAX_RUNS], n = 0, n_x = 0;
    for (size_t i = 0; i < r->n_runs; i++) {
        const mw_rpt_run *run = &r->runs[i];
        if (!run->pruned || !run->n_blocks) continue;
        idx[n++] = i;
        size_t last = (size_t)run->blocks[run->n_blocks - 1].index + 1;
        if (last > n_x) n_x = last;
    }
    if (!n) return;
    mw_text_put(t, "Target sparsity per block in percent (achieved, where it differs by more "
                   "than 0.01 points, in parentheses).\n\n| block");
    for (size_t k = 0; k < n; k++) {
        mw_text_put(t, " | ");
        mw_text_md(t, r->runs[idx[k]].name);
    }
    mw_text_put(t, " |\n");
    header_rule(t, 1, n);
    for (size_t b = 0; b < n_x; b++) {
        mw_text_printf(t, "| %zu", b);
        for (size_t k = 0; k < n; k++) {
            const mw_rpt_run *run = &r->runs[idx[k]];
            const mw_rpt_block *blk = NULL;
            for (size_t j = 0; j < run->n_blocks; j++)
                if (run->blocks[j].index == (int64_t)b) blk = &run->blocks[j];
            cell_num(t, blk ? blk->target * 100 : NAN, 2, "");
            if (blk && !isnan(blk->achieved) && fabs(blk->achieved - blk->target) > 1e-4) {
                mw_text_put(t, " (");
                mw_text_num(t, blk->achieved * 100, 2);
                mw_text_put(t, ")");
            }
        }
        mw_text_put(t, " |\n");
    }
    mw_text_put(t, "\n");
}

/* ---- tasks ----------------------------------------------------------------- */

static void acc_cell(mw_text *t, const mw_rpt_acc *a) {
    mw_text_put(t, " | ");
    if (!a) {
        mw_text_put(t, NONE);
        return;
    }
    mw_text_num(t, a->acc * 100, 1);
    if (!isnan(a->acc_norm)) {
        mw_text_put(t, " / ");
        mw_text_num(t, a->acc_norm * 100, 1);
    }
}

static void task_table(mw_text *t, const mw_report *r, const char *task, const mw_rpt_langs *l) {
    size_t idx[MW_REPORT_MAX_RUNS], n = 0;
    if (r->dense >= 0 && mw_rpt_run_task(&r->runs[r->dense], task)) idx[n++] = (size_t)r->dense;
    for (size_t i = 0; i < r->n_runs; i++)
        if ((int)i != r->dense && mw_rpt_run_task(&r->runs[i], task)) idx[n++] = i;
    bool split = l->n_unseen > 0 && l->n_unseen < l->n;
    mw_text_put(t, "Accuracy in percent, as `acc / acc_norm` (choices scored by log-likelihood, "
                   "and by log-likelihood per byte).\n\n");
    mw_text_put(t, split ? "| language | set | items" : "| language | items");
    for (size_t k = 0; k < n; k++) {
        mw_text_put(t, " | ");
        mw_text_md(t, r->runs[idx[k]].name);
    }
    mw_text_put(t, " |\n");
    header_rule(t, split ? 2 : 1, n + 1);
    for (size_t i = 0; i < l->n; i++) {
        mw_text_put(t, "| ");
        mw_text_md(t, l->code[i]);
        set_cell(t, l, i, split);
        int64_t items = -1;
        for (size_t k = 0; k < n && items < 0; k++) {
            const mw_rpt_acc *a =
                mw_rpt_task_acc(mw_rpt_run_task(&r->runs[idx[k]], task), l->code[i]);
            if (a) items = a->n;
        }
        cell_num(t, items >= 0 ? (double)items : NAN, 0, "");
        for (size_t k = 0; k < n; k++)
            acc_cell(t, mw_rpt_task_acc(mw_rpt_run_task(&r->runs[idx[k]], task), l->code[i]));
        mw_text_put(t, " |\n");
    }
    enum mw_rpt_set sets[2];
    size_t n_sets = l->n_common ? mean_sets(l, sets) : 0;
    for (size_t s = 0; s < n_sets; s++) {
        mean_label(t, l, sets[s], split + 1);
        for (size_t k = 0; k < n; k++) {
            const mw_rpt_task *tk = mw_rpt_run_task(&r->runs[idx[k]], task);
            size_t m;
            double acc = mw_rpt_acc_mean(tk, l, sets[s], 0, &m);
            double norm = mw_rpt_acc_mean(tk, l, sets[s], 1, &m);
            cell_num(t, acc * 100, 1, "");
            if (!isnan(norm)) {
                mw_text_put(t, " / ");
                mw_text_num(t, norm * 100, 1);
            }
        }
        mw_text_put(t, " |\n");
    }
    mw_text_put(t, "\n");
    common_note(t, l);
}

/* ---- summary --------------------------------------------------------------- */

/* One row per run: sparsity, mean perplexity change per set, mean accuracy
 * per task. */
static enum mw_status summary_table(mw_text *t, const mw_report *r, const mw_rpt_langs *l,
                                    const char *const *task_names, size_t n_tasks, mw_err *err) {
    const mw_rpt_run *dense =
        r->dense >= 0 && r->runs[r->dense].has_eval ? &r->runs[r->dense] : NULL;
    enum mw_rpt_set sets[2];
    size_t n_sets = dense && l->n_common ? mean_sets(l, sets) : 0;
    if (!n_sets && !n_tasks) return MW_OK;
    mw_rpt_langs tl[MW_REPORT_MAX_TASKS] = {{0}};
    enum mw_status s = MW_OK;
    for (size_t k = 0; k < n_tasks && !s; k++)
        s = mw_rpt_task_langs(r, task_names[k], &tl[k], err);
    if (s) goto done;
    mw_text_put(t, "## Summary\n\n| run | setting | achieved sparsity");
    for (size_t i = 0; i < n_sets; i++)
        mw_text_printf(t, " | perplexity change, %s languages (%zu)",
                       sets[i] == MW_SET_UNSEEN ? "held-out" : mw_rpt_set_name(sets[i]),
                       set_count(l, sets[i]));
    for (size_t k = 0; k < n_tasks; k++) {
        mw_text_put(t, " | accuracy");
        if (task_names[k][0]) mw_text_put(t, ", "), mw_text_md(t, task_names[k]);
    }
    mw_text_put(t, " |\n");
    header_rule(t, 2, 1 + n_sets + n_tasks);
    for (size_t i = 0; i < r->n_runs; i++) {
        const mw_rpt_run *run = &r->runs[i];
        char setting[160];
        mw_rpt_run_setting(run, setting, sizeof setting);
        mw_text_put(t, "| ");
        mw_text_md(t, run->name);
        cell_str(t, setting);
        cell_num(t, run->pruned ? run->achieved * 100 : NAN, 2, "%");
        for (size_t k = 0; k < n_sets; k++) {
            size_t m0, m1;
            double base = mw_rpt_ppl_mean(dense, l, sets[k], &m0);
            double v = run->has_eval ? mw_rpt_ppl_mean(run, l, sets[k], &m1) : NAN;
            if (run == dense)
                cell_str(t, NULL);
            else
                cell_change(t, v / base);
        }
        for (size_t k = 0; k < n_tasks; k++) {
            size_t m;
            const mw_rpt_task *tk = mw_rpt_run_task(run, task_names[k]);
            cell_num(t, tk ? mw_rpt_acc_mean(tk, &tl[k], MW_SET_ALL, 0, &m) * 100 : NAN, 1, "%");
        }
        mw_text_put(t, " |\n");
    }
    mw_text_put(t, "\nPerplexity change: of the geometric mean over the languages every run has; "
                   "accuracy: mean over the languages every run has.\n\n");
done:
    for (size_t k = 0; k < n_tasks; k++)
        mw_rpt_langs_free(&tl[k]);
    return s;
}

enum mw_status mw_report_markdown(const mw_report *r, const mw_report_chart *ppl,
                                  const mw_report_chart *blocks, const mw_report_chart *tasks,
                                  const char *const *task_names, size_t n_tasks, mw_text *t,
                                  mw_err *err) {
    mw_rpt_langs l = {0};
    enum mw_status s = mw_rpt_ppl_langs(r, &l, err);
    if (s) return s;
    mw_text_put(t, "# mwanda report\n\n");
    if (r->dense >= 0) {
        mw_text_put(t, "Runs in the order given; the dense baseline is **");
        mw_text_md(t, r->runs[r->dense].name);
        mw_text_put(t, "**.\n\n");
    } else {
        mw_text_put(t, "Runs in the order given. No run is dense (a folder without prune.json), "
                       "so nothing is compared with a baseline.\n\n");
    }
    runs_table(t, r);
    if ((s = summary_table(t, r, &l, task_names, n_tasks, err))) goto done;

    mw_text_put(t, "## Perplexity per language\n\n");
    chart_link(t, ppl);
    if (l.n) {
        held_out_line(t, &l);
        ppl_table(t, r, &l);
        bpb_table(t, r, &l);
    } else {
        mw_text_put(t, "No run has an eval.json.\n\n");
    }

    mw_text_put(t, "## Sparsity per block\n\n");
    chart_link(t, blocks);
    blocks_table(t, r);

    mw_text_put(t, "## Task accuracy\n\n");
    if (!n_tasks) mw_text_put(t, "No chart of task accuracy: no run has a tasks.json.\n\n");
    for (size_t k = 0; k < n_tasks && !s; k++) {
        mw_rpt_langs tl;
        if ((s = mw_rpt_task_langs(r, task_names[k], &tl, err))) break;
        if (task_names[k][0]) {
            mw_text_put(t, "### ");
            mw_text_md(t, task_names[k]);
            mw_text_put(t, "\n\n");
        }
        chart_link(t, &tasks[k]);
        task_table(t, r, task_names[k], &tl);
        mw_rpt_langs_free(&tl);
    }
done:
    mw_rpt_langs_free(&l);
    if (!s && t->oom) s = mw_fail(err, MW_ERR_NOMEM, "out of memory");
    return s;
}
