/* Statistics summed window by window in window order, on one process or
 * passed along the ranks of an MPI run (see share.h). */
#include "calib/share.h"

#include "calib/mpi.h"
#include "core/err.h"

#include <stdlib.h>
#include <string.h>

static const mw_input_stats *block_in(const mw_stats *st, int64_t block, int in) {
    return &st->in[block * MW_IN_COUNT + in];
}

/* Doubles of one window's sums in a block: [3][n_in] per input. */
static int64_t window_width(const mw_stats *st, int64_t block) {
    int64_t w = 0;
    for (int in = 0; in < MW_IN_COUNT; in++)
        w += 3 * block_in(st, block, in)->n_in;
    return w;
}

/* Doubles of a block's totals in a message: [n_lang][n_in] sum2, sum, pos
 * and [n_lang] tokens per input. */
static int64_t message_len(const mw_stats *st, int64_t block) {
    int64_t n = 0;
    for (int in = 0; in < MW_IN_COUNT; in++)
        n += (int64_t)st->n_lang * (3 * block_in(st, block, in)->n_in + 1);
    return n;
}

static void pack(const mw_stats *st, int64_t block, double *buf, bool unpack) {
    for (int in = 0; in < MW_IN_COUNT; in++) {
        const mw_input_stats *s = block_in(st, block, in);
        size_t k = (size_t)st->n_lang * (size_t)s->n_in;
        double *parts[4] = {s->sum2, s->sum, s->pos, s->tokens};
        size_t lens[4] = {k, k, k, (size_t)st->n_lang};
        for (int p = 0; p < 4; p++) {
            if (unpack)
                memcpy(parts[p], buf, lens[p] * sizeof(double));
            else
                memcpy(buf, parts[p], lens[p] * sizeof(double));
            buf += lens[p];
        }
    }
}

enum mw_status mw_share_init(mw_share *sh, const mw_calib_set *set, mw_stats *st, mw_err *err) {
    memset(sh, 0, sizeof *sh);
    sh->set = set;
    sh->st = st;
    sh->rank = mw_mpi_rank();
    sh->size = mw_mpi_size();
    int64_t n = set->n_win, r = sh->rank, N = sh->size;
    sh->first = n * r / N;
    sh->mine = *set;
    sh->mine.n_win = n * (r + 1) / N - sh->first;
    sh->mine.tokens = set->tokens + sh->first * set->T;
    sh->mine.lang = set->lang + sh->first;
    int64_t max_in = 1;
    for (int64_t b = 0; b < st->n_layer; b++) {
        int64_t w = window_width(st, b), m = message_len(st, b);
        sh->width = w > sh->width ? w : sh->width;
        sh->msg_len = m > sh->msg_len ? m : sh->msg_len;
        for (int in = 0; in < MW_IN_COUNT; in++)
            if (block_in(st, b, in)->n_in > max_in) max_in = block_in(st, b, in)->n_in;
    }
    bool ok = true;
    if (sh->rank == 0) {
        ok = (sh->one = malloc((size_t)(3 * max_in) * sizeof(double))) != NULL;
    } else if (sh->mine.n_win > 0) {
        uint64_t k = (uint64_t)sh->mine.n_win * (uint64_t)sh->width;
        ok = k <= SIZE_MAX / sizeof(double) && (sh->held = malloc(k * sizeof(double)));
    }
    if (ok && sh->size > 1) ok = (sh->msg = malloc((size_t)sh->msg_len * sizeof(double))) != NULL;
    if (!ok) {
        mw_share_free(sh);
        return mw_fail(err, MW_ERR_NOMEM, "out of memory for the statistics of %lld windows",
                       (long long)(n * (r + 1) / N - n * r / N));
    }
    return MW_OK;
}

void mw_share_free(mw_share *sh) {
    free(sh->held);
    free(sh->one);
    free(sh->msg);
    memset(sh, 0, sizeof *sh);
}

/* totals of language `lang` += one window's sums ([3][n_in]) */
static void fold(mw_input_stats *tot, int lang, const double *one, double rows) {
    int64_t n = tot->n_in;
    double *sum2 = tot->sum2 + lang * n, *sum = tot->sum + lang * n, *pos = tot->pos + lang * n;
    for (int64_t j = 0; j < n; j++) {
        sum2[j] += one[j];
        sum[j] += one[n + j];
        pos[j] += one[2 * n + j];
    }
    tot->tokens[lang] += rows;
}

/* Where a held window's sums of one input are. */
static double *held_at(const mw_share *sh, int64_t block, int64_t window, enum mw_input in) {
    double *p = sh->held + (window - sh->first) * sh->width;
    for (int i = 0; i < (int)in; i++)
        p += 3 * block_in(sh->st, block, i)->n_in;
    return p;
}

void mw_share_add(mw_share *sh, int64_t block, enum mw_input in, int64_t first, const float *x,
                  int64_t n_rows, int64_t n_in) {
    mw_input_stats *tot = &sh->st->in[block * MW_IN_COUNT + in];
    int64_t T = sh->set->T;
    if (tot->n_in != n_in) return; /* checked before the run; never here */
    for (int64_t w = 0; w * T < n_rows; w++) {
        double *p = sh->rank == 0 ? sh->one : held_at(sh, block, first + w, in);
        double rows = 0;
        memset(p, 0, (size_t)(3 * n_in) * sizeof(double));
        mw_input_stats one = {n_in, p, p + n_in, p + 2 * n_in, &rows};
        mw_input_stats_add(&one, 0, x + w * T * n_in, T);
        if (sh->rank == 0) fold(tot, sh->set->lang[first + w], p, rows);
    }
}

enum mw_status mw_share_end_block(mw_share *sh, int64_t block, enum mw_status s, mw_err *err) {
    s = mw_mpi_agree(s, block, err);
    if (s || sh->size == 1) return s;
    mw_stats *st = sh->st;
    int64_t n = message_len(st, block), last = sh->size - 1;
    if (sh->rank > 0) {
        if ((s = mw_mpi_recv(sh->msg, n, sh->rank - 1, err))) return s;
        pack(st, block, sh->msg, true);
        for (int64_t w = sh->first; w < sh->first + sh->mine.n_win; w++)
            for (int in = 0; in < MW_IN_COUNT; in++)
                fold(&st->in[block * MW_IN_COUNT + in], sh->set->lang[w],
                     held_at(sh, block, w, (enum mw_input)in), (double)sh->set->T);
    }
    pack(st, block, sh->msg, false);
    if (sh->rank < last && (s = mw_mpi_send(sh->msg, n, sh->rank + 1, err))) return s;
    if ((s = mw_mpi_bcast(sh->msg, n, (int)last, err))) return s;
    if (sh->rank != last) pack(st, block, sh->msg, true);
    return MW_OK;
}
