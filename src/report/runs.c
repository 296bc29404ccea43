#include "report/runs.h"

#include "core/err.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

enum { DOC_PRUNE, DOC_EVAL, DOC_TASKS, DOC_RUN };
static const char *const DOC_FILES[] = {"prune.json", "eval.json", "tasks.json", "run.json"};

/* The reports these runs come from are small; anything larger is not one. */
#define MAX_JSON_BYTES (64u << 20)
#define MAX_KEY        63 /* bytes of a language code or task name */

/* The file being read, for messages. */
typedef struct jfile {
    const char *path;
    mw_err *err;
} jfile;

static enum mw_status bad(const jfile *f, const char *field, const char *what) {
    return mw_fail(f->err, MW_ERR_FORMAT, "%s: %s: %s", f->path, field, what);
}

/* A number in [lo, hi] (integers count); absent or null is NAN unless
 * required. */
static enum mw_status get_num(const jfile *f, const json_t *o, const char *key, const char *field,
                              bool required, double lo, double hi, double *out) {
    const json_t *v = json_object_get(o, key);
    *out = NAN;
    if (!v || json_is_null(v)) return required ? bad(f, field, "missing") : MW_OK;
    if (!json_is_number(v)) return bad(f, field, "not a number");
    double x = json_number_value(v);
    if (!isfinite(x) || x < lo || x > hi) {
        char what[96];
        snprintf(what, sizeof what, "%.6g is outside [%.6g, %.6g]", x, lo, hi);
        return bad(f, field, what);
    }
    *out = x;
    return MW_OK;
}

/* A non-negative integer; absent or null is -1 unless required. */
static enum mw_status get_count(const jfile *f, const json_t *o, const char *key, const char *field,
                                bool required, int64_t *out) {
    const json_t *v = json_object_get(o, key);
    *out = -1;
    if (!v || json_is_null(v)) return required ? bad(f, field, "missing") : MW_OK;
    if (!json_is_integer(v) || json_integer_value(v) < 0)
        return bad(f, field, "not a non-negative integer");
    *out = json_integer_value(v);
    return MW_OK;
}

/* A string; absent or null is NULL unless required. */
static enum mw_status get_str(const jfile *f, const json_t *o, const char *key, const char *field,
                              bool required, const char **out) {
    const json_t *v = json_object_get(o, key);
    *out = NULL;
    if (!v || json_is_null(v)) return required ? bad(f, field, "missing") : MW_OK;
    if (!json_is_string(v)) return bad(f, field, "not a string");
    *out = json_string_value(v);
    return MW_OK;
}

/* Language codes and task names end up in file names, tables and charts:
 * short, printable, no path separators. */
static bool valid_key(const char *k) {
    size_t n = strlen(k);
    if (n == 0 || n > MAX_KEY) return false;
    for (const unsigned char *p = (const unsigned char *)k; *p; p++)
        if (*p < 0x20 || *p == 0x7f || *p == '/' || *p == '\\') return false;
    return true;
}

static enum mw_status check_key(const jfile *f, const char *field, const char *key) {
    if (valid_key(key)) return MW_OK;
    return bad(f, field, "not a language code or task name (1 to 63 printable bytes, no slashes)");
}

/* An array of language codes into a new array of pointers. */
static enum mw_status get_langs(const jfile *f, const json_t *a, const char *field,
                                const char ***out, size_t *n) {
    char sub[160];
    *out = NULL;
    *n = 0;
    if (!a || json_is_null(a)) return MW_OK;
    if (!json_is_array(a)) return bad(f, field, "not an array of language codes");
    size_t k = json_array_size(a);
    if (k == 0) return MW_OK;
    if (!(*out = calloc(k, sizeof **out))) return mw_fail(f->err, MW_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < k; i++) {
        const json_t *v = json_array_get(a, i);
        snprintf(sub, sizeof sub, "%s[%zu]", field, i);
        if (!json_is_string(v)) return bad(f, sub, "not a string");
        enum mw_status s = check_key(f, sub, json_string_value(v));
        if (s) return s;
        (*out)[(*n)++] = json_string_value(v);
    }
    return MW_OK;
}

static int cmp_block(const void *a, const void *b) {
    int64_t x = ((const mw_rpt_block *)a)->index, y = ((const mw_rpt_block *)b)->index;
    return (x > y) - (x < y);
}

static enum mw_status read_blocks(const jfile *f, const json_t *a, mw_rpt_run *run) {
    if (!a || json_is_null(a)) return MW_OK;
    if (!json_is_array(a)) return bad(f, "blocks", "not an array");
    size_t n = json_array_size(a);
    if (n == 0) return MW_OK;
    if (!(run->blocks = calloc(n, sizeof *run->blocks)))
        return mw_fail(f->err, MW_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        const json_t *b = json_array_get(a, i);
        mw_rpt_block *out = &run->blocks[i];
        char field[96];
        snprintf(field, sizeof field, "blocks[%zu]", i);
        if (!json_is_object(b)) return bad(f, field, "not an object");
        enum mw_status s;
        snprintf(field, sizeof field, "blocks[%zu].index", i);
        if ((s = get_count(f, b, "index", field, true, &out->index))) return s;
        if (out->index >= MW_REPORT_MAX_BLOCKS)
            return bad(f, field, "larger than the charts allow");
        snprintf(field, sizeof field, "blocks[%zu].target", i);
        if ((s = get_num(f, b, "target", field, true, 0, 1, &out->target))) return s;
        snprintf(field, sizeof field, "blocks[%zu].achieved", i);
        if ((s = get_num(f, b, "achieved", field, false, 0, 1, &out->achieved))) return s;
        snprintf(field, sizeof field, "blocks[%zu].score", i);
        if ((s = get_num(f, b, "score", field, false, -HUGE_VAL, HUGE_VAL, &out->score))) return s;
        run->n_blocks++;
    }
    qsort(run->blocks, n, sizeof *run->blocks, cmp_block);
    for (size_t i = 1; i < n; i++)
        if (run->blocks[i].index == run->blocks[i - 1].index) {
            char field[64];
            snprintf(field, sizeof field, "blocks (index %lld)", (long long)run->blocks[i].index);
            return bad(f, field, "appears twice");
        }
    return MW_OK;
}

/* "achieved" when the file gives it, else the share of zeros over "tensors". */
static enum mw_status read_achieved(const jfile *f, const json_t *doc, mw_rpt_run *run) {
    enum mw_status s = get_num(f, doc, "achieved", "achieved", false, 0, 1, &run->achieved);
    const json_t *t = json_object_get(doc, "tensors");
    if (s || !t || json_is_null(t)) return s;
    if (!json_is_object(t)) return bad(f, "tensors", "not an object");
    double zeros = 0, total = 0;
    const char *name;
    const json_t *v;
    json_object_foreach((json_t *)t, name, v) {
        char field[160];
        int64_t z, n;
        snprintf(field, sizeof field, "tensors.%.64s", name);
        if (!json_is_object(v)) return bad(f, field, "not an object");
        snprintf(field, sizeof field, "tensors.%.64s.zeros", name);
        if ((s = get_count(f, v, "zeros", field, true, &z))) return s;
        snprintf(field, sizeof field, "tensors.%.64s.total", name);
        if ((s = get_count(f, v, "total", field, true, &n))) return s;
        if (z > n) return bad(f, field, "smaller than zeros");
        zeros += (double)z;
        total += (double)n;
    }
    if (isnan(run->achieved) && total > 0) run->achieved = zeros / total;
    return MW_OK;
}

static enum mw_status read_prune(const jfile *f, const json_t *doc, mw_rpt_run *run) {
    enum mw_status s;
    if ((s = get_str(f, doc, "method", "method", true, &run->method))) return s;
    if (!valid_key(run->method)) return bad(f, "method", "not a method name");
    run->pruned = strcmp(run->method, "dense") != 0;
    if ((s = get_num(f, doc, "target", "target", run->pruned, 0, 1, &run->target))) return s;
    if ((s = read_achieved(f, doc, run))) return s;
    if ((s = get_str(f, doc, "pattern", "pattern", false, &run->pattern))) return s;
    if ((s = get_str(f, doc, "model", "model", false, &run->model))) return s;
    const json_t *c = json_object_get(doc, "calibration");
    if (c && !json_is_null(c)) {
        if (!json_is_object(c)) return bad(f, "calibration", "not an object");
        if ((s = get_langs(f, json_object_get(c, "languages"), "calibration.languages",
                           &run->calib_langs, &run->n_calib)))
            return s;
        if ((s = get_count(f, c, "samples", "calibration.samples", false, &run->samples))) return s;
        if ((s = get_count(f, c, "ctx", "calibration.ctx", false, &run->ctx))) return s;
        if ((s = get_count(f, c, "seed", "calibration.seed", false, &run->seed))) return s;
    }
    return read_blocks(f, json_object_get(doc, "blocks"), run);
}

static enum mw_status read_eval(const jfile *f, const json_t *doc, mw_rpt_run *run) {
    enum mw_status s;
    if ((s = get_str(f, doc, "model", "model", false, &run->eval_model))) return s;
    if ((s = get_str(f, doc, "windows", "windows", false, &run->windows))) return s;
    if ((s = get_count(f, doc, "ctx", "ctx", false, &run->eval_ctx))) return s;
    const json_t *langs = json_object_get(doc, "languages");
    if (!langs) return bad(f, "languages", "missing");
    if (!json_is_object(langs)) return bad(f, "languages", "not an object");
    size_t n = json_object_size(langs);
    if (n == 0) return bad(f, "languages", "empty");
    if (!(run->ppl = calloc(n, sizeof *run->ppl)))
        return mw_fail(f->err, MW_ERR_NOMEM, "out of memory");
    const char *lang;
    const json_t *v;
    json_object_foreach((json_t *)langs, lang, v) {
        mw_rpt_ppl *p = &run->ppl[run->n_ppl];
        char field[160];
        snprintf(field, sizeof field, "languages.%.64s", lang);
        if ((s = check_key(f, field, lang))) return s;
        if (!json_is_object(v)) return bad(f, field, "not an object");
        p->lang = lang;
        snprintf(field, sizeof field, "languages.%s.ppl", lang);
        if ((s = get_num(f, v, "ppl", field, true, 1, HUGE_VAL, &p->ppl))) return s;
        snprintf(field, sizeof field, "languages.%s.bpb", lang);
        if ((s = get_num(f, v, "bpb", field, false, 0, HUGE_VAL, &p->bpb))) return s;
        snprintf(field, sizeof field, "languages.%s.nll", lang);
        if ((s = get_num(f, v, "nll", field, false, 0, HUGE_VAL, &p->nll))) return s;
        snprintf(field, sizeof field, "languages.%s.tokens", lang);
        if ((s = get_count(f, v, "tokens", field, false, &p->tokens))) return s;
        snprintf(field, sizeof field, "languages.%s.bytes", lang);
        if ((s = get_count(f, v, "bytes", field, false, &p->bytes))) return s;
        run->n_ppl++;
    }
    return MW_OK;
}

static enum mw_status read_acc(const jfile *f, const char *prefix, const char *lang,
                               const json_t *v, mw_rpt_acc *a) {
    char field[200];
    enum mw_status s;
    snprintf(field, sizeof field, "%s%s", prefix, lang);
    if ((s = check_key(f, field, lang))) return s;
    if (!json_is_object(v)) return bad(f, field, "not an object");
    a->lang = lang;
    snprintf(field, sizeof field, "%s%s.acc", prefix, lang);
    if ((s = get_num(f, v, "acc", field, true, 0, 1, &a->acc))) return s;
    snprintf(field, sizeof field, "%s%s.acc_norm", prefix, lang);
    if ((s = get_num(f, v, "acc_norm", field, false, 0, 1, &a->acc_norm))) return s;
    snprintf(field, sizeof field, "%s%s.n", prefix, lang);
    if ((s = get_count(f, v, "n", field, false, &a->n))) return s;
    snprintf(field, sizeof field, "%s%s.chance", prefix, lang);
    if ((s = get_num(f, v, "chance", field, false, 0, 1, &a->chance))) return s;
    int64_t choices;
    snprintf(field, sizeof field, "%s%s.choices", prefix, lang);
    if ((s = get_count(f, v, "choices", field, false, &choices))) return s;
    if (choices == 0 || choices == 1) return bad(f, field, "fewer than 2 choices");
    if (isnan(a->chance) && choices > 1) a->chance = 1.0 / (double)choices;
    a->lo = a->hi = NAN;
    const json_t *ci = json_object_get(v, "ci95");
    snprintf(field, sizeof field, "%s%s.ci95", prefix, lang);
    if (!ci || json_is_null(ci)) return MW_OK;
    const json_t *lo = json_array_get(ci, 0), *hi = json_array_get(ci, 1);
    if (!json_is_array(ci) || json_array_size(ci) != 2 || !json_is_number(lo) ||
        !json_is_number(hi))
        return bad(f, field, "not [lo, hi]");
    a->lo = json_number_value(lo);
    a->hi = json_number_value(hi);
    if (!(a->lo >= 0 && a->lo <= a->hi && a->hi <= 1))
        return bad(f, field, "not an interval inside [0, 1]");
    return MW_OK;
}

/* One task's languages: an object of per-language objects. */
static enum mw_status read_task(const jfile *f, const char *prefix, const json_t *o,
                                mw_rpt_task *t) {
    size_t n = json_object_size(o);
    if (n == 0) return bad(f, prefix, "empty");
    if (!(t->langs = calloc(n, sizeof *t->langs)))
        return mw_fail(f->err, MW_ERR_NOMEM, "out of memory");
    char sub[160];
    snprintf(sub, sizeof sub, "%s.", prefix);
    const char *lang;
    const json_t *v;
    json_object_foreach((json_t *)o, lang, v) {
        enum mw_status s = read_acc(f, sub, lang, v, &t->langs[t->n_langs]);
        if (s) return s;
        t->n_langs++;
    }
    return MW_OK;
}

/* {"tasks": {"<lang>": {...}}} is one unnamed task; {"tasks": {"<task>":
 * {"<lang>": {...}}}} names them. The first entry tells which. */
static enum mw_status read_tasks(const jfile *f, const json_t *doc, mw_rpt_run *run) {
    const json_t *tasks = json_object_get(doc, "tasks");
    if (!tasks) return bad(f, "tasks", "missing");
    if (!json_is_object(tasks)) return bad(f, "tasks", "not an object");
    size_t n = json_object_size(tasks);
    if (n == 0) return bad(f, "tasks", "empty");
    void *it = json_object_iter((json_t *)tasks);
    const json_t *first = json_object_iter_value(it);
    bool grouped = json_is_object(first) && !json_object_get(first, "acc");
    if (!(run->tasks = calloc(grouped ? n : 1, sizeof *run->tasks)))
        return mw_fail(f->err, MW_ERR_NOMEM, "out of memory");
    if (!grouped) {
        run->n_tasks = 1;
        run->tasks[0].name = "";
        return read_task(f, "tasks", tasks, &run->tasks[0]);
    }
    const char *name;
    const json_t *v;
    json_object_foreach((json_t *)tasks, name, v) {
        char field[160];
        snprintf(field, sizeof field, "tasks.%.64s", name);
        enum mw_status s = check_key(f, field, name);
        if (s) return s;
        if (!json_is_object(v)) return bad(f, field, "not an object");
        /* counted before reading, so that mw_report_free frees a half-read one */
        mw_rpt_task *t = &run->tasks[run->n_tasks++];
        t->name = name;
        if ((s = read_task(f, field, v, t))) return s;
    }
    return MW_OK;
}

static enum mw_status read_meta(const jfile *f, const json_t *doc, mw_rpt_run *run) {
    const char *name;
    enum mw_status s = get_str(f, doc, "name", "name", false, &name);
    if (s) return s;
    if (name) {
        if (!*name || strlen(name) > 200) return bad(f, "name", "not 1 to 200 bytes");
        free(run->name);
        if (!(run->name = strdup(name))) return mw_fail(f->err, MW_ERR_NOMEM, "out of memory");
    }
    return get_langs(f, json_object_get(doc, "unseen"), "unseen", &run->unseen, &run->n_unseen);
}

/* Parses path into *doc; absent files leave *doc NULL. */
static enum mw_status load_json(const char *path, json_t **doc, mw_err *err) {
    struct stat st;
    *doc = NULL;
    if (stat(path, &st) != 0) {
        if (errno == ENOENT) return MW_OK;
        return mw_fail(err, MW_ERR_IO, "%s: %s", path, strerror(errno));
    }
    if (!S_ISREG(st.st_mode)) return mw_fail(err, MW_ERR_IO, "%s: not a regular file", path);
    if (st.st_size > (off_t)MAX_JSON_BYTES)
        return mw_fail(err, MW_ERR_FORMAT, "%s: larger than %u MiB", path, MAX_JSON_BYTES >> 20);
    json_error_t je;
    *doc = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
    if (!*doc)
        return mw_fail(err, MW_ERR_FORMAT, "%s: line %d column %d: %s", path, je.line, je.column,
                       je.text);
    if (!json_is_object(*doc)) return mw_fail(err, MW_ERR_FORMAT, "%s: not a JSON object", path);
    return MW_OK;
}

/* The folder's last path component, for a run without a name. */
static char *dir_name(const char *dir) {
    size_t end = strlen(dir);
    while (end > 1 && dir[end - 1] == '/')
        end--;
    size_t start = end;
    while (start > 0 && dir[start - 1] != '/')
        start--;
    if (end - start == 0 || (end - start == 1 && dir[start] == '.')) return strdup("run");
    return strndup(dir + start, end - start);
}

static enum mw_status load_run(const char *dir, mw_rpt_run *run, mw_err *err) {
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
        return mw_fail(err, MW_ERR_NOT_FOUND, "%s: not a folder", dir);
    run->dir = strdup(dir);
    run->name = dir_name(dir);
    if (!run->dir || !run->name) return mw_fail(err, MW_ERR_NOMEM, "out of memory");
    run->target = run->achieved = NAN;
    run->samples = run->ctx = run->seed = run->eval_ctx = -1;
    static enum mw_status (*const READ[])(const jfile *, const json_t *, mw_rpt_run *) = {
        read_prune, read_eval, read_tasks, read_meta};
    for (int d = 0; d < 4; d++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, DOC_FILES[d]);
        enum mw_status s = load_json(path, &run->docs[d], err);
        if (s) return s;
        if (!run->docs[d]) continue;
        jfile f = {path, err};
        if ((s = READ[d](&f, run->docs[d], run))) return s;
    }
    run->has_prune = run->docs[DOC_PRUNE] != NULL;
    run->has_eval = run->docs[DOC_EVAL] != NULL;
    run->has_tasks = run->docs[DOC_TASKS] != NULL;
    if (!run->has_prune && !run->has_eval && !run->has_tasks)
        return mw_fail(err, MW_ERR_NOT_FOUND, "%s: holds none of prune.json, eval.json, tasks.json",
                       dir);
    return MW_OK;
}

enum mw_status mw_report_load(const char *const *dirs, size_t n, mw_report *r, mw_err *err) {
    *r = (mw_report){.dense = -1};
    if (n == 0) return mw_fail(err, MW_ERR_ARG, "no run folders given");
    if (n > MW_REPORT_MAX_RUNS)
        return mw_fail(err, MW_ERR_ARG, "%zu runs: at most %d fit in one report", n,
                       MW_REPORT_MAX_RUNS);
    if (!(r->runs = calloc(n, sizeof *r->runs))) return mw_fail(err, MW_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        r->n_runs++;
        enum mw_status s = load_run(dirs[i], &r->runs[i], err);
        if (s) {
            mw_report_free(r);
            return s;
        }
        if (r->dense < 0 && !r->runs[i].pruned) r->dense = (int)i;
    }
    return MW_OK;
}

void mw_report_free(mw_report *r) {
    for (size_t i = 0; r->runs && i < r->n_runs; i++) {
        mw_rpt_run *run = &r->runs[i];
        for (size_t t = 0; t < run->n_tasks; t++)
            free(run->tasks[t].langs);
        free(run->tasks);
        free(run->ppl);
        free(run->blocks);
        free(run->calib_langs);
        free(run->unseen);
        for (int d = 0; d < 4; d++)
            json_decref(run->docs[d]);
        free(run->dir);
        free(run->name);
    }
    free(r->runs);
    *r = (mw_report){.dense = -1};
}

const mw_rpt_ppl *mw_rpt_run_ppl(const mw_rpt_run *run, const char *lang) {
    for (size_t i = 0; i < run->n_ppl; i++)
        if (strcmp(run->ppl[i].lang, lang) == 0) return &run->ppl[i];
    return NULL;
}

const mw_rpt_task *mw_rpt_run_task(const mw_rpt_run *run, const char *task) {
    for (size_t i = 0; i < run->n_tasks; i++)
        if (strcmp(run->tasks[i].name, task) == 0) return &run->tasks[i];
    return NULL;
}

const mw_rpt_acc *mw_rpt_task_acc(const mw_rpt_task *task, const char *lang) {
    for (size_t i = 0; i < task->n_langs; i++)
        if (strcmp(task->langs[i].lang, lang) == 0) return &task->langs[i];
    return NULL;
}

static bool listed(const char *const *list, size_t n, const char *lang) {
    for (size_t i = 0; i < n; i++)
        if (strcmp(list[i], lang) == 0) return true;
    return false;
}

bool mw_report_is_unseen(const mw_report *r, const char *lang) {
    for (size_t i = 0; i < r->n_runs; i++)
        if (listed(r->runs[i].unseen, r->runs[i].n_unseen, lang)) return true;
    bool calib_known = false;
    for (size_t i = 0; i < r->n_runs; i++) {
        if (listed(r->runs[i].calib_langs, r->runs[i].n_calib, lang)) return false;
        calib_known |= r->runs[i].n_calib > 0;
    }
    return calib_known;
}
