/* Binary heaps for the merge queues of the two BPE encoders, one per item type so that the
 * compiler can inline the "comes first" rule and move items by assignment: the queue is
 * the hot loop of a long word. TOK_HEAP(name, type, first) defines name_push, name_pop and
 * name_free over a struct name, where first(a, b) says a is taken before b. */
#ifndef MW_TOK_HEAP_H
#define MW_TOK_HEAP_H

#include <stdbool.h>
#include <stdlib.h>

#define TOK_HEAP(name, type, first)                                                                \
    typedef struct name {                                                                          \
        type *items;                                                                               \
        size_t n, cap;                                                                             \
    } name;                                                                                        \
                                                                                                   \
    static inline bool name##_push(name *h, type item) {                                           \
        if (h->n == h->cap) {                                                                      \
            size_t cap = h->cap ? 2 * h->cap : 64;                                                 \
            type *p = realloc(h->items, cap * sizeof *p);                                          \
            if (!p) return false;                                                                  \
            h->items = p;                                                                          \
            h->cap = cap;                                                                          \
        }                                                                                          \
        size_t i = h->n++;                                                                         \
        while (i > 0) {                                                                            \
            size_t parent = (i - 1) / 2;                                                           \
            if (!first(&item, &h->items[parent])) break;                                           \
            h->items[i] = h->items[parent];                                                        \
            i = parent;                                                                            \
        }                                                                                          \
        h->items[i] = item;                                                                        \
        return true;                                                                               \
    }                                                                                              \
                                                                                                   \
    static inline bool name##_pop(name *h, type *out) {                                            \
        if (h->n == 0) return false;                                                               \
        *out = h->items[0];                                                                        \
        type last = h->items[--h->n];                                                              \
        size_t i = 0;                                                                              \
        for (;;) {                                                                                 \
            size_t c = 2 * i + 1;                                                                  \
            if (c >= h->n) break;                                                                  \
            if (c + 1 < h->n && first(&h->items[c + 1], &h->items[c])) c++;                        \
            if (!first(&h->items[c], &last)) break;                                                \
            h->items[i] = h->items[c];                                                             \
            i = c;                                                                                 \
        }                                                                                          \
        if (h->n) h->items[i] = last;                                                              \
        return true;                                                                               \
    }                                                                                              \
                                                                                                   \
    static inline void name##_free(name *h) {                                                      \
        free(h->items);                                                                            \
        h->items = NULL;                                                                           \
        h->n = h->cap = 0;                                                                         \
    }

#endif
