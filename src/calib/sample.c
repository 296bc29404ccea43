/* Calibration windows: seeded choice among a text's windows, or the chunks
 * llama-imatrix takes; the set of windows of every language. */
#include "calib/calib.h"

#include "core/err.h"

#include <stdlib.h>
#include <string.h>

uint64_t mw_splitmix64(uint64_t *state) {
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static int cmp_i64(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* Indices of k of the n windows (k <= n), sorted: the first k places of a
 * Fisher-Yates shuffle, so a larger k extends a smaller one's choice. */
static int64_t *choose(int64_t n, int64_t k, uint64_t seed) {
    int64_t *idx = malloc((size_t)n * sizeof *idx);
    if (!idx) return NULL;
    for (int64_t i = 0; i < n; i++)
        idx[i] = i;
    uint64_t state = seed;
    for (int64_t i = 0; i < k; i++) {
        /* the modulo bias is below 2^-40 for any window count we can hold */
        int64_t j = i + (int64_t)(mw_splitmix64(&state) % (uint64_t)(n - i));
        int64_t t = idx[i];
        idx[i] = idx[j];
        idx[j] = t;
    }
    qsort(idx, (size_t)k, sizeof *idx, cmp_i64);
    return idx;
}

enum mw_status mw_calib_sample(const int32_t *tokens, int64_t n, int32_t bos,
                               const mw_sample_opts *o, int32_t **out, int64_t *n_win,
                               mw_err *err) {
    *out = NULL;
    *n_win = 0;
    int64_t T = o->ctx;
    if (T < 2) return mw_fail(err, MW_ERR_ARG, "the window must hold at least 2 tokens");
    if (o->samples == 0 || o->samples < -1)
        return mw_fail(err, MW_ERR_ARG, "the number of windows must be at least 1");
    /* plain windows hold BOS and T-1 text tokens; llama.cpp's chunks are
     * cut from the sequence that already starts with BOS */
    int64_t lead = !o->llamacpp && bos >= 0 ? 1 : 0, per = T - lead;
    int64_t avail = n / per;
    if (avail < 1)
        return mw_fail(err, MW_ERR_ARG, "%lld tokens are fewer than one window of %lld",
                       (long long)n, (long long)T);
    int64_t k = o->samples < 0 || o->samples > avail ? avail : o->samples;
    int32_t *w = malloc((size_t)k * (size_t)T * sizeof *w);
    int64_t *idx = o->llamacpp ? NULL : choose(avail, k, o->seed);
    if (!w || (!o->llamacpp && !idx)) {
        free(w);
        free(idx);
        return mw_fail(err, MW_ERR_NOMEM, "out of memory for %lld windows", (long long)k);
    }
    for (int64_t i = 0; i < k; i++) {
        int64_t src = (idx ? idx[i] : i) * per;
        int32_t *dst = w + i * T;
        if (lead) dst[0] = bos;
        memcpy(dst + lead, tokens + src, (size_t)per * sizeof *dst);
        if (o->llamacpp && bos >= 0) dst[0] = bos;
    }
    free(idx);
    *out = w;
    *n_win = k;
    return MW_OK;
}

enum mw_status mw_calib_set_create(mw_calib_set *set, int64_t T, mw_err *err) {
    memset(set, 0, sizeof *set);
    if (T < 2) return mw_fail(err, MW_ERR_ARG, "the window must hold at least 2 tokens");
    set->T = T;
    return MW_OK;
}

void mw_calib_set_free(mw_calib_set *set) {
    if (!set) return;
    for (int i = 0; i < set->n_lang; i++)
        free(set->langs[i]);
    free(set->langs);
    free(set->tokens);
    free(set->lang);
    memset(set, 0, sizeof *set);
}

/* The index of lang, inserted in sorted place if new. */
static enum mw_status lang_index(mw_calib_set *set, const char *lang, int *out, mw_err *err) {
    int at = 0;
    while (at < set->n_lang && strcmp(set->langs[at], lang) < 0)
        at++;
    if (at < set->n_lang && strcmp(set->langs[at], lang) == 0) {
        *out = at;
        return MW_OK;
    }
    char **p = realloc(set->langs, (size_t)(set->n_lang + 1) * sizeof *p);
    if (p) set->langs = p;
    char *copy = p ? strdup(lang) : NULL;
    if (!copy) return mw_fail(err, MW_ERR_NOMEM, "out of memory for language %s", lang);
    memmove(p + at + 1, p + at, (size_t)(set->n_lang - at) * sizeof *p);
    p[at] = copy;
    set->n_lang++;
    for (int64_t i = 0; i < set->n_win; i++)
        if (set->lang[i] >= at) set->lang[i]++;
    *out = at;
    return MW_OK;
}

enum mw_status mw_calib_set_add(mw_calib_set *set, const char *lang, const int32_t *tokens,
                                int64_t n_win, mw_err *err) {
    if (n_win < 0 || n_win > (INT64_MAX / 4) / set->T - set->n_win)
        return mw_fail(err, MW_ERR_ARG, "too many windows (%lld)", (long long)n_win);
    int64_t total = set->n_win + n_win;
    int32_t *t = realloc(set->tokens, (size_t)(total * set->T) * sizeof *t + 1);
    if (t) set->tokens = t;
    int32_t *l = t ? realloc(set->lang, (size_t)total * sizeof *l + 1) : NULL;
    if (l) set->lang = l;
    int idx = 0;
    if (!t || !l)
        return mw_fail(err, MW_ERR_NOMEM, "out of memory for %lld windows", (long long)total);
    enum mw_status s = lang_index(set, lang, &idx, err);
    if (s) return s;
    memcpy(set->tokens + set->n_win * set->T, tokens, (size_t)(n_win * set->T) * sizeof *t);
    for (int64_t i = set->n_win; i < total; i++)
        set->lang[i] = idx;
    set->n_win = total;
    return MW_OK;
}

enum mw_status mw_calib_set_merge(mw_calib_set *dst, const mw_calib_set *src, mw_err *err) {
    if (src->T != dst->T)
        return mw_fail(err, MW_ERR_ARG, "cannot join windows of %lld and %lld tokens",
                       (long long)dst->T, (long long)src->T);
    /* consecutive windows of one language go in one call */
    for (int64_t i = 0; i < src->n_win;) {
        int64_t j = i + 1;
        while (j < src->n_win && src->lang[j] == src->lang[i])
            j++;
        enum mw_status s =
            mw_calib_set_add(dst, src->langs[src->lang[i]], src->tokens + i * src->T, j - i, err);
        if (s) return s;
        i = j;
    }
    return MW_OK;
}

enum mw_status mw_calib_set_add_text(mw_calib_set *set, const mw_tokenizer *tok, const char *lang,
                                     const char *text, size_t len, const mw_sample_opts *o,
                                     mw_err *err) {
    mw_tokens ids = {0};
    int32_t *w = NULL;
    int64_t n_win = 0;
    int32_t bos = mw_tokenizer_adds_bos(tok) ? mw_tokenizer_bos(tok) : -1;
    /* llama-imatrix tokenizes with the model's specials; plain windows put
     * BOS in front of each window themselves */
    unsigned flags = o->llamacpp ? MW_TOK_ADD_SPECIAL : 0;
    enum mw_status s = mw_tokenize(tok, text, len, flags, &ids, err);
    if (!s && o->ctx != set->T)
        s = mw_fail(err, MW_ERR_ARG, "windows of %lld tokens for a set of %lld", (long long)o->ctx,
                    (long long)set->T);
    if (!s) s = mw_calib_sample(ids.ids, (int64_t)ids.n, bos, o, &w, &n_win, err);
    if (!s) s = mw_calib_set_add(set, lang, w, n_win, err);
    if (s) mw_fail_context(err, s, "%s", lang);
    free(w);
    mw_tokens_free(&ids);
    return s;
}
