#include "eval/blocks.h"

#include <stdio.h>

void mw_eval_tick(mw_eval_progress *p, const char *what) {
    p->done++;
    if (p->fn) p->fn(p->user, what, p->done, p->total);
}

enum mw_status mw_eval_blocks(const mw_model *m, float *x, int64_t n_win, int64_t T,
                              const mw_packing *pk, mw_eval_progress *p, mw_err *err) {
    const mw_hparams *hp = mw_model_hparams(m);
    mw_block_scratch s;
    enum mw_status st = mw_block_scratch_init(&s, hp, n_win, T, err);
    for (int64_t b = 0; b < hp->n_layer && !st; b++) {
        mw_block blk;
        if ((st = mw_block_load(m, b, &blk, err))) break;
        mw_block_forward_packed(m, &blk, x, n_win, T, pk, &s, NULL);
        mw_block_free(&blk);
        char what[32];
        snprintf(what, sizeof what, "block %lld", (long long)b);
        mw_eval_tick(p, what);
    }
    mw_block_scratch_free(&s);
    return st;
}
