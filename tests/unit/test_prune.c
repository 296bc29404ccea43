/* Tests of src/prune: selection against qsort, masks against a sort-based
 * statement of the rule (exact counts, ties, zeros, -0.0, kept bits), N:M,
 * the whole-matrix radix selection, factors (M-Wanda off == Wanda bit for
 * bit), OWL, CWL, the allocation, the pattern parser and every error path.
 * The numpy reference (scripts/ref_prune.py) is compared in
 * tests/py/test_prune_ref.py. */
#include "check.h"
#include "prune/prune.h"
#include "prune/select.h"

#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t rng_state = 0x2545f4914f6cdd1du;
static uint64_t rnd(void) {
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}
static double unif(void) {
    return (double)(rnd() >> 11) / 9007199254740992.0;
}

static uint32_t fbits(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

/* Weights with many ties: a few magnitudes, both signs, zeros and -0.0. */
static void fill_weights(float *w, int64_t n, int levels) {
    for (int64_t i = 0; i < n; i++) {
        uint64_t r = rnd();
        int kind = (int)(r % 10);
        float v = (float)((r >> 8) % (uint64_t)levels + 1) * 0.125f;
        if (kind == 0)
            w[i] = 0.0f;
        else if (kind == 1)
            w[i] = -0.0f;
        else
            w[i] = (r >> 40) & 1 ? -v : v;
    }
}

/* Factors with ties and zeros, powers of two so that products tie too. */
static void fill_factors(double *c, int64_t n) {
    for (int64_t j = 0; j < n; j++) {
        uint64_t r = rnd() % 6;
        c[j] = r == 0 ? 0.0 : ldexp(1.0, (int)r - 3);
    }
}

/* ------------------------------------------------------------------------ */
/* The rule, stated with a sort                                             */
/* ------------------------------------------------------------------------ */

typedef struct {
    double s;
    int nz;
    int64_t j;
} full_key;

static int cmp_full(const void *pa, const void *pb) {
    const full_key *a = pa, *b = pb;
    if (a->s != b->s) return a->s < b->s ? -1 : 1;
    if (a->nz != b->nz) return a->nz - b->nz;
    return (a->j > b->j) - (a->j < b->j);
}

/* Zeroes the k lowest of n weights at stride `stride` by a full sort. */
static void sort_prune(float *w, int64_t n, int64_t stride, const double *c, int64_t k) {
    full_key *keys = malloc((size_t)n * sizeof *keys);
    for (int64_t j = 0; j < n; j++) {
        double a = fabs((double)w[j * stride]);
        keys[j] = (full_key){c ? a * c[j] : a, w[j * stride] != 0, j};
    }
    qsort(keys, (size_t)n, sizeof *keys, cmp_full);
    for (int64_t t = 0; t < k && t < n; t++)
        if (w[keys[t].j * stride] != 0) w[keys[t].j * stride] = 0.0f;
    free(keys);
}

static int64_t count_zeros(const float *w, int64_t n) {
    int64_t z = 0;
    for (int64_t i = 0; i < n; i++)
        z += w[i] == 0;
    return z;
}

/* Bitwise equality, and every change a nonzero -> +0.0. */
static void check_result(const float *orig, const float *got, const float *want, int64_t n,
                         const char *what) {
    int64_t bad = 0, changed_wrong = 0;
    for (int64_t i = 0; i < n; i++) {
        bad += fbits(got[i]) != fbits(want[i]);
        if (fbits(got[i]) != fbits(orig[i])) changed_wrong += !(orig[i] != 0 && fbits(got[i]) == 0);
    }
    CHECK(bad == 0, "%s: %lld weights differ from the sort-based rule", what, (long long)bad);
    CHECK(changed_wrong == 0, "%s: %lld weights changed other than nonzero -> +0.0", what,
          (long long)changed_wrong);
}

/* ------------------------------------------------------------------------ */

static int cmp_key(const void *pa, const void *pb) {
    mw_key a = *(const mw_key *)pa, b = *(const mw_key *)pb;
    return mw_key_lt(a, b) ? -1 : mw_key_lt(b, a) ? 1 : 0;
}

static void test_select(void) {
    const int64_t sizes[] = {1, 2, 5, 16, 17, 31, 100, 640, 1001};
    for (int budget = -1; budget <= 0; budget++)
        for (size_t si = 0; si < sizeof sizes / sizeof *sizes; si++)
            for (int kind = 0; kind < 4; kind++) {
                int64_t n = sizes[si];
                mw_key *a = malloc((size_t)n * sizeof *a), *s = malloc((size_t)n * sizeof *s);
                for (int64_t i = 0; i < n; i++) {
                    double v = kind == 0   ? (double)(rnd() % 7) /* ties */
                               : kind == 1 ? (double)i           /* sorted */
                               : kind == 2 ? (double)(n - i)     /* reversed */
                                           : 1.0;                /* all equal */
                    a[i] = (mw_key){v, i};
                }
                memcpy(s, a, (size_t)n * sizeof *a);
                qsort(s, (size_t)n, sizeof *s, cmp_key);
                int64_t kth = (int64_t)(rnd() % (uint64_t)n);
                mw_select_nth(a, n, kth, budget);
                int ok = a[kth].s == s[kth].s && a[kth].j == s[kth].j;
                for (int64_t i = 0; i < n && ok; i++)
                    ok = i < kth ? mw_key_lt(a[i], a[kth]) : i > kth ? mw_key_lt(a[kth], a[i]) : 1;
                CHECK(ok, "select n=%lld kth=%lld kind=%d budget=%d", (long long)n, (long long)kth,
                      kind, budget);
                free(a);
                free(s);
            }
}

static void test_rows(void) {
    const int64_t shapes[][2] = {{1, 1}, {3, 7}, {5, 13}, {16, 64}, {33, 40}, {8, 257}, {2, 640}};
    const double sp[] = {0, 0.1, 0.5, 0.7, 0.999, 0.9999999};
    for (size_t si = 0; si < sizeof shapes / sizeof *shapes; si++)
        for (size_t k = 0; k < sizeof sp / sizeof *sp; k++)
            for (int use_c = 0; use_c < 2; use_c++) {
                int64_t R = shapes[si][0], C = shapes[si][1], n = R * C;
                float *w = malloc((size_t)n * 4), *o = malloc((size_t)n * 4),
                      *want = malloc((size_t)n * 4);
                double *c = malloc((size_t)C * sizeof *c);
                fill_weights(w, n, 1 + (int)(rnd() % 5));
                fill_factors(c, C);
                memcpy(o, w, (size_t)n * 4);
                memcpy(want, w, (size_t)n * 4);
                int64_t kk = mw_prune_count(C, sp[k]), zw = 0;
                for (int64_t i = 0; i < R; i++) {
                    sort_prune(want + i * C, C, 1, use_c ? c : NULL, kk);
                    int64_t z = count_zeros(want + i * C, C), z0 = count_zeros(o + i * C, C);
                    zw += z;
                    CHECK(z == (z0 > kk ? z0 : kk), "row zeros %lld, want max(%lld, %lld)",
                          (long long)z, (long long)z0, (long long)kk);
                }
                int64_t zeros = -1;
                mw_err err = {0};
                enum mw_status rc = mw_prune_rows(w, R, C, use_c ? c : NULL, sp[k], &zeros, &err);
                CHECK(rc == MW_OK, "prune_rows: %s", err.msg);
                char what[64];
                snprintf(what, sizeof what, "rows %lldx%lld s=%.9g c=%d", (long long)R,
                         (long long)C, sp[k], use_c);
                check_result(o, w, want, n, what);
                CHECK(zeros == zw && zeros == count_zeros(w, n), "%s: zeros %lld want %lld", what,
                      (long long)zeros, (long long)zw);
                free(w);
                free(o);
                free(want);
                free(c);
            }
    /* -0.0 kept when a row already holds more zeros than k; k = 1 here */
    float w[4] = {-0.0f, 0.0f, 3.0f, -0.0f}, o[4];
    memcpy(o, w, sizeof w);
    int64_t zeros;
    CHECK(mw_prune_rows(w, 1, 4, NULL, 0.25, &zeros, NULL) == MW_OK && zeros == 3, "pre-zeros");
    CHECK(memcmp(w, o, sizeof w) == 0, "a row with more zeros than k is changed");
    /* ties: equal scores go by column; a zero factor makes nonzero weights
     * score 0 too, but the zero weight still goes first */
    float t[6] = {2.0f, 1.0f, 0.0f, 1.0f, -1.0f, 5.0f};
    double ct[6] = {0.5, 1.0, 1.0, 1.0, 0.0, 0.0};
    CHECK(mw_prune_rows(t, 1, 6, ct, 0.5, &zeros, NULL) == MW_OK && zeros == 3, "ties");
    CHECK(t[0] == 2.0f && t[1] == 1.0f && t[2] == 0.0f && t[3] == 1.0f && t[4] == 0.0f &&
              t[5] == 0.0f,
          "ties: got %g %g %g %g %g %g", t[0], t[1], t[2], t[3], t[4], t[5]);
    CHECK(fbits(t[4]) == 0 && fbits(t[5]) == 0, "a pruned weight is not +0.0");
}

static void test_nm(void) {
    const int pats[][2] = {{2, 4}, {4, 8}, {1, 3}, {3, 5}, {7, 16}};
    for (size_t pi = 0; pi < sizeof pats / sizeof *pats; pi++)
        for (int use_c = 0; use_c < 2; use_c++) {
            mw_pattern p = {pats[pi][0], pats[pi][1]};
            int64_t R = 9, C = (int64_t)p.m * 7, n = R * C;
            float *w = malloc((size_t)n * 4), *o = malloc((size_t)n * 4),
                  *want = malloc((size_t)n * 4);
            double *c = malloc((size_t)C * sizeof *c);
            fill_weights(w, n, 3);
            fill_factors(c, C);
            memcpy(o, w, (size_t)n * 4);
            memcpy(want, w, (size_t)n * 4);
            for (int64_t g = 0; g < n / p.m; g++) {
                int64_t col = g * p.m % C;
                sort_prune(want + g * p.m, p.m, 1, use_c ? c + col : NULL, p.n);
                int64_t z = count_zeros(want + g * p.m, p.m), z0 = count_zeros(o + g * p.m, p.m);
                CHECK(z == (z0 > p.n ? z0 : p.n), "group zeros");
            }
            int64_t zeros = -1;
            mw_err err = {0};
            CHECK(mw_prune_nm(w, R, C, use_c ? c : NULL, p, &zeros, &err) == MW_OK, "nm: %s",
                  err.msg);
            char what[64];
            snprintf(what, sizeof what, "%d:%d c=%d", p.n, p.m, use_c);
            check_result(o, w, want, n, what);
            CHECK(zeros == count_zeros(w, n), "%s: zero count", what);
            free(w);
            free(o);
            free(want);
            free(c);
        }
    float w[12] = {0};
    mw_err err = {0};
    CHECK(mw_prune_nm(w, 2, 6, NULL, (mw_pattern){2, 4}, NULL, &err) == MW_ERR_SHAPE,
          "6 inputs with 2:4");
    CHECK(strstr(err.msg, "divisible by 4") != NULL, "message: %s", err.msg);
    CHECK(mw_prune_nm(w, 2, 6, NULL, (mw_pattern){3, 3}, NULL, NULL) == MW_ERR_ARG, "3:3");
}

static void test_global(void) {
    const int64_t shapes[][2] = {{1, 1}, {3, 7}, {17, 33}, {64, 100}, {300, 257}};
    const double sp[] = {0, 0.3, 0.5, 0.7, 0.999, 0.9999999};
    for (size_t si = 0; si < sizeof shapes / sizeof *shapes; si++)
        for (size_t k = 0; k < sizeof sp / sizeof *sp; k++) {
            int64_t R = shapes[si][0], C = shapes[si][1], n = R * C;
            float *w = malloc((size_t)n * 4), *o = malloc((size_t)n * 4),
                  *want = malloc((size_t)n * 4);
            fill_weights(w, n, si == 4 ? 1000 : 4);
            /* spread some weights over many exponents so both radix levels matter */
            for (int64_t i = 0; i < n; i += 3)
                if (w[i] != 0) w[i] = (float)(ldexp(unif() + 0.5, (int)(rnd() % 60) - 40));
            memcpy(o, w, (size_t)n * 4);
            memcpy(want, w, (size_t)n * 4);
            int64_t kk = mw_prune_count(n, sp[k]);
            sort_prune(want, n, 1, NULL, kk);
            int64_t zeros = -1;
            mw_err err = {0};
            CHECK(mw_prune_global(w, R, C, sp[k], &zeros, &err) == MW_OK, "global: %s", err.msg);
            char what[64];
            snprintf(what, sizeof what, "global %lldx%lld s=%.9g", (long long)R, (long long)C,
                     sp[k]);
            check_result(o, w, want, n, what);
            int64_t z0 = count_zeros(o, n);
            CHECK(zeros == (z0 > kk ? z0 : kk) && zeros == count_zeros(w, n),
                  "%s: zeros %lld, k %lld, before %lld", what, (long long)zeros, (long long)kk,
                  (long long)z0);
            free(w);
            free(o);
            free(want);
        }
}

/* Same inputs, 1 and 2 threads: same bytes. */
static void test_threads(void) {
    const int64_t R = 257, C = 300, n = R * C;
    float *a = malloc((size_t)n * 4), *b = malloc((size_t)n * 4);
    double *c = malloc((size_t)C * sizeof *c);
    fill_weights(a, n, 50);
    fill_factors(c, C);
    for (int what = 0; what < 3; what++) {
        memcpy(b, a, (size_t)n * 4);
        float *x = malloc((size_t)n * 4);
        memcpy(x, a, (size_t)n * 4);
        omp_set_num_threads(1);
        if (what == 0) mw_prune_rows(x, R, C, c, 0.6, NULL, NULL);
        if (what == 1) mw_prune_nm(x, R, C, c, (mw_pattern){2, 4}, NULL, NULL);
        if (what == 2) mw_prune_global(x, R, C, 0.6, NULL, NULL);
        omp_set_num_threads(2);
        if (what == 0) mw_prune_rows(b, R, C, c, 0.6, NULL, NULL);
        if (what == 1) mw_prune_nm(b, R, C, c, (mw_pattern){2, 4}, NULL, NULL);
        if (what == 2) mw_prune_global(b, R, C, 0.6, NULL, NULL);
        CHECK(memcmp(x, b, (size_t)n * 4) == 0, "mask %d differs between 1 and 2 threads", what);
        free(x);
    }
    mw_owl o1, o2;
    mw_owl_init(&o1);
    mw_owl_init(&o2);
    omp_set_num_threads(1);
    mw_owl_add_sum(&o1, a, R, C, c, NULL);
    omp_set_num_threads(2);
    mw_owl_add_sum(&o2, a, R, C, c, NULL);
    CHECK(o1.sum == o2.sum, "OWL sum depends on threads: %.17g %.17g", o1.sum, o2.sum);
    free(a);
    free(b);
    free(c);
}

static void test_bad_masks(void) {
    float w[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    double c[4] = {1, 1, 1, 1};
    mw_err err = {0};
    const double bad_s[] = {-0.1, 1.0, 1.5, NAN, INFINITY};
    for (size_t i = 0; i < sizeof bad_s / sizeof *bad_s; i++) {
        CHECK(mw_prune_rows(w, 2, 4, c, bad_s[i], NULL, &err) == MW_ERR_ARG, "s=%g", bad_s[i]);
        CHECK(mw_prune_global(w, 2, 4, bad_s[i], NULL, &err) == MW_ERR_ARG, "global s=%g",
              bad_s[i]);
    }
    CHECK(strstr(err.msg, "not in [0, 1)") != NULL, "message: %s", err.msg);
    const float bad_w[] = {NAN, INFINITY, -INFINITY};
    for (size_t i = 0; i < 3; i++) {
        float x[8] = {1, 2, 3, 4, 5, 6, 7, 8}, o[8];
        x[6] = bad_w[i];
        memcpy(o, x, sizeof x);
        CHECK(mw_prune_rows(x, 2, 4, c, 0.5, NULL, &err) == MW_ERR_ARG, "weight %g", bad_w[i]);
        CHECK(strcmp(err.msg, "holds non-finite values at row 1 column 2") == 0, "message: %s",
              err.msg);
        CHECK(mw_prune_nm(x, 2, 4, c, (mw_pattern){2, 4}, NULL, NULL) == MW_ERR_ARG, "nm %g",
              bad_w[i]);
        CHECK(mw_prune_global(x, 2, 4, 0.5, NULL, NULL) == MW_ERR_ARG, "global %g", bad_w[i]);
        CHECK(memcmp(x, o, sizeof x) == 0, "weights written before the refusal");
    }
    const double bad_c[] = {NAN, INFINITY, -1.0};
    for (size_t i = 0; i < 3; i++) {
        double cc[4] = {1, 1, 1, 1};
        cc[3] = bad_c[i];
        CHECK(mw_prune_rows(w, 2, 4, cc, 0.5, NULL, &err) == MW_ERR_ARG, "factor %g", bad_c[i]);
        CHECK(strstr(err.msg, "factor of column 3") != NULL, "message: %s", err.msg);
    }
    CHECK(mw_prune_rows(w, -1, 4, c, 0.5, NULL, NULL) == MW_ERR_SHAPE, "negative rows");
    CHECK(mw_prune_rows(w, INT64_MAX, 4, c, 0.5, NULL, NULL) == MW_ERR_SHAPE, "overflow");
    int64_t z = -1;
    CHECK(mw_prune_rows(w, 0, 4, c, 0.5, &z, NULL) == MW_OK && z == 0, "no rows");
    CHECK(mw_prune_count(640, 0.5) == 320 && mw_prune_count(10, 0.7) == 7 &&
              mw_prune_count(3, 0.9999999) == 2,
          "prune_count");
}

/* ------------------------------------------------------------------------ */

static void test_factors(void) {
    /* two languages, three channels, by hand */
    double sum2[6] = {4, 9, 0, 16, 1, 0}, pos[6] = {1, 2, 0, 3, 1, 0}, tok[2] = {4, 4};
    mw_lang_stats st = {2, 3, sum2, pos, tok};
    double c[3], m[3];
    CHECK(mw_wanda_factor(&st, c, NULL) == MW_OK, "wanda");
    CHECK(c[0] == sqrt(20.0) && c[1] == sqrt(10.0) && c[2] == 0, "wanda values %g %g %g", c[0],
          c[1], c[2]);
    mw_mwanda_opts off = {false, 0, 0, MW_PROB_MEAN};
    CHECK(mw_mwanda_factor(&st, &off, m, NULL) == MW_OK, "mwanda off");
    CHECK(memcmp(c, m, sizeof c) == 0, "M-Wanda off is not Wanda's factor bit for bit");
    /* a = {1, 2}, {1.5, 0.5}, {0, 0}: mu = 1.5, 1, 0; sigma = 0.5, 0.5, 0 */
    mw_mwanda_opts bal = {true, 2.0, 0, MW_PROB_MEAN};
    CHECK(mw_mwanda_factor(&st, &bal, m, NULL) == MW_OK, "balanced");
    CHECK(m[0] == 2.5 && m[1] == 2.0 && m[2] == 0, "balanced values %g %g %g", m[0], m[1], m[2]);
    /* p = {0.25, 0.75}, {0.5, 0.25}, {0, 0}; max: 0.75, 0.5, 0 -> c = mu * p^2 */
    mw_mwanda_opts pr = {true, 0, 2.0, MW_PROB_MAX};
    CHECK(mw_mwanda_factor(&st, &pr, m, NULL) == MW_OK, "prob");
    CHECK(m[0] == 1.5 * 0.5625 && m[1] == 0.25 && m[2] == 0, "prob values %g %g %g", m[0], m[1],
          m[2]);
    pr.prob_agg = MW_PROB_MEAN; /* mean: 0.5, 0.375, 0 */
    CHECK(mw_mwanda_factor(&st, &pr, m, NULL) == MW_OK, "prob mean");
    CHECK(m[0] == 1.5 * 0.25 && m[1] == 0.375 * 0.375 && m[2] == 0, "prob mean %g %g", m[0], m[1]);
    mw_mwanda_opts pooled = {false, 1.0, 0, MW_PROB_MEAN}; /* mu = sqrt(20/8) */
    CHECK(mw_mwanda_factor(&st, &pooled, m, NULL) == MW_OK, "pooled");
    CHECK(m[0] == sqrt(20.0 / 8.0) + 0.5, "pooled value %.17g", m[0]);

    /* random statistics, 1..5 languages: M-Wanda off gives Wanda's masks */
    for (int L = 1; L <= 5; L++) {
        const int64_t R = 31, C = 96;
        double *s2 = malloc((size_t)L * C * sizeof *s2), *t = malloc((size_t)L * sizeof *t);
        for (int64_t i = 0; i < L * C; i++)
            s2[i] = unif() * 100;
        for (int l = 0; l < L; l++)
            t[l] = 10 + (double)(rnd() % 1000);
        mw_lang_stats rs = {L, C, s2, NULL, t};
        double *cw = malloc(C * sizeof *cw), *cm = malloc(C * sizeof *cm);
        CHECK(mw_wanda_factor(&rs, cw, NULL) == MW_OK &&
                  mw_mwanda_factor(&rs, &off, cm, NULL) == MW_OK,
              "random factors");
        float *a = malloc(R * C * 4), *b = malloc(R * C * 4);
        fill_weights(a, R * C, 1000);
        memcpy(b, a, R * C * 4);
        mw_prune_rows(a, R, C, cw, 0.5, NULL, NULL);
        mw_prune_rows(b, R, C, cm, 0.5, NULL, NULL);
        CHECK(memcmp(a, b, R * C * 4) == 0, "L=%d: M-Wanda off masks differ from Wanda's", L);
        free(s2);
        free(t);
        free(cw);
        free(cm);
        free(a);
        free(b);
    }

    mw_err err = {0};
    double z[2] = {0, 4};
    mw_lang_stats notext = {2, 3, sum2, pos, z};
    CHECK(mw_mwanda_factor(&st, &bal, m, &err) == MW_OK, "ok");
    CHECK(mw_mwanda_factor(&notext, &bal, m, &err) == MW_ERR_ARG, "language with no tokens");
    CHECK(strstr(err.msg, "language 0 has no tokens") != NULL, "message: %s", err.msg);
    CHECK(mw_wanda_factor(&notext, m, NULL) == MW_OK, "Wanda needs no token counts");
    mw_lang_stats nopos = {2, 3, sum2, NULL, tok};
    CHECK(mw_mwanda_factor(&nopos, &pr, m, NULL) == MW_ERR_ARG, "gamma without counts");
    CHECK(mw_mwanda_factor(&nopos, &bal, m, NULL) == MW_OK, "no counts needed without gamma");
    double bigpos[6] = {1, 2, 0, 5, 1, 0};
    mw_lang_stats badpos = {2, 3, sum2, bigpos, tok};
    CHECK(mw_mwanda_factor(&badpos, &pr, m, NULL) == MW_ERR_ARG, "pos > T");
    double nan2[6] = {4, NAN, 0, 16, 1, 0}, neg2[6] = {4, 9, -1, 16, 1, 0};
    mw_lang_stats nanst = {2, 3, nan2, pos, tok}, negst = {2, 3, neg2, pos, tok};
    CHECK(mw_wanda_factor(&nanst, m, NULL) == MW_ERR_ARG, "NaN sum2");
    CHECK(mw_wanda_factor(&negst, m, NULL) == MW_ERR_ARG, "negative sum2");
    double huge[6] = {1e308, 1e308, 0, 1e308, 1, 0};
    mw_lang_stats hugest = {2, 3, huge, pos, tok};
    CHECK(mw_wanda_factor(&hugest, m, &err) == MW_ERR_ARG, "overflowing sum: %s", err.msg);
    mw_mwanda_opts neg = {true, -1, 0, MW_PROB_MEAN}, nang = {true, 0, NAN, MW_PROB_MEAN};
    CHECK(mw_mwanda_factor(&st, &neg, m, NULL) == MW_ERR_ARG, "negative lambda");
    CHECK(mw_mwanda_factor(&st, &nang, m, NULL) == MW_ERR_ARG, "NaN gamma");
    mw_lang_stats nolang = {0, 3, sum2, pos, tok};
    CHECK(mw_wanda_factor(&nolang, m, NULL) == MW_ERR_ARG, "no language");
}

static void test_owl(void) {
    /* one layer of 8 weights: scores 1,1,1,1,1,1,1,33 -> mean 5, 2x mean 10 */
    float w1[4] = {1, -1, 1, 1};
    float w2[4] = {1, 1, -1, 33};
    mw_owl o;
    mw_owl_init(&o);
    mw_err err = {0};
    CHECK(mw_owl_set_threshold(&o, 2, &err) == MW_ERR_ARG, "threshold before any weight");
    CHECK(mw_owl_add_above(&o, w1, 2, 2, NULL, &err) == MW_ERR_ARG, "second pass first");
    CHECK(mw_owl_add_sum(&o, w1, 2, 2, NULL, NULL) == MW_OK, "sum 1");
    CHECK(mw_owl_add_sum(&o, w2, 1, 4, NULL, NULL) == MW_OK, "sum 2");
    CHECK(o.sum == 40 && o.count == 8, "sum %g count %lld", o.sum, (long long)o.count);
    CHECK(mw_owl_set_threshold(&o, 0, &err) == MW_ERR_ARG, "M = 0");
    CHECK(mw_owl_set_threshold(&o, 2, NULL) == MW_OK && o.threshold == 10, "threshold");
    double d;
    CHECK(mw_owl_add_above(&o, w1, 2, 2, NULL, NULL) == MW_OK, "above 1");
    CHECK(mw_owl_share(&o, &d, &err) == MW_ERR_ARG, "share after half the second pass");
    CHECK(mw_owl_add_above(&o, w2, 1, 4, NULL, NULL) == MW_OK, "above 2");
    CHECK(mw_owl_share(&o, &d, NULL) == MW_OK && d == 1.0 / 8, "share %g", d);
    /* with factors; a score equal to the threshold is not above it */
    double c[2] = {0.5, 2};
    float w3[4] = {8, 1, 2, 0.5f}; /* scores 4, 2, 1, 1: mean 2 */
    mw_owl_init(&o);
    mw_owl_add_sum(&o, w3, 2, 2, c, NULL);
    mw_owl_set_threshold(&o, 1.5, NULL);
    mw_owl_add_above(&o, w3, 2, 2, c, NULL);
    CHECK(mw_owl_share(&o, &d, NULL) == MW_OK && d == 0.25, "share with factors %g", d);
    mw_owl_init(&o);
    mw_owl_add_sum(&o, w3, 2, 2, c, NULL);
    mw_owl_set_threshold(&o, 1.0, NULL); /* threshold 2: the score 2 is not above */
    mw_owl_add_above(&o, w3, 2, 2, c, NULL);
    CHECK(o.threshold == 2 && mw_owl_share(&o, &d, NULL) == MW_OK && d == 0.25,
          "equal is not above: %g", d);
    float bad[4] = {1, NAN, 1, 1};
    CHECK(mw_owl_add_sum(&o, bad, 2, 2, NULL, &err) == MW_ERR_ARG, "NaN weight");
    CHECK(strcmp(err.msg, "holds non-finite values at row 0 column 1") == 0, "message %s", err.msg);
}

static void test_cwl(void) {
    /* language 1 = 2 x language 0 in RMS: correlation 1 */
    double s2a[8] = {1, 4, 9, 16, 16, 64, 144, 256}, tok[2] = {1, 4};
    double s2b[4] = {1, 0, 4, 0};
    mw_lang_stats in[2] = {{2, 4, s2a, NULL, tok}, {2, 2, s2b, NULL, tok}};
    double r;
    mw_err err = {0};
    CHECK(mw_cwl_correlation(in, 1, &r, &err) == MW_OK && fabs(r - 1) < 1e-15, "r = %.17g", r);
    /* concatenated: a0 = 1 2 3 4 1 0, a1 = 2 4 6 8 1 0 */
    CHECK(mw_cwl_correlation(in, 2, &r, &err) == MW_OK, "two inputs: %s", err.msg);
    double x[6] = {1, 2, 3, 4, 1, 0}, y[6] = {2, 4, 6, 8, 1, 0}, mx = 11.0 / 6, my = 21.0 / 6;
    double sxy = 0, sxx = 0, syy = 0;
    for (int i = 0; i < 6; i++) {
        sxy += (x[i] - mx) * (y[i] - my);
        sxx += (x[i] - mx) * (x[i] - mx);
        syy += (y[i] - my) * (y[i] - my);
    }
    CHECK(fabs(r - sxy / sqrt(sxx * syy)) < 1e-14, "r %.17g want %.17g", r, sxy / sqrt(sxx * syy));
    /* three languages: mean of the three pairs; the third anti-correlated */
    double s3[9] = {1, 4, 9, 1, 4, 9, 9, 4, 1}, t3[3] = {1, 1, 1};
    mw_lang_stats three = {3, 3, s3, NULL, t3};
    CHECK(mw_cwl_correlation(&three, 1, &r, NULL) == MW_OK && fabs(r - (1 - 1 - 1) / 3.0) < 1e-15,
          "three languages r = %.17g", r);
    mw_lang_stats one = {1, 4, s2a, NULL, tok};
    CHECK(mw_cwl_correlation(&one, 1, &r, &err) == MW_ERR_ARG, "one language");
    CHECK(strstr(err.msg, "at least two") != NULL, "message %s", err.msg);
    double flat[4] = {4, 4, 1, 2};
    mw_lang_stats cst = {2, 2, flat, NULL, tok};
    CHECK(mw_cwl_correlation(&cst, 1, &r, &err) == MW_ERR_ARG, "constant activations");
    double ztok[2] = {1, 0};
    mw_lang_stats zt = {2, 4, s2a, NULL, ztok};
    CHECK(mw_cwl_correlation(&zt, 1, &r, &err) == MW_ERR_ARG, "no tokens");
    mw_lang_stats mixed[2] = {{2, 4, s2a, NULL, tok}, {3, 3, s3, NULL, t3}};
    CHECK(mw_cwl_correlation(mixed, 2, &r, &err) == MW_ERR_ARG, "language counts differ");
    double rr[3] = {0.25, 1, -0.5}, imp[3];
    mw_cwl_importance(MW_CWL_ONE_MINUS_R, rr, 3, imp);
    CHECK(imp[0] == 0.75 && imp[1] == 0 && imp[2] == 1.5, "1 - r");
    mw_cwl_importance(MW_CWL_R, rr, 3, imp);
    CHECK(imp[0] == 0.25 && imp[1] == 1 && imp[2] == -0.5, "r");
}

static void test_allocation(void) {
    for (int trial = 0; trial < 200; trial++) {
        int n = 1 + (int)(rnd() % 40);
        double imp[40], sb[40], s = unif() * 0.6 + 0.2, lam = unif() * 0.1;
        for (int b = 0; b < n; b++)
            imp[b] = trial % 5 == 0 ? 0.3 : unif() * 3 - 1;
        int clamped = -1;
        CHECK(mw_allocate_sparsity(imp, n, s, lam, sb, &clamped, NULL) == MW_OK, "allocate");
        double sum = 0;
        for (int b = 0; b < n; b++)
            sum += sb[b];
        CHECK(clamped == 0 && fabs(sum / n - s) < 1e-14, "mean %.17g, s %.17g", sum / n, s);
        for (int b = 0; b < n; b++)
            for (int e = 0; e < n; e++)
                if (imp[b] > imp[e]) CHECK(sb[b] <= sb[e], "more important, more sparse");
        if (trial % 5 == 0)
            for (int b = 0; b < n; b++)
                CHECK(sb[b] == s, "equal importance, not the target");
        double lo = 1, hi = 0;
        for (int b = 0; b < n; b++) {
            lo = sb[b] < lo ? sb[b] : lo;
            hi = sb[b] > hi ? sb[b] : hi;
        }
        if (n > 1 && trial % 5) CHECK(fabs(hi - lo - 2 * lam) < 1e-14, "spread %g", hi - lo);
    }
    double imp[4] = {0, 1, 2, 3}, sb[4];
    int clamped;
    CHECK(mw_allocate_sparsity(imp, 4, 0.85, 0.3, sb, &clamped, NULL) == MW_OK && clamped == 1 &&
              sb[0] == nextafter(1.0, 0),
          "clamp high: %d %.17g", clamped, sb[0]);
    CHECK(mw_allocate_sparsity(imp, 4, 0.05, 0.3, sb, &clamped, NULL) == MW_OK && clamped == 2 &&
              sb[3] == 0 && sb[2] == 0,
          "clamp low: %d", clamped);
    double nanimp[2] = {0, NAN};
    CHECK(mw_allocate_sparsity(nanimp, 2, 0.5, 0.1, sb, NULL, NULL) == MW_ERR_ARG, "NaN imp");
    CHECK(mw_allocate_sparsity(imp, 4, 1.0, 0.1, sb, NULL, NULL) == MW_ERR_ARG, "s = 1");
    CHECK(mw_allocate_sparsity(imp, 4, 0.5, -0.1, sb, NULL, NULL) == MW_ERR_ARG, "Lambda < 0");
    CHECK(mw_allocate_sparsity(imp, 0, 0.5, 0.1, sb, NULL, NULL) == MW_ERR_ARG, "no blocks");
}

static void test_pattern(void) {
    mw_pattern p;
    char buf[32];
    CHECK(mw_pattern_parse("unstructured", &p, NULL) == MW_OK && p.n == 0 && p.m == 0, "unstr");
    CHECK(mw_pattern_parse("2:4", &p, NULL) == MW_OK && p.n == 2 && p.m == 4, "2:4");
    CHECK(mw_pattern_parse("4:8", &p, NULL) == MW_OK && p.n == 4 && p.m == 8, "4:8");
    CHECK(mw_pattern_parse("1:4096", &p, NULL) == MW_OK && p.m == 4096, "1:4096");
    mw_pattern_format(p, buf, sizeof buf);
    CHECK(strcmp(buf, "1:4096") == 0 && mw_pattern_sparsity(p) == 1.0 / 4096, "format");
    mw_pattern_format((mw_pattern){0, 0}, buf, sizeof buf);
    CHECK(strcmp(buf, "unstructured") == 0, "format unstructured");
    const char *bad[] = {"",     "2:",   ":4",   "4:4",    "5:4",           "0:4",          "2:4x",
                         " 2:4", "-2:4", "2:-4", "2:4097", "2:99999999999", "Unstructured", "2/4",
                         "2:4:8"};
    mw_err err = {0};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        CHECK(mw_pattern_parse(bad[i], &p, &err) == MW_ERR_ARG, "accepted '%s'", bad[i]);
    CHECK(strchr(err.msg, '\n') == NULL && err.msg[0], "message: %s", err.msg);
}

int main(void) {
    test_select();
    test_rows();
    test_nm();
    test_global();
    test_threads();
    test_bad_masks();
    test_factors();
    test_owl();
    test_cwl();
    test_allocation();
    test_pattern();
    if (g_failures) {
        printf("%d g_failures\n", g_failures);
        return 1;
    }
    printf("OK\n");
    return 0;
}
