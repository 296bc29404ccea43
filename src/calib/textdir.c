#include "calib/textdir.h"

#include "core/err.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_CODE 60

static bool is_code(const char *s, size_t n) {
    if (n == 0 || n > MAX_CODE) return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '-' || c == '_' || c == '@';
        if (!ok) return false;
    }
    return true;
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

void mw_textdir_close(mw_textdir *td) {
    if (!td) return;
    for (int i = 0; i < td->n; i++)
        free(td->langs[i]);
    free(td->langs);
    free(td->dir);
    memset(td, 0, sizeof *td);
}

static enum mw_status push(mw_textdir *td, int *cap, const char *code, size_t n, mw_err *err) {
    if (td->n == *cap) {
        int c = *cap ? 2 * *cap : 16;
        char **p = realloc(td->langs, (size_t)c * sizeof *p);
        if (!p) return mw_fail(err, MW_ERR_NOMEM, "out of memory listing languages");
        td->langs = p;
        *cap = c;
    }
    td->langs[td->n] = strndup(code, n);
    if (!td->langs[td->n]) return mw_fail(err, MW_ERR_NOMEM, "out of memory listing languages");
    td->n++;
    return MW_OK;
}

static bool listed(const mw_textdir *td, const char *code, size_t n) {
    for (int i = 0; i < td->n; i++)
        if (strlen(td->langs[i]) == n && strncmp(td->langs[i], code, n) == 0) return true;
    return false;
}

/* Keeps the languages of `only`, each of which must be there. */
static enum mw_status select_langs(mw_textdir *td, const char *only, mw_err *err) {
    mw_textdir all = *td;
    td->langs = NULL;
    td->n = 0;
    int cap = 0;
    enum mw_status s = MW_OK;
    for (const char *p = only; !s;) {
        const char *end = strchr(p, ',');
        size_t k = end ? (size_t)(end - p) : strlen(p);
        if (k == 0)
            s = mw_fail(err, MW_ERR_ARG, "empty language code in the list '%s'", only);
        else if (!listed(&all, p, k))
            s = mw_fail(err, MW_ERR_NOT_FOUND, "no text of language '%.*s' (%.*s.txt) in %s",
                        (int)(k < 64 ? k : 64), p, (int)(k < 64 ? k : 64), p, all.dir);
        else if (!listed(td, p, k))
            s = push(td, &cap, p, k, err);
        if (!end) break;
        p = end + 1;
    }
    all.dir = NULL;
    mw_textdir_close(&all);
    return s;
}

enum mw_status mw_textdir_open(const char *dir, const char *only, mw_textdir *td, mw_err *err) {
    memset(td, 0, sizeof *td);
    DIR *d = opendir(dir);
    if (!d)
        return mw_fail(err, MW_ERR_IO, "cannot open the text folder %s: %s", dir, strerror(errno));
    enum mw_status s = MW_OK;
    int cap = 0;
    td->dir = strdup(dir);
    if (!td->dir) s = mw_fail(err, MW_ERR_NOMEM, "out of memory listing %s", dir);
    struct dirent *e;
    while (!s && (e = readdir(d))) {
        size_t len = strlen(e->d_name);
        if (len <= 4 || strcmp(e->d_name + len - 4, ".txt") != 0) continue;
        if (!is_code(e->d_name, len - 4)) continue;
        s = push(td, &cap, e->d_name, len - 4, err);
    }
    closedir(d);
    if (!s && td->n) qsort(td->langs, (size_t)td->n, sizeof *td->langs, cmp_str);
    if (!s && td->n == 0) s = mw_fail(err, MW_ERR_NOT_FOUND, "no <lang>.txt files in %s", dir);
    if (!s && only) s = select_langs(td, only, err);
    if (!s && td->n > 1) qsort(td->langs, (size_t)td->n, sizeof *td->langs, cmp_str);
    if (s) mw_textdir_close(td);
    return s;
}

bool mw_textdir_path(const mw_textdir *td, int i, char *buf, size_t size) {
    int n = snprintf(buf, size, "%s/%s.txt", td->dir, td->langs[i]);
    return n >= 0 && (size_t)n < size;
}

enum mw_status mw_read_file(const char *path, char **text, size_t *len, mw_err *err) {
    *text = NULL;
    *len = 0;
    FILE *f = fopen(path, "rb");
    if (!f) return mw_fail(err, MW_ERR_IO, "cannot read %s: %s", path, strerror(errno));
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap + 1);
    enum mw_status s = MW_OK;
    while (buf) {
        if (n == cap) {
            char *p = cap < SIZE_MAX / 4 ? realloc(buf, 2 * cap + 1) : NULL;
            if (!p) break;
            buf = p;
            cap *= 2;
        }
        size_t k = fread(buf + n, 1, cap - n, f);
        n += k;
        if (k == 0) break;
    }
    if (!buf || n == cap)
        s = mw_fail(err, MW_ERR_NOMEM, "out of memory reading %s", path);
    else if (ferror(f))
        s = mw_fail(err, MW_ERR_IO, "cannot read %s", path);
    fclose(f);
    if (s) {
        free(buf);
        return s;
    }
    buf[n] = 0;
    *text = buf;
    *len = n;
    return MW_OK;
}

enum mw_status mw_textdir_read(const mw_textdir *td, int i, char **text, size_t *len, mw_err *err) {
    char path[4096];
    if (!mw_textdir_path(td, i, path, sizeof path))
        return mw_fail(err, MW_ERR_ARG, "the path of %s's text is too long", td->langs[i]);
    enum mw_status s = mw_read_file(path, text, len, err);
    if (!s && *len == 0) {
        free(*text);
        *text = NULL;
        return mw_fail(err, MW_ERR_ARG, "%s: the text is empty", path);
    }
    return s;
}
