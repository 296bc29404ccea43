#include "core/strmap.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

static uint64_t hash(const char *s) {
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

bool mw_strmap_init(mw_strmap *m, uint64_t n_expected) {
    uint64_t cap = 16;
    while (cap < 2 * n_expected + 1) {
        if (cap > (UINT64_MAX >> 2)) return false;
        cap <<= 1;
    }
    m->keys = calloc(cap, sizeof *m->keys);
    m->vals = calloc(cap, sizeof *m->vals);
    m->cap = cap;
    m->n = 0;
    if (!m->keys || !m->vals) {
        mw_strmap_free(m);
        return false;
    }
    return true;
}

void mw_strmap_free(mw_strmap *m) {
    free(m->keys);
    free(m->vals);
    memset(m, 0, sizeof *m);
}

bool mw_strmap_put(mw_strmap *m, const char *key, int64_t val) {
    if (m->cap == 0 || 2 * (m->n + 1) > m->cap) return false;
    uint64_t i = hash(key) & (m->cap - 1);
    while (m->keys[i]) {
        if (strcmp(m->keys[i], key) == 0) return false;
        i = (i + 1) & (m->cap - 1);
    }
    m->keys[i] = key;
    m->vals[i] = val;
    m->n++;
    return true;
}

int64_t mw_strmap_get(const mw_strmap *m, const char *key) {
    if (m->cap == 0) return -1;
    uint64_t i = hash(key) & (m->cap - 1);
    while (m->keys[i]) {
        if (strcmp(m->keys[i], key) == 0) return m->vals[i];
        i = (i + 1) & (m->cap - 1);
    }
    return -1;
}
