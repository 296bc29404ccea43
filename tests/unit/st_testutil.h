/* Helpers shared by the safetensors unit tests: checks, scratch folders,
 * and crafting files byte by byte. */
#ifndef MW_TEST_ST_TESTUTIL_H
#define MW_TEST_ST_TESTUTIL_H

#include "check.h"
#include "mwanda.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Status got is `want`, and the message holds `part` (when not NULL). */
static inline void check_err(const char *file, int line, enum mw_status got, enum mw_status want,
                             const mw_err *err, const char *part) {
    if (got != want || (part && !strstr(err->msg, part))) {
        fprintf(stderr, "%s:%d: got status %d \"%s\", wanted %d with \"%s\"\n", file, line,
                (int)got, got == MW_OK ? "" : err->msg, (int)want, part ? part : "");
        g_failures++;
    }
}

#define CHECK_ERR(s, want, err, part) check_err(__FILE__, __LINE__, (s), (want), &(err), (part))
#define CHECK_OK(s, err)              CHECK_ERR(s, MW_OK, err, NULL)

static char g_root[4096];

static inline void make_root(void) {
    const char *t = getenv("TMPDIR");
    snprintf(g_root, sizeof g_root, "%s/mw-st-test-XXXXXX", t && *t ? t : "/tmp");
    if (!mkdtemp(g_root)) {
        perror("mkdtemp");
        exit(1);
    }
}

/* Removes a scratch tree (plain files and folders only). */
static inline void rm_rf(const char *path) {
    struct stat sb;
    if (lstat(path, &sb) != 0) return;
    if (S_ISDIR(sb.st_mode)) {
        DIR *d = opendir(path);
        struct dirent *e;
        while (d && (e = readdir(d))) {
            if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
            char sub[4096];
            if ((size_t)snprintf(sub, sizeof sub, "%s/%s", path, e->d_name) < sizeof sub)
                rm_rf(sub);
        }
        if (d) closedir(d);
    }
    remove(path);
}

/* A path under the scratch root (a few rotating buffers). */
static inline const char *at(const char *name) {
    static char bufs[4][4096];
    static int k;
    char *b = bufs[k++ % 4];
    if ((size_t)snprintf(b, sizeof bufs[0], "%s/%s", g_root, name) >= sizeof bufs[0]) abort();
    return b;
}

static inline void put_file(const char *path, const void *data, size_t n) {
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data, 1, n, f) != n || fclose(f) != 0) {
        perror(path);
        exit(1);
    }
}

static inline bool exists(const char *path) {
    struct stat sb;
    return lstat(path, &sb) == 0;
}

/* Entries of a folder other than . and .. whose name contains `part`. */
static inline int count_entries(const char *dir, const char *part) {
    DIR *d = opendir(dir);
    if (!d) return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..") && strstr(e->d_name, part)) n++;
    closedir(d);
    return n;
}

/* A safetensors file: length prefix, the header text as given, then
 * n_data bytes counting up from 0. Caller frees. */
static inline unsigned char *craft(const char *header, size_t n_data, size_t *size) {
    size_t h = strlen(header);
    unsigned char *b = malloc(8 + h + n_data + 1);
    for (int k = 0; k < 8; k++)
        b[k] = (unsigned char)((uint64_t)h >> (8 * k));
    memcpy(b + 8, header, h);
    for (size_t i = 0; i < n_data; i++)
        b[8 + h + i] = (unsigned char)i;
    *size = 8 + h + n_data;
    return b;
}

#endif
