#include "report/summary.h"

#include "core/err.h"
#include "report/chart.h"
#include "report/text.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void mw_rpt_langs_free(mw_rpt_langs *l) {
    free(l->code);
    free(l->unseen);
    free(l->common);
    *l = (mw_rpt_langs){0};
}

/* Adds code unless present; the arrays were sized for every candidate. */
static void add_lang(mw_rpt_langs *l, const char *code) {
    for (size_t i = 0; i < l->n; i++)
        if (strcmp(l->code[i], code) == 0) return;
    l->code[l->n++] = code;
}

/* A language with its set, for sorting. */
typedef struct lang_key {
    const char *code;
    bool unseen;
} lang_key;

static int cmp_lang(const void *a, const void *b) {
    const lang_key *x = a, *y = b;
    if (x->unseen != y->unseen) return x->unseen ? 1 : -1;
    return strcmp(x->code, y->code);
}

static enum mw_status alloc_langs(mw_rpt_langs *l, size_t cap, mw_err *err) {
    *l = (mw_rpt_langs){0};
    if (cap == 0) cap = 1;
    l->code = calloc(cap, sizeof *l->code);
    l->unseen = calloc(cap, sizeof *l->unseen);
    l->common = calloc(cap, sizeof *l->common);
    if (l->code && l->unseen && l->common) return MW_OK;
    mw_rpt_langs_free(l);
    return mw_fail(err, MW_ERR_NOMEM, "out of memory");
}

/* Marks held-out languages, sorts and counts. */
static enum mw_status finish_langs(const mw_report *r, mw_rpt_langs *l, mw_err *err) {
    lang_key *keys = calloc(l->n ? l->n : 1, sizeof *keys);
    if (!keys) {
        mw_rpt_langs_free(l);
        return mw_fail(err, MW_ERR_NOMEM, "out of memory");
    }
    for (size_t i = 0; i < l->n; i++)
        keys[i] = (lang_key){l->code[i], mw_report_is_unseen(r, l->code[i])};
    qsort(keys, l->n, sizeof *keys, cmp_lang);
    for (size_t i = 0; i < l->n; i++) {
        l->code[i] = keys[i].code;
        l->unseen[i] = keys[i].unseen;
        l->n_unseen += l->unseen[i];
    }
    free(keys);
    return MW_OK;
}

enum mw_status mw_rpt_ppl_langs(const mw_report *r, mw_rpt_langs *out, mw_err *err) {
    size_t cap = 0;
    for (size_t i = 0; i < r->n_runs; i++)
        cap += r->runs[i].n_ppl;
    enum mw_status s = alloc_langs(out, cap, err);
    if (s) return s;
    for (size_t i = 0; i < r->n_runs; i++)
        for (size_t k = 0; k < r->runs[i].n_ppl; k++)
            add_lang(out, r->runs[i].ppl[k].lang);
    if ((s = finish_langs(r, out, err))) return s;
    for (size_t j = 0; j < out->n; j++) {
        out->common[j] = true;
        for (size_t i = 0; i < r->n_runs; i++)
            if (r->runs[i].has_eval && !mw_rpt_run_ppl(&r->runs[i], out->code[j]))
                out->common[j] = false;
        out->n_common += out->common[j];
    }
    return MW_OK;
}

enum mw_status mw_rpt_task_langs(const mw_report *r, const char *task, mw_rpt_langs *out,
                                 mw_err *err) {
    size_t cap = 0;
    for (size_t i = 0; i < r->n_runs; i++) {
        const mw_rpt_task *t = mw_rpt_run_task(&r->runs[i], task);
        if (t) cap += t->n_langs;
    }
    enum mw_status s = alloc_langs(out, cap, err);
    if (s) return s;
    for (size_t i = 0; i < r->n_runs; i++) {
        const mw_rpt_task *t = mw_rpt_run_task(&r->runs[i], task);
        for (size_t k = 0; t && k < t->n_langs; k++)
            add_lang(out, t->langs[k].lang);
    }
    if ((s = finish_langs(r, out, err))) return s;
    for (size_t j = 0; j < out->n; j++) {
        out->common[j] = true;
        for (size_t i = 0; i < r->n_runs; i++) {
            const mw_rpt_task *t = mw_rpt_run_task(&r->runs[i], task);
            if (t && !mw_rpt_task_acc(t, out->code[j])) out->common[j] = false;
        }
        out->n_common += out->common[j];
    }
    return MW_OK;
}

size_t mw_rpt_task_names(const mw_report *r, const char **names, size_t cap) {
    size_t n = 0;
    for (size_t i = 0; i < r->n_runs; i++)
        for (size_t t = 0; t < r->runs[i].n_tasks; t++) {
            const char *name = r->runs[i].tasks[t].name;
            bool seen = false;
            for (size_t k = 0; k < n && k < cap; k++)
                seen |= strcmp(names[k], name) == 0;
            if (seen) continue;
            if (n < cap) names[n] = name;
            n++;
        }
    return n;
}

const char *mw_rpt_set_name(enum mw_rpt_set set) {
    return set == MW_SET_CALIB ? "calibration" : set == MW_SET_UNSEEN ? "held out" : "all";
}

bool mw_rpt_in_set(const mw_rpt_langs *l, size_t i, enum mw_rpt_set set) {
    return set == MW_SET_ALL || l->unseen[i] == (set == MW_SET_UNSEEN);
}

double mw_rpt_ppl_mean(const mw_rpt_run *run, const mw_rpt_langs *l, enum mw_rpt_set set,
                       size_t *n) {
    double sum = 0;
    *n = 0;
    for (size_t i = 0; i < l->n; i++) {
        const mw_rpt_ppl *p = mw_rpt_run_ppl(run, l->code[i]);
        if (!l->common[i] || !mw_rpt_in_set(l, i, set) || !p) continue;
        sum += log(p->ppl);
        (*n)++;
    }
    return *n ? exp(sum / (double)*n) : NAN;
}

double mw_rpt_bpb_mean(const mw_rpt_run *run, const mw_rpt_langs *l, enum mw_rpt_set set,
                       size_t *n) {
    double sum = 0;
    *n = 0;
    for (size_t i = 0; i < l->n; i++) {
        const mw_rpt_ppl *p = mw_rpt_run_ppl(run, l->code[i]);
        if (!l->common[i] || !mw_rpt_in_set(l, i, set) || !p) continue;
        if (isnan(p->bpb)) return *n = 0, NAN; /* a mean over some would mislead */
        sum += p->bpb;
        (*n)++;
    }
    return *n ? sum / (double)*n : NAN;
}

double mw_rpt_acc_mean(const mw_rpt_task *t, const mw_rpt_langs *l, enum mw_rpt_set set, int field,
                       size_t *n) {
    double sum = 0;
    *n = 0;
    for (size_t i = 0; t && i < l->n; i++) {
        const mw_rpt_acc *a = mw_rpt_task_acc(t, l->code[i]);
        if (!l->common[i] || !mw_rpt_in_set(l, i, set) || !a) continue;
        double v = field == 0 ? a->acc : field == 1 ? a->acc_norm : a->chance;
        if (isnan(v)) return *n = 0, NAN;
        sum += v;
        (*n)++;
    }
    return *n ? sum / (double)*n : NAN;
}

const char *mw_rpt_run_color(const mw_report *r, size_t run) {
    if ((int)run == r->dense) return MW_CHART_DENSE;
    size_t k = 0;
    for (size_t i = 0; i < run; i++)
        k += (int)i != r->dense;
    return mw_chart_color(k);
}

void mw_rpt_run_setting(const mw_rpt_run *run, char *buf, size_t size) {
    if (!run->pruned) {
        snprintf(buf, size, "dense");
        return;
    }
    char pct[40];
    mw_fmt_num(pct, sizeof pct, run->target * 100, 0);
    if (fabs(run->target * 100 - round(run->target * 100)) > 1e-6)
        mw_fmt_num(pct, sizeof pct, run->target * 100, 1);
    snprintf(buf, size, "%s, %s%% %s", run->method, pct, run->pattern ? run->pattern : "");
    size_t n = strlen(buf);
    if (n && buf[n - 1] == ' ') buf[n - 1] = '\0';
}
