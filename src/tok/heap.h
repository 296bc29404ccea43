/* A binary heap of fixed-size items for the merge queues of the two BPE encoders. Each
 * encoder gives its own "comes first" rule. */
#ifndef MW_TOK_HEAP_H
#define MW_TOK_HEAP_H

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

typedef struct tok_heap {
    char *items;
    size_t n, cap, size;
    bool (*first)(const void *a, const void *b); /* a is taken before b */
} tok_heap;

static inline void *heap_at(const tok_heap *h, size_t i) {
    return h->items + i * h->size;
}

static inline void heap_swap(tok_heap *h, size_t i, size_t j) {
    char tmp[64]; /* items are small structs */
    memcpy(tmp, heap_at(h, i), h->size);
    memcpy(heap_at(h, i), heap_at(h, j), h->size);
    memcpy(heap_at(h, j), tmp, h->size);
}

static inline bool heap_push(tok_heap *h, const void *item) {
    if (h->n == h->cap) {
        size_t cap = h->cap ? 2 * h->cap : 64;
        char *p = realloc(h->items, cap * h->size);
        if (!p) return false;
        h->items = p;
        h->cap = cap;
    }
    memcpy(heap_at(h, h->n), item, h->size);
    for (size_t i = h->n++; i > 0;) {
        size_t parent = (i - 1) / 2;
        if (!h->first(heap_at(h, i), heap_at(h, parent))) break;
        heap_swap(h, i, parent);
        i = parent;
    }
    return true;
}

static inline bool heap_pop(tok_heap *h, void *item) {
    if (h->n == 0) return false;
    memcpy(item, heap_at(h, 0), h->size);
    memcpy(heap_at(h, 0), heap_at(h, --h->n), h->size);
    for (size_t i = 0;;) {
        size_t l = 2 * i + 1, r = l + 1, best = i;
        if (l < h->n && h->first(heap_at(h, l), heap_at(h, best))) best = l;
        if (r < h->n && h->first(heap_at(h, r), heap_at(h, best))) best = r;
        if (best == i) break;
        heap_swap(h, i, best);
        i = best;
    }
    return true;
}

static inline void heap_free(tok_heap *h) {
    free(h->items);
    h->items = NULL;
    h->n = h->cap = 0;
}

#endif
