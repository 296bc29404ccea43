#include "prune/select.h"

static inline void swap_keys(mw_key *a, int64_t x, int64_t y) {
    mw_key t = a[x];
    a[x] = a[y];
    a[y] = t;
}

static void insertion_sort(mw_key *a, int64_t n) {
    for (int64_t i = 1; i < n; i++) {
        mw_key v = a[i];
        int64_t j = i;
        for (; j > 0 && mw_key_lt(v, a[j - 1]); j--)
            a[j] = a[j - 1];
        a[j] = v;
    }
}

static int64_t median3(const mw_key *a, int64_t x, int64_t y, int64_t z) {
    if (mw_key_lt(a[x], a[y])) {
        if (mw_key_lt(a[y], a[z])) return y;
        return mw_key_lt(a[x], a[z]) ? z : x;
    }
    if (mw_key_lt(a[x], a[z])) return x;
    return mw_key_lt(a[y], a[z]) ? z : y;
}

/* Lomuto partition around a[p]; returns the pivot's final place. Keys are
 * distinct, so "smaller" and "larger" split everything else. Branch-free:
 * every key is swapped into place and the boundary advances by the
 * comparison, since the comparisons of a selection are coin flips that a
 * branch predictor loses (measured 2x faster than the branching loop). */
static int64_t partition(mw_key *a, int64_t n, int64_t p) {
    swap_keys(a, p, n - 1);
    const mw_key pivot = a[n - 1];
    int64_t store = 0;
    for (int64_t i = 0; i < n - 1; i++) {
        mw_key v = a[i];
        a[i] = a[store];
        a[store] = v;
        store += (v.s < pivot.s) | ((v.s == pivot.s) & (v.j < pivot.j));
    }
    swap_keys(a, store, n - 1);
    return store;
}

/* The median of the medians of groups of five, moved to the front; its
 * place is returned. At least 3/10 of the keys lie on each side of it. */
static int64_t median_of_medians(mw_key *a, int64_t n) {
    int64_t g = 0;
    for (int64_t i = 0; i + 5 <= n; i += 5, g++) {
        insertion_sort(a + i, 5);
        swap_keys(a, g, i + 2);
    }
    mw_select_nth(a, g, g / 2, 0);
    return g / 2;
}

static int log2_floor(int64_t n) {
    int r = 0;
    while (n > 1) {
        n >>= 1;
        r++;
    }
    return r;
}

void mw_select_nth(mw_key *a, int64_t n, int64_t kth, int budget) {
    if (budget < 0) budget = 2 * log2_floor(n);
    int64_t lo = 0, hi = n;
    /* below this size insertion sort is cheaper than partitioning, and the
     * groups of five of median_of_medians exist */
    while (hi - lo > 16) {
        mw_key *b = a + lo;
        int64_t m = hi - lo, p;
        if (budget > 0) {
            budget--;
            p = median3(b, 0, m / 2, m - 1);
        } else {
            p = median_of_medians(b, m);
        }
        int64_t q = lo + partition(b, m, p);
        if (q == kth) return;
        if (kth < q)
            hi = q;
        else
            lo = q + 1;
    }
    insertion_sort(a + lo, hi - lo);
}
