/* SentencePiece BPE keeps scores, tokenizer.json's BPE keeps ranked merges: converting
 * between the two. Both directions use a hash map from token text to id, so the cost
 * grows with the total length of the tokens, not with the square of their number. */
#include "core/err.h"
#include "core/strmap.h"
#include "io/hf_tokenizer.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct merge_entry {
    float score;
    int32_t len_l, len_r; /* in code points, as Python counts them */
    int64_t piece, left, right;
} merge_entry;

static int cmp_entry(const void *pa, const void *pb) {
    const merge_entry *a = pa, *b = pb;
    if (a->score != b->score) return a->score > b->score ? -1 : 1;
    if (a->len_l != b->len_l) return a->len_l > b->len_l ? -1 : 1;
    if (a->len_r != b->len_r) return a->len_r > b->len_r ? -1 : 1;
    if (a->piece != b->piece) return a->piece < b->piece ? -1 : 1;
    if (a->left != b->left) return a->left < b->left ? -1 : 1;
    return a->right < b->right ? -1 : a->right > b->right;
}

static int32_t code_points(const char *s, size_t n) {
    int32_t c = 0;
    for (size_t i = 0; i < n; i++)
        c += ((unsigned char)s[i] & 0xc0) != 0x80;
    return c;
}

/* Token text -> id; a text that appears twice cannot be told apart in tokenizer.json. */
static enum mw_status index_texts(char *const *texts, int64_t n, mw_strmap *map, mw_err *err) {
    if (!mw_strmap_init(map, (uint64_t)n)) return mw_fail(err, MW_ERR_NOMEM, "out of memory");
    for (int64_t i = 0; i < n; i++) {
        if (mw_strmap_put(map, texts[i], i)) continue;
        int64_t first = mw_strmap_get(map, texts[i]);
        mw_strmap_free(map);
        return mw_fail(err, MW_ERR_UNSUPPORTED, "tokens %lld and %lld are both '%.60s'",
                       (long long)first, (long long)i, texts[i]);
    }
    return MW_OK;
}

/* The score SentencePiece had: llama.cpp's converter sets -1000 on the tokens
 * tokenizer_config.json lists, which SentencePiece scores 0. */
static float rank_score(const mw_vocab *v, int64_t i) {
    int t = v->type[i];
    if (t == MW_TOK_CONTROL || t == MW_TOK_USER_DEFINED || t == MW_TOK_UNKNOWN) return 0.0f;
    float s = v->score ? v->score[i] : 0.0f;
    return isnan(s) ? -INFINITY : s;
}

static bool push(merge_entry **a, int64_t *n, int64_t *cap, merge_entry e) {
    if (*n == *cap) {
        int64_t c = *cap ? 2 * *cap : 1024;
        merge_entry *p = realloc(*a, (size_t)c * sizeof *p);
        if (!p) return false;
        *a = p;
        *cap = c;
    }
    (*a)[(*n)++] = e;
    return true;
}

/* Every split of token i into two tokens. */
static bool splits_of(const mw_vocab *v, char *const *texts, const mw_strmap *map, int64_t i,
                      char *tmp, merge_entry **a, int64_t *n, int64_t *cap) {
    const char *t = texts[i];
    size_t len = strlen(t);
    for (size_t k = 1; k < len; k++) {
        if (((unsigned char)t[k] & 0xc0) == 0x80) continue; /* inside a character */
        memcpy(tmp, t, k);
        tmp[k] = 0;
        int64_t l = mw_strmap_get(map, tmp), r = l >= 0 ? mw_strmap_get(map, t + k) : -1;
        if (r < 0) continue;
        merge_entry e = {rank_score(v, i), code_points(t, k), code_points(t + k, len - k), i, l, r};
        if (!push(a, n, cap, e)) return false;
    }
    return true;
}

enum mw_status mw_spm_merges(const mw_vocab *v, char *const *texts, int64_t **pairs,
                             int64_t *n_pairs, mw_err *err) {
    mw_strmap map;
    merge_entry *a = NULL;
    int64_t n = 0, cap = 0;
    char *tmp = malloc(MW_TOK_MAX_BYTES * 3 + 1);
    *pairs = NULL;
    *n_pairs = 0;
    enum mw_status s =
        tmp ? index_texts(texts, v->n, &map, err) : mw_fail(err, MW_ERR_NOMEM, "out of memory");
    if (s) goto fail;
    for (int64_t i = 0; i < v->n && !s; i++)
        if (!splits_of(v, texts, &map, i, tmp, &a, &n, &cap))
            s = mw_fail(err, MW_ERR_NOMEM, "out of memory");
    mw_strmap_free(&map);
    if (s) goto fail;
    if (n) qsort(a, (size_t)n, sizeof *a, cmp_entry);
    *pairs = malloc((size_t)(n ? 2 * n : 1) * sizeof **pairs);
    if (!*pairs) {
        s = mw_fail(err, MW_ERR_NOMEM, "out of memory");
        goto fail;
    }
    for (int64_t i = 0; i < n; i++) {
        (*pairs)[2 * i] = a[i].left;
        (*pairs)[2 * i + 1] = a[i].right;
    }
    *n_pairs = n;
fail:
    free(a);
    free(tmp);
    return s;
}

/* Scores that make llama.cpp's SentencePiece tokenizer (highest score merges first) follow
 * the BPE merge order: a token made by the merge of rank r scores -(r + 1) (its first such
 * merge). Normal tokens no merge makes (single characters) score below every merge;
 * control, user-defined and unused tokens score -1000 as in llama.cpp's converters; byte
 * and unknown tokens 0, as SentencePiece scores them. */
enum mw_status mw_spm_scores_from_merges(mw_vocab *v, char *const *texts, char *const *left,
                                         char *const *right, int64_t n_merges, mw_err *err) {
    mw_strmap map;
    char *tmp = malloc(2 * MW_TOK_MAX_BYTES + 1);
    bool *set = calloc((size_t)v->n, 1);
    enum mw_status s = tmp && set ? index_texts(texts, v->n, &map, err)
                                  : mw_fail(err, MW_ERR_NOMEM, "out of memory");
    if (s) goto fail;
    for (int64_t r = 0; r < n_merges; r++) {
        size_t nl = strlen(left[r]), nr = strlen(right[r]);
        if (nl > MW_TOK_MAX_BYTES || nr > MW_TOK_MAX_BYTES) continue;
        memcpy(tmp, left[r], nl);
        memcpy(tmp + nl, right[r], nr + 1);
        int64_t id = mw_strmap_get(&map, tmp);
        if (id < 0 || set[id]) continue;
        v->score[id] = -(float)(r + 1);
        set[id] = true;
    }
    mw_strmap_free(&map);
    for (int64_t i = 0; i < v->n; i++) {
        int t = v->type[i];
        if (t == MW_TOK_CONTROL || t == MW_TOK_USER_DEFINED || t == MW_TOK_UNUSED)
            v->score[i] = -1000.0f;
        else if (t == MW_TOK_BYTE || t == MW_TOK_UNKNOWN)
            v->score[i] = 0.0f;
        else if (!set[i])
            v->score[i] = -(float)(n_merges + 1);
    }
fail:
    free(tmp);
    free(set);
    return s;
}
