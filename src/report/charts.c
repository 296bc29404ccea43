#include "report/charts.h"

#include "core/err.h"
#include "report/chart.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TIP_LEN 200

/* The arrays a grouped bar chart needs, [groups][series]. */
typedef struct bar_data {
    double *value, *lo, *hi, *ref;
    char *tip_text;    /* [groups * series][TIP_LEN] */
    const char **tips; /* into tip_text, NULL where no bar */
    const char **groups, **notes, **series, **colors;
    bool *shaded;
} bar_data;

static void bar_data_free(bar_data *d) {
    free(d->value);
    free(d->lo);
    free(d->hi);
    free(d->ref);
    free(d->tip_text);
    free(d->tips);
    free(d->groups);
    free(d->notes);
    free(d->series);
    free(d->colors);
    free(d->shaded);
}

static enum mw_status bar_data_alloc(bar_data *d, size_t n_groups, size_t n_series, mw_err *err) {
    size_t n = n_groups * n_series;
    *d = (bar_data){0};
    d->value = malloc(n * sizeof *d->value);
    d->lo = malloc(n * sizeof *d->lo);
    d->hi = malloc(n * sizeof *d->hi);
    d->ref = malloc(n_groups * sizeof *d->ref);
    d->tip_text = calloc(n, TIP_LEN);
    d->tips = calloc(n, sizeof *d->tips);
    d->groups = calloc(n_groups, sizeof *d->groups);
    d->notes = calloc(n_groups, sizeof *d->notes);
    d->series = calloc(n_series, sizeof *d->series);
    d->colors = calloc(n_series, sizeof *d->colors);
    d->shaded = calloc(n_groups, sizeof *d->shaded);
    if (!d->value || !d->lo || !d->hi || !d->ref || !d->tip_text || !d->tips || !d->groups ||
        !d->notes || !d->series || !d->colors || !d->shaded) {
        bar_data_free(d);
        return mw_fail(err, MW_ERR_NOMEM, "out of memory");
    }
    for (size_t i = 0; i < n; i++)
        d->value[i] = d->lo[i] = d->hi[i] = NAN;
    for (size_t g = 0; g < n_groups; g++)
        d->ref[g] = NAN;
    return MW_OK;
}

static char *tip_at(bar_data *d, size_t i) {
    d->tips[i] = d->tip_text + i * TIP_LEN;
    return d->tip_text + i * TIP_LEN;
}

/* The mean groups: one per set that has languages. */
static size_t summary_sets(const mw_rpt_langs *l, enum mw_rpt_set *sets) {
    if (l->n_common == 0) return 0;
    size_t n_unseen = 0;
    for (size_t i = 0; i < l->n; i++)
        n_unseen += l->common[i] && l->unseen[i];
    if (n_unseen == 0 || n_unseen == l->n_common) {
        sets[0] = MW_SET_ALL;
        return 1;
    }
    sets[0] = MW_SET_CALIB;
    sets[1] = MW_SET_UNSEEN;
    return 2;
}

static const char *set_note(enum mw_rpt_set set) {
    return set == MW_SET_CALIB ? "calib." : set == MW_SET_UNSEEN ? "held out" : "all";
}

/* ---- perplexity ---------------------------------------------------------- */

/* Bars of one group: each run's perplexity over the dense one's, for a
 * language or (set given) for the mean over a set. */
static void fill_ppl_group(const mw_report *r, const mw_rpt_langs *l, const size_t *series_run,
                           size_t n_series, size_t g, const enum mw_rpt_set *set, bar_data *d) {
    const mw_rpt_run *dense = &r->runs[r->dense];
    for (size_t k = 0; k < n_series; k++) {
        const mw_rpt_run *run = &r->runs[series_run[k]];
        double base, v;
        if (!set) {
            const mw_rpt_ppl *p = mw_rpt_run_ppl(run, d->groups[g]);
            if (!p) continue;
            base = mw_rpt_run_ppl(dense, d->groups[g])->ppl;
            v = p->ppl;
        } else {
            size_t n0, n1;
            base = mw_rpt_ppl_mean(dense, l, *set, &n0);
            v = mw_rpt_ppl_mean(run, l, *set, &n1);
            if (!n0 || n0 != n1) continue;
        }
        double ratio = v / base;
        d->value[g * n_series + k] = ratio;
        char b[32], a[32], c[32];
        mw_fmt_num(b, sizeof b, base, 2);
        mw_fmt_num(a, sizeof a, v, 2);
        mw_chart_fmt(c, sizeof c, (ratio - 1) * 100, MW_TICK_CHANGE, true);
        snprintf(tip_at(d, g * n_series + k), TIP_LEN, "%s%s%s, %s: perplexity %s -> %s (%s)",
                 d->groups[g], set ? " " : "", set ? d->notes[g] : "", run->name, b, a, c);
    }
}

enum mw_status mw_rpt_chart_ppl(const mw_report *r, const mw_rpt_langs *l, mw_svg *s,
                                const char **why, mw_err *err) {
    *why = NULL;
    const mw_rpt_run *dense = r->dense >= 0 ? &r->runs[r->dense] : NULL;
    if (!dense || !dense->has_eval) {
        *why = "No chart of the perplexity change: it needs a dense run (a folder without "
               "prune.json) with an eval.json.";
        return MW_OK;
    }
    size_t series_run[MW_REPORT_MAX_RUNS], n_series = 0;
    for (size_t i = 0; i < r->n_runs; i++)
        if ((int)i != r->dense && r->runs[i].has_eval) series_run[n_series++] = i;
    if (n_series == 0) {
        *why = "No chart of the perplexity change: no run besides the dense one has an "
               "eval.json.";
        return MW_OK;
    }
    enum mw_rpt_set sets[2];
    size_t n_sum = summary_sets(l, sets), n_lang = 0;
    size_t *lang_of = calloc(l->n ? l->n : 1, sizeof *lang_of);
    if (!lang_of) return mw_fail(err, MW_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < l->n; i++)
        if (mw_rpt_run_ppl(dense, l->code[i])) lang_of[n_lang++] = i;
    size_t n_groups = n_lang + n_sum;
    bar_data d;
    enum mw_status st = bar_data_alloc(&d, n_groups, n_series, err);
    if (st) {
        free(lang_of);
        return st;
    }
    for (size_t g = 0; g < n_groups; g++) {
        bool summary = g >= n_lang;
        if (!summary) {
            d.groups[g] = l->code[lang_of[g]];
            d.shaded[g] = l->unseen[lang_of[g]];
        } else {
            d.groups[g] = "mean";
            d.notes[g] = set_note(sets[g - n_lang]);
        }
        fill_ppl_group(r, l, series_run, n_series, g, summary ? &sets[g - n_lang] : NULL, &d);
    }
    double max_ratio = 1, min_ratio = 1;
    for (size_t i = 0; i < n_groups * n_series; i++) {
        if (d.value[i] > max_ratio) max_ratio = d.value[i];
        if (d.value[i] < min_ratio) min_ratio = d.value[i];
    }
    for (size_t k = 0; k < n_series; k++) {
        d.series[k] = r->runs[series_run[k]].name;
        d.colors[k] = mw_rpt_run_color(r, series_run[k]);
    }
    /* up to +150% reads best as a percentage; beyond, ratios on a log axis
     * keep a 90%-sparse run from flattening every other bar */
    bool log_axis = max_ratio > 2.5 || min_ratio < 0.5;
    if (!log_axis)
        for (size_t i = 0; i < n_groups * n_series; i++)
            d.value[i] = (d.value[i] - 1) * 100;
    char subtitle[320];
    bool plain = strcmp(dense->name, "dense") == 0;
    snprintf(subtitle, sizeof subtitle,
             "Each run's perplexity relative to the dense model%s%s%s; higher is worse.",
             plain ? "" : " (", plain ? "" : dense->name, plain ? "" : ")");
    mw_bar_chart c = {
        .title = "Perplexity change per language",
        .subtitle = subtitle,
        .x_label =
            n_sum ? "language (means: geometric, over the languages all runs have)" : "language",
        .y_label = log_axis ? "perplexity / dense (log scale)" : "perplexity change vs dense",
        .n_groups = n_groups,
        .n_series = n_series,
        .groups = d.groups,
        .group_notes = d.notes,
        .shaded = d.shaded,
        .shade_label = "held-out language (not calibrated on)",
        .n_summary = n_sum,
        .series = d.series,
        .colors = d.colors,
        .value = d.value,
        .tips = d.tips,
        .log = log_axis,
        .base = log_axis ? 1 : 0,
        .y_min = NAN,
        .y_max = NAN,
        .fmt = log_axis ? MW_TICK_RATIO : MW_TICK_CHANGE,
    };
    mw_bar_chart_svg(&c, s);
    bar_data_free(&d);
    free(lang_of);
    return MW_OK;
}

/* ---- sparsity per block ---------------------------------------------------- */

enum mw_status mw_rpt_chart_blocks(const mw_report *r, mw_svg *s, const char **why, mw_err *err) {
    *why = NULL;
    size_t series_run[MW_REPORT_MAX_RUNS], n_series = 0, n_x = 0;
    for (size_t i = 0; i < r->n_runs; i++) {
        const mw_rpt_run *run = &r->runs[i];
        if (!run->pruned || run->n_blocks == 0) continue;
        series_run[n_series++] = i;
        size_t last = (size_t)run->blocks[run->n_blocks - 1].index + 1;
        if (last > n_x) n_x = last;
    }
    if (n_series == 0) {
        *why = "No chart of the sparsity per block: no prune.json lists its blocks.";
        return MW_OK;
    }
    double *value = malloc(n_series * n_x * sizeof *value);
    char *tip_text = calloc(n_series * n_x, TIP_LEN);
    const char **tips = calloc(n_series * n_x, sizeof *tips);
    const char *names[MW_REPORT_MAX_RUNS], *colors[MW_REPORT_MAX_RUNS];
    if (!value || !tip_text || !tips) {
        free(value);
        free(tip_text);
        free(tips);
        return mw_fail(err, MW_ERR_NOMEM, "out of memory");
    }
    bool same_target = true;
    double target = r->runs[series_run[0]].target;
    for (size_t k = 0; k < n_series; k++) {
        const mw_rpt_run *run = &r->runs[series_run[k]];
        names[k] = run->name;
        colors[k] = mw_rpt_run_color(r, series_run[k]);
        same_target &= fabs(run->target - target) < 1e-9;
        for (size_t x = 0; x < n_x; x++)
            value[k * n_x + x] = NAN;
        for (size_t b = 0; b < run->n_blocks; b++) {
            const mw_rpt_block *blk = &run->blocks[b];
            size_t i = k * n_x + (size_t)blk->index;
            value[i] = blk->target * 100;
            char t[32], a[32] = "";
            mw_fmt_num(t, sizeof t, blk->target * 100, 2);
            if (!isnan(blk->achieved)) mw_fmt_num(a, sizeof a, blk->achieved * 100, 2);
            tips[i] = tip_text + i * TIP_LEN;
            snprintf(tip_text + i * TIP_LEN, TIP_LEN, "block %lld, %s: target %s%%%s%s%s",
                     (long long)blk->index, run->name, t, a[0] ? ", achieved " : "", a,
                     a[0] ? "%" : "");
        }
    }
    char ref_label[64], pct[32];
    mw_fmt_num(pct, sizeof pct, target * 100, fabs(target * 100 - round(target * 100)) > 1e-6);
    snprintf(ref_label, sizeof ref_label, "target %s%% (the mean over blocks)", pct);
    mw_step_chart c = {
        .title = "Target sparsity per decoder block",
        .subtitle = "OWL and M-Wanda's CWL move sparsity between blocks and keep its mean; "
                    "Wanda is flat.",
        .x_label = "decoder block",
        .y_label = "target sparsity",
        .n_series = n_series,
        .n_x = n_x,
        .series = names,
        .colors = colors,
        .value = value,
        .tips = tips,
        .ref = same_target ? target * 100 : NAN,
        .ref_label = ref_label,
        .fmt = MW_TICK_PERCENT,
    };
    mw_step_chart_svg(&c, s);
    free(value);
    free(tip_text);
    free(tips);
    return MW_OK;
}

/* ---- task accuracy --------------------------------------------------------- */

/* Chance of a language: the first run that states it, else the default. */
static double lang_chance(const mw_report *r, const char *task, const char *lang, bool *given) {
    for (size_t i = 0; i < r->n_runs; i++) {
        const mw_rpt_task *t = mw_rpt_run_task(&r->runs[i], task);
        const mw_rpt_acc *a = t ? mw_rpt_task_acc(t, lang) : NULL;
        if (a && !isnan(a->chance)) {
            *given = true;
            return a->chance;
        }
    }
    return MW_RPT_DEFAULT_CHANCE;
}

static void fill_task_group(const mw_report *r, const char *task, const mw_rpt_langs *l,
                            const size_t *series_run, size_t n_series, size_t g, bool summary,
                            enum mw_rpt_set set, bar_data *d) {
    for (size_t k = 0; k < n_series; k++) {
        const mw_rpt_run *run = &r->runs[series_run[k]];
        const mw_rpt_task *t = mw_rpt_run_task(run, task);
        size_t i = g * n_series + k, n;
        double acc, lo = NAN, hi = NAN;
        int64_t items = -1;
        if (summary) {
            acc = mw_rpt_acc_mean(t, l, set, 0, &n);
            if (!n) continue;
        } else {
            const mw_rpt_acc *a = mw_rpt_task_acc(t, d->groups[g]);
            if (!a) continue;
            acc = a->acc, lo = a->lo, hi = a->hi, items = a->n;
        }
        d->value[i] = acc * 100;
        d->lo[i] = lo * 100;
        d->hi[i] = hi * 100;
        char v[32], ci[80] = "", nn[32] = "";
        mw_fmt_num(v, sizeof v, acc * 100, 1);
        if (!isnan(lo)) {
            char a[32], b[32];
            mw_fmt_num(a, sizeof a, lo * 100, 1);
            mw_fmt_num(b, sizeof b, hi * 100, 1);
            snprintf(ci, sizeof ci, ", 95%% CI %s-%s%%", a, b);
        }
        if (items >= 0) snprintf(nn, sizeof nn, ", %lld items", (long long)items);
        snprintf(tip_at(d, i), TIP_LEN, "%s%s%s, %s: accuracy %s%%%s%s", d->groups[g],
                 summary ? " " : "", summary ? d->notes[g] : "", run->name, v, ci, nn);
    }
}

enum mw_status mw_rpt_chart_task(const mw_report *r, const char *task, const mw_rpt_langs *l,
                                 mw_svg *s, const char **why, mw_err *err) {
    *why = NULL;
    size_t series_run[MW_REPORT_MAX_RUNS], n_series = 0;
    for (size_t i = 0; i < r->n_runs; i++)
        if (mw_rpt_run_task(&r->runs[i], task)) series_run[n_series++] = i;
    if (n_series == 0 || l->n == 0) {
        *why = "No chart of task accuracy: no run has results for this task.";
        return MW_OK;
    }
    enum mw_rpt_set sets[2];
    size_t n_sum = summary_sets(l, sets), n_groups = l->n + n_sum;
    bar_data d;
    enum mw_status st = bar_data_alloc(&d, n_groups, n_series, err);
    if (st) return st;
    bool given = false, all_default = true;
    for (size_t g = 0; g < n_groups; g++) {
        bool summary = g >= l->n;
        if (!summary) {
            d.groups[g] = l->code[g];
            d.shaded[g] = l->unseen[g];
            bool here = false;
            d.ref[g] = lang_chance(r, task, l->code[g], &here) * 100;
            given |= here;
            all_default &= d.ref[g] == MW_RPT_DEFAULT_CHANCE * 100;
        } else {
            d.groups[g] = "mean";
            d.notes[g] = set_note(sets[g - l->n]);
            double sum = 0;
            size_t n = 0;
            for (size_t i = 0; i < l->n; i++)
                if (l->common[i] && mw_rpt_in_set(l, i, sets[g - l->n])) {
                    sum += d.ref[i];
                    n++;
                }
            d.ref[g] = n ? sum / (double)n : NAN;
        }
        fill_task_group(r, task, l, series_run, n_series, g, summary,
                        summary ? sets[g - l->n] : MW_SET_ALL, &d);
    }
    for (size_t k = 0; k < n_series; k++) {
        d.series[k] = r->runs[series_run[k]].name;
        d.colors[k] = mw_rpt_run_color(r, series_run[k]);
    }
    char title[128];
    snprintf(title, sizeof title, "Task accuracy per language%s%s", task[0] ? ": " : "", task);
    const char *ref_label = !all_default ? "chance"
                            : given      ? "chance (1 in 4)"
                                         : "chance (1 in 4 assumed)";
    mw_bar_chart c = {
        .title = title,
        .subtitle = "Share of items answered right; whiskers: 95% confidence interval.",
        .x_label = n_sum ? "language (means over the languages all runs have)" : "language",
        .y_label = "accuracy",
        .n_groups = n_groups,
        .n_series = n_series,
        .groups = d.groups,
        .group_notes = d.notes,
        .shaded = d.shaded,
        .shade_label = "held-out language (not calibrated on)",
        .n_summary = n_sum,
        .series = d.series,
        .colors = d.colors,
        .value = d.value,
        .lo = d.lo,
        .hi = d.hi,
        .ref = d.ref,
        .ref_label = ref_label,
        .tips = d.tips,
        .base = 0,
        .y_min = 0,
        .y_max = 100,
        .fmt = MW_TICK_PERCENT,
    };
    mw_bar_chart_svg(&c, s);
    bar_data_free(&d);
    return MW_OK;
}
