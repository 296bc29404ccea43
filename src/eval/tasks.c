/* Reading multiple-choice items from JSONL, and their accuracy. */
#include "eval/tasks.h"

#include "core/err.h"
#include "core/mapfile.h"
#include "core/utf8.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void mw_task_item_free(mw_task_item *it) {
    free(it->id);
    free(it->context);
    for (int32_t i = 0; it->choices && i < it->n_choices; i++)
        free(it->choices[i]);
    free(it->choices);
    free(it->choice_len);
    memset(it, 0, sizeof *it);
}

void mw_task_set_free(mw_task_set *set) {
    for (int64_t i = 0; i < set->n; i++)
        mw_task_item_free(&set->items[i]);
    free(set->items);
    memset(set, 0, sizeof *set);
}

/* Names end up as JSON keys and Markdown cells: keep them plain. */
static bool good_name(const char *s, size_t n) {
    if (n == 0 || n >= MW_TASK_NAME_MAX) return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '_' || c == '-' || c == '.';
        if (!ok) return false;
    }
    return true;
}

static char *dup_bytes(const char *s, size_t n) {
    char *p = malloc(n + 1);
    if (p) {
        memcpy(p, s, n);
        p[n] = 0;
    }
    return p;
}

/* Where a line is wrong: "FILE:LINE: message". */
#define BAD(...) mw_fail(err, MW_ERR_FORMAT, __VA_ARGS__)

static enum mw_status get_name(json_t *obj, const char *key, bool required, char *dst,
                               const char *where, int64_t line, mw_err *err) {
    json_t *v = json_object_get(obj, key);
    if (!v && !required) return MW_OK;
    if (!v) return BAD("%s:%lld: missing \"%s\"", where, (long long)line, key);
    if (!json_is_string(v) || !good_name(json_string_value(v), json_string_length(v)))
        return BAD("%s:%lld: \"%s\" must be a string of 1 to %d letters, digits, '_', '-' or '.'",
                   where, (long long)line, key, MW_TASK_NAME_MAX - 1);
    memcpy(dst, json_string_value(v), json_string_length(v) + 1);
    return MW_OK;
}

static enum mw_status get_choices(json_t *obj, mw_task_item *it, const char *where, mw_err *err) {
    long long line = (long long)it->line;
    json_t *a = json_object_get(obj, "choices");
    if (!a) return BAD("%s:%lld: missing \"choices\"", where, line);
    if (!json_is_array(a))
        return BAD("%s:%lld: \"choices\" must be a list of strings", where, line);
    size_t n = json_array_size(a);
    if (n < 2 || n > MW_TASK_CHOICES_MAX)
        return BAD("%s:%lld: \"choices\" must hold 2 to %d strings, not %zu", where, line,
                   MW_TASK_CHOICES_MAX, n);
    it->choices = calloc(n, sizeof *it->choices);
    it->choice_len = calloc(n, sizeof *it->choice_len);
    if (!it->choices || !it->choice_len) return mw_fail(err, MW_ERR_NOMEM, "out of memory");
    it->n_choices = (int32_t)n;
    for (size_t i = 0; i < n; i++) {
        json_t *c = json_array_get(a, i);
        if (!json_is_string(c)) return BAD("%s:%lld: choice %zu is not a string", where, line, i);
        if (json_string_length(c) == 0) return BAD("%s:%lld: choice %zu is empty", where, line, i);
        it->choice_len[i] = json_string_length(c);
        if (!(it->choices[i] = dup_bytes(json_string_value(c), it->choice_len[i])))
            return mw_fail(err, MW_ERR_NOMEM, "out of memory");
    }
    return MW_OK;
}

static enum mw_status get_id(json_t *obj, mw_task_item *it, const char *where, mw_err *err) {
    json_t *v = json_object_get(obj, "id");
    char buf[32];
    if (!v) return MW_OK;
    if (json_is_integer(v)) {
        snprintf(buf, sizeof buf, "%lld", (long long)json_integer_value(v));
        it->id = dup_bytes(buf, strlen(buf));
    } else if (json_is_string(v)) {
        it->id = dup_bytes(json_string_value(v), json_string_length(v));
    } else {
        return BAD("%s:%lld: \"id\" must be a string or an integer", where, (long long)it->line);
    }
    return it->id ? MW_OK : mw_fail(err, MW_ERR_NOMEM, "out of memory");
}

static enum mw_status parse_item(json_t *obj, mw_task_item *it, const char *where,
                                 const char *default_task, mw_err *err) {
    long long line = (long long)it->line;
    enum mw_status s;
    if (!json_is_object(obj)) return BAD("%s:%lld: not a JSON object", where, line);
    if ((s = get_name(obj, "lang", true, it->lang, where, it->line, err))) return s;
    if (default_task) snprintf(it->task, sizeof it->task, "%s", default_task);
    if ((s = get_name(obj, "task", false, it->task, where, it->line, err))) return s;
    json_t *ctx = json_object_get(obj, "context");
    if (!ctx) return BAD("%s:%lld: missing \"context\"", where, line);
    if (!json_is_string(ctx)) return BAD("%s:%lld: \"context\" must be a string", where, line);
    it->context_len = json_string_length(ctx);
    if (!(it->context = dup_bytes(json_string_value(ctx), it->context_len)))
        return mw_fail(err, MW_ERR_NOMEM, "out of memory");
    if ((s = get_choices(obj, it, where, err))) return s;
    json_t *label = json_object_get(obj, "label");
    if (!label) return BAD("%s:%lld: missing \"label\"", where, line);
    if (!json_is_integer(label)) return BAD("%s:%lld: \"label\" must be an integer", where, line);
    json_int_t l = json_integer_value(label);
    if (l < 0 || l >= it->n_choices)
        return BAD("%s:%lld: \"label\" %lld is not a choice (0 to %d)", where, line, (long long)l,
                   it->n_choices - 1);
    it->label = (int32_t)l;
    return get_id(obj, it, where, err);
}

static enum mw_status parse_line(const char *p, size_t n, int64_t line, const char *where,
                                 const char *default_task, mw_task_item *it, mw_err *err) {
    memset(it, 0, sizeof *it);
    it->file = where;
    it->line = line;
    if (!mw_utf8_valid(p, n)) return BAD("%s:%lld: not valid UTF-8", where, (long long)line);
    json_error_t je;
    json_t *obj = json_loadb(p, n, JSON_REJECT_DUPLICATES, &je);
    if (!obj)
        return BAD("%s:%lld: bad JSON at column %d: %s", where, (long long)line, je.column,
                   je.text);
    enum mw_status s = parse_item(obj, it, where, default_task, err);
    json_decref(obj);
    if (s) mw_task_item_free(it);
    return s;
}

static bool blank(const char *p, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (p[i] != ' ' && p[i] != '\t' && p[i] != '\r') return false;
    return true;
}

enum mw_status mw_tasks_parse(const char *data, size_t len, const char *name,
                              const char *default_task, mw_task_set *set, mw_err *err) {
    int64_t n0 = set->n, line = 0;
    enum mw_status s = MW_OK;
    if (default_task && !good_name(default_task, strlen(default_task)))
        return mw_fail(err, MW_ERR_ARG, "task name '%s' is not a plain name", default_task);
    for (size_t pos = 0; pos < len && !s;) {
        const char *p = data + pos, *nl = memchr(p, '\n', len - pos);
        size_t n = nl ? (size_t)(nl - p) : len - pos;
        pos += n + 1;
        line++;
        if (blank(p, n)) continue;
        if (set->n == set->cap) {
            int64_t cap = set->cap ? 2 * set->cap : 256;
            mw_task_item *q = realloc(set->items, (size_t)cap * sizeof *q);
            if (!q) {
                s = mw_fail(err, MW_ERR_NOMEM, "out of memory for %lld items", (long long)cap);
                break;
            }
            set->items = q;
            set->cap = cap;
        }
        if (!(s = parse_line(p, n, line, name, default_task, &set->items[set->n], err))) set->n++;
    }
    if (!s && set->n == n0) s = BAD("%s: no items (the file is empty)", name);
    if (s) {
        for (int64_t i = n0; i < set->n; i++)
            mw_task_item_free(&set->items[i]);
        set->n = n0;
        if (n0 == 0) { /* a set that held nothing holds nothing again */
            free(set->items);
            set->items = NULL;
            set->cap = 0;
        }
    }
    return s;
}

enum mw_status mw_tasks_read(const char *path, const char *default_task, mw_task_set *set,
                             mw_err *err) {
    mw_mapfile f;
    enum mw_status s = mw_mapfile_open(path, &f, err);
    if (s) return s;
    s = mw_tasks_parse(f.data ? f.data : "", f.size, path, default_task, set, err);
    mw_mapfile_close(&f);
    return s;
}

int32_t mw_argmax(const double *v, int32_t n) {
    int32_t best = 0;
    for (int32_t i = 1; i < n; i++)
        if (v[i] > v[best]) best = i;
    return best;
}

void mw_wilson95(int64_t k, int64_t n, double *lo, double *hi) {
    const double z = 1.959963984540054;
    if (n <= 0) {
        *lo = 0;
        *hi = 1;
        return;
    }
    double p = (double)k / (double)n, z2n = z * z / (double)n;
    double centre = (p + z2n / 2) / (1 + z2n);
    double half = z / (1 + z2n) * sqrt(p * (1 - p) / (double)n + z2n / (4 * (double)n));
    /* the bounds at k = 0 and k = n are 0 and 1 exactly, not after rounding */
    *lo = k == 0 ? 0.0 : fmax(0.0, centre - half);
    *hi = k == n ? 1.0 : fmin(1.0, centre + half);
}

static int cmp_group(const void *a, const void *b) {
    const mw_task_group *x = a, *y = b;
    int c = strcmp(x->task, y->task);
    return c ? c : strcmp(x->lang, y->lang);
}

static mw_task_group *find_group(mw_task_group *g, int64_t *n, const mw_task_item *it) {
    for (int64_t i = 0; i < *n; i++)
        if (strcmp(g[i].task, it->task) == 0 && strcmp(g[i].lang, it->lang) == 0) return &g[i];
    mw_task_group *x = &g[(*n)++];
    memset(x, 0, sizeof *x);
    memcpy(x->task, it->task, sizeof x->task);
    memcpy(x->lang, it->lang, sizeof x->lang);
    return x;
}

enum mw_status mw_tasks_summarize(const mw_task_set *set, const mw_task_seqs *s, const double *ll,
                                  int32_t *pred, int32_t *pred_norm, mw_task_group **groups,
                                  int64_t *n_groups, mw_err *err) {
    mw_task_group *g = malloc((size_t)(set->n > 0 ? set->n : 1) * sizeof *g);
    double *norm = malloc(MW_TASK_CHOICES_MAX * sizeof(double));
    if (!g || !norm) {
        free(g);
        free(norm);
        return mw_fail(err, MW_ERR_NOMEM, "out of memory");
    }
    int64_t n = 0;
    for (int64_t i = 0; i < set->n; i++) {
        const mw_task_item *it = &set->items[i];
        const double *v = ll + s->first[i];
        for (int32_t c = 0; c < it->n_choices; c++)
            norm[c] = v[c] / (double)it->choice_len[c];
        pred[i] = mw_argmax(v, it->n_choices);
        pred_norm[i] = mw_argmax(norm, it->n_choices);
        mw_task_group *x = find_group(g, &n, it);
        x->n++;
        x->correct += pred[i] == it->label;
        x->correct_norm += pred_norm[i] == it->label;
        x->chance += 1.0 / it->n_choices;
    }
    for (int64_t i = 0; i < n; i++) {
        mw_task_group *x = &g[i];
        x->acc = (double)x->correct / (double)x->n;
        x->acc_norm = (double)x->correct_norm / (double)x->n;
        x->chance /= (double)x->n;
        mw_wilson95(x->correct, x->n, &x->ci_lo, &x->ci_hi);
        mw_wilson95(x->correct_norm, x->n, &x->ci_norm_lo, &x->ci_norm_hi);
    }
    qsort(g, (size_t)n, sizeof *g, cmp_group);
    free(norm);
    *groups = g;
    *n_groups = n;
    return MW_OK;
}
