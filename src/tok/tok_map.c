/* The look-up structures of the tokenizers: token text -> id over byte spans (so that a
 * piece of the text being encoded is looked up in place, without a copy), merge pair ->
 * rank, and a byte trie for added tokens; plus the growable arrays they fill. */
#include "tok/tok.h"

#include <stdlib.h>
#include <string.h>

static bool grow(void **p, size_t *cap, size_t need, size_t elem) {
    if (need <= *cap) return true;
    size_t c = *cap ? *cap : 16;
    while (c < need) {
        if (c > SIZE_MAX / 2 / elem) return false;
        c *= 2;
    }
    void *q = realloc(*p, c * elem);
    if (!q) return false;
    *p = q;
    *cap = c;
    return true;
}

bool tok_str_put(tok_str *b, const void *s, size_t n) {
    if (n > SIZE_MAX - b->n - 1 || !grow((void **)&b->s, &b->cap, b->n + n + 1, 1)) return false;
    if (n) memcpy(b->s + b->n, s, n);
    b->n += n;
    b->s[b->n] = 0;
    return true;
}

void tok_str_free(tok_str *b) {
    free(b->s);
    *b = (tok_str){0};
}

bool tok_spans_add(tok_spans *s, size_t off, size_t len) {
    if (!grow((void **)&s->v, &s->cap, s->n + 1, sizeof *s->v)) return false;
    s->v[s->n++] = (tok_span){off, len};
    return true;
}

void tok_spans_free(tok_spans *s) {
    free(s->v);
    *s = (tok_spans){0};
}

bool tok_push(mw_tokens *out, int32_t id) {
    if (!grow((void **)&out->ids, &out->cap, out->n + 1, sizeof *out->ids)) return false;
    out->ids[out->n++] = id;
    return true;
}

void mw_tokens_free(mw_tokens *t) {
    if (!t) return;
    free(t->ids);
    *t = (mw_tokens){0};
}

const char *tok_find(const char *hay, size_t n, const char *needle, size_t m) {
    if (m == 0 || m > n) return NULL;
    const char *end = hay + n - m + 1;
    for (const char *p = hay; p < end;) {
        p = memchr(p, needle[0], (size_t)(end - p));
        if (!p) return NULL;
        if (memcmp(p, needle, m) == 0) return p;
        p++;
    }
    return NULL;
}

/* ---- text -> id ---------------------------------------------------------- */

/* Eight bytes at a time: encoders look up every candidate merge, most of them misses. */
static uint64_t hash_bytes(const char *s, size_t n) {
    uint64_t h = 0x9e3779b97f4a7c15ull ^ n, w;
    for (; n >= 8; s += 8, n -= 8) {
        memcpy(&w, s, 8);
        h = (h ^ w) * 0xff51afd7ed558ccdull;
        h ^= h >> 32;
    }
    w = 0;
    memcpy(&w, s, n);
    h = (h ^ w) * 0xc4ceb9fe1a85ec53ull;
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    return h ^ (h >> 33);
}

static uint64_t table_size(int64_t n_expected) {
    uint64_t cap = 16;
    while (cap < 2 * (uint64_t)n_expected + 2)
        cap <<= 1;
    return cap;
}

bool tok_map_init(tok_map *m, int64_t n_expected, const char *const *text, const uint32_t *len) {
    uint64_t cap = table_size(n_expected);
    m->slot = malloc(cap * sizeof *m->slot);
    m->mask = cap - 1;
    m->text = text;
    m->len = len;
    if (!m->slot) return false;
    for (uint64_t i = 0; i < cap; i++)
        m->slot[i] = (tok_slot){0, -1};
    return true;
}

void tok_map_free(tok_map *m) {
    free(m->slot);
    m->slot = NULL;
}

/* The slot holding s, or the empty one where it would go. The slot keeps a fingerprint of
 * the hash so that most misses never read a token's text. */
static uint64_t map_find(const tok_map *m, const char *s, size_t n, uint32_t *fp) {
    uint64_t h = hash_bytes(s, n), i = h & m->mask;
    *fp = (uint32_t)(h >> 32);
    for (;; i = (i + 1) & m->mask) {
        tok_slot e = m->slot[i];
        if (e.id < 0) return i;
        if (e.fp == *fp && m->len[e.id] == n && memcmp(m->text[e.id], s, n) == 0) return i;
    }
}

void tok_map_put(tok_map *m, int32_t id) {
    uint32_t fp;
    uint64_t i = map_find(m, m->text[id], m->len[id], &fp);
    m->slot[i] = (tok_slot){fp, id};
}

int32_t tok_map_get(const tok_map *m, const char *s, size_t n) {
    uint32_t fp;
    return m->slot[map_find(m, s, n, &fp)].id;
}

/* ---- merges -------------------------------------------------------------- */

static uint64_t mix64(uint64_t x) {
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    return x;
}

bool pair_map_init(pair_map *m, int64_t n_expected) {
    uint64_t cap = table_size(n_expected);
    m->key = calloc(cap, sizeof *m->key);
    m->rank = malloc(cap * sizeof *m->rank);
    m->id = malloc(cap * sizeof *m->id);
    m->mask = cap - 1;
    return m->key && m->rank && m->id;
}

void pair_map_free(pair_map *m) {
    free(m->key);
    free(m->rank);
    free(m->id);
    *m = (pair_map){0};
}

static uint64_t pair_find(const pair_map *m, uint64_t key) {
    uint64_t i = mix64(key) & m->mask;
    while (m->key[i] && m->key[i] != key)
        i = (i + 1) & m->mask;
    return i;
}

void pair_map_put(pair_map *m, int32_t left, int32_t right, int32_t rank, int32_t id) {
    uint64_t key = ((uint64_t)(uint32_t)left << 32 | (uint32_t)right) + 1;
    uint64_t i = pair_find(m, key);
    if (m->key[i]) return;
    m->key[i] = key;
    m->rank[i] = rank;
    m->id[i] = id;
}

bool pair_map_get(const pair_map *m, int32_t left, int32_t right, int32_t *rank, int32_t *id) {
    uint64_t key = ((uint64_t)(uint32_t)left << 32 | (uint32_t)right) + 1;
    uint64_t i = pair_find(m, key);
    if (!m->key[i]) return false;
    *rank = m->rank[i];
    *id = m->id[i];
    return true;
}

/* ---- trie ---------------------------------------------------------------- */

bool tok_trie_init(tok_trie *t, size_t total_bytes) {
    *t = (tok_trie){0};
    t->cap_nodes = (int32_t)total_bytes + 1;
    uint64_t cap = table_size((int64_t)total_bytes);
    t->ekey = calloc(cap, sizeof *t->ekey);
    t->echild = malloc(cap * sizeof *t->echild);
    t->term = malloc((size_t)t->cap_nodes * sizeof *t->term);
    t->emask = cap - 1;
    if (!t->ekey || !t->echild || !t->term) return false;
    t->n_nodes = 1;
    t->term[0] = -1;
    return true;
}

void tok_trie_free(tok_trie *t) {
    free(t->ekey);
    free(t->echild);
    free(t->term);
    *t = (tok_trie){0};
}

static uint64_t edge_find(const tok_trie *t, uint64_t key) {
    uint64_t i = mix64(key) & t->emask;
    while (t->ekey[i] && t->ekey[i] != key)
        i = (i + 1) & t->emask;
    return i;
}

int32_t tok_trie_next(const tok_trie *t, int32_t node, unsigned char byte) {
    if (!t->ekey) return -1;
    uint64_t i = edge_find(t, ((uint64_t)node << 8 | byte) + 1);
    return t->ekey[i] ? t->echild[i] : -1;
}

/* The caller sized the trie for every byte added, so nodes never run out. */
void tok_trie_add(tok_trie *t, const char *s, size_t n, int32_t index) {
    int32_t node = 0;
    for (size_t k = 0; k < n; k++) {
        uint64_t key = ((uint64_t)node << 8 | (unsigned char)s[k]) + 1;
        uint64_t i = edge_find(t, key);
        if (!t->ekey[i]) {
            t->ekey[i] = key;
            t->echild[i] = t->n_nodes;
            t->term[t->n_nodes++] = -1;
        }
        node = t->echild[i];
    }
    if (t->term[node] < 0) t->term[node] = index;
}
