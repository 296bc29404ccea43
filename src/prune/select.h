/* Selection of the lowest keys, the core of every per-row mask: expected
 * O(n) quickselect with median-of-3 pivots that falls back to
 * median-of-medians pivots (worst case O(n)) when partitions go badly. */
#ifndef MW_PRUNE_SELECT_H
#define MW_PRUNE_SELECT_H

#include <stdbool.h>
#include <stdint.h>

/* A weight's key: its score, then its index. Only nonzero weights get keys
 * (zeros go first by rule and are never written), so (score, index) is the
 * whole order and no two keys are equal. */
typedef struct mw_key {
    double s;  /* score, finite or +inf, >= 0 */
    int64_t j; /* column (or position in the group) */
} mw_key;

static inline bool mw_key_lt(mw_key a, mw_key b) {
    return a.s < b.s || (a.s == b.s && a.j < b.j);
}

/* Rearranges a[0..n) so that a[kth] is the key of rank kth (0-based), the
 * keys before it smaller and those after it larger; 0 <= kth < n. budget:
 * how many median-of-3 partitions before median-of-medians takes over (< 0:
 * 2*log2(n), as introselect does; 0: median-of-medians throughout). */
void mw_select_nth(mw_key *a, int64_t n, int64_t kth, int budget);

#endif
