/* The block-by-block calibration runner: every window's activations go
 * through one block at a time, so that a hook can change a block's weights
 * between its statistics and its outputs (sequential pruning). The
 * activations live in the activation store: all in RAM by default, partly
 * in a file under a memory budget, wholly in the state folder's file when
 * the run is resumable. */
#include "calib/actstore.h"
#include "calib/calib.h"
#include "calib/resume.h"

#include "calib/mpi.h"
#include "calib/share.h"

#include "core/err.h"
#include "core/mapfile.h"
#include "model/convert.h"
#include "model/head.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Windows run through a block together, as in src/eval/windows.c. */
#define GROUP_TOKENS 8192

/* What the observer needs to know about the rows it is shown. */
struct observer_ctx {
    mw_share *share;
    int64_t block, first; /* the block, and the group's first window (in the whole set) */
};

static void observe(void *user, int64_t block, enum mw_linear lin, const float *x, int64_t n_tokens,
                    int64_t n_in) {
    struct observer_ctx *c = user;
    /* layers that share an input are reported one by one; count it once */
    if (lin == MW_LIN_K || lin == MW_LIN_V || lin == MW_LIN_UP || block != c->block) return;
    /* window by window, in an order that does not depend on the processes */
    mw_share_add(c->share, block, mw_linear_input(lin), c->first, x, n_tokens, n_in);
}

/* The statistics to fill: new ones, or the caller's if they fit. */
static enum mw_status prepare_stats(const mw_model *m, const mw_calib_set *set, mw_stats *st,
                                    mw_err *err) {
    if (!st->in) {
        enum mw_status s =
            mw_stats_create_for(st, m, set->n_lang, (const char *const *)set->langs, err);
        if (s) return s;
        st->ctx = set->T;
    } else {
        enum mw_status s = mw_stats_check_model(st, m, err);
        if (s) return s;
        if (st->n_lang != set->n_lang)
            return mw_fail(err, MW_ERR_ARG, "statistics of %d languages for windows of %d",
                           st->n_lang, set->n_lang);
        for (int l = 0; l < st->n_lang; l++)
            if (strcmp(st->langs[l], set->langs[l]) != 0)
                return mw_fail(err, MW_ERR_ARG, "statistics of language %s for windows of %s",
                               st->langs[l], set->langs[l]);
        if (st->ctx && st->ctx != set->T)
            return mw_fail(err, MW_ERR_ARG, "statistics of %lld-token windows for windows of %lld",
                           (long long)st->ctx, (long long)set->T);
        st->ctx = set->T;
    }
    for (int64_t i = 0; i < set->n_win; i++)
        st->windows[set->lang[i]]++;
    return MW_OK;
}

void mw_calib_release_block(const mw_model *m, int64_t block) {
    for (int64_t i = 0; i < mw_model_n_tensors(m); i++) {
        const mw_tensor *t = mw_model_tensor_at(m, i);
        int64_t b = mw_convert_block_of(t->name);
        if (b == block || (block < 0 && b < 0)) mw_map_release(t->data, (size_t)t->n_bytes);
    }
}

struct run {
    const mw_model *m;
    const mw_calib_set *set; /* this process's windows (share.mine) */
    mw_share share;
    const mw_run_ctl *ctl;
    mw_actstore *store;
    float *buf; /* [per_group][T][n_embd]: a group read from the file, or a copy to observe */
    int64_t per_group, n_groups, E, T;
    int slot, n_slots; /* the slot holding the current block's inputs */
    mw_block_scratch scratch;
    mw_state *state; /* resumable runs */
    int pass;
    int64_t done, total;
};

static void tick(struct run *r, int64_t block, const char *what) {
    r->done++;
    char msg[48];
    snprintf(msg, sizeof msg, "block %lld %s", (long long)block, what);
    if (r->ctl->progress) r->ctl->progress(r->ctl->puser, msg, r->done, r->total);
}

static enum mw_status stopped(const struct run *r, mw_err *err) {
    if (r->ctl->cancel && r->ctl->cancel(r->ctl->cuser))
        return mw_fail(err, MW_ERR_INTERRUPTED, "interrupted");
    return MW_OK;
}

static int64_t group_size(const struct run *r, int64_t g) {
    int64_t left = r->set->n_win - g * r->per_group;
    return left < r->per_group ? left : r->per_group;
}

static size_t group_bytes(const struct run *r, int64_t n) {
    return (size_t)(n * r->T * r->E) * sizeof(float);
}

/* The inputs of group g, where the block may run over them: in place when
 * they are in RAM and may be overwritten, else in the buffer. */
static enum mw_status load_group(struct run *r, int64_t g, bool in_place, float **x, mw_err *err) {
    int64_t first = g * r->per_group, n = group_size(r, g);
    float *ram = mw_actstore_ram(r->store, r->slot, first, n);
    if (ram && in_place) {
        *x = ram;
        return MW_OK;
    }
    *x = r->buf;
    if (ram) {
        memcpy(r->buf, ram, group_bytes(r, n));
        return MW_OK;
    }
    return mw_actstore_read(r->store, r->slot, first, n, r->buf, err);
}

/* Runs every group through the block. Observed: statistics into st. Keep:
 * the inputs must survive (a hook's statistics pass). Outputs: they are the
 * next block's inputs (in place with one slot, into the other slot with
 * two); without, they are dropped. */
static enum mw_status pass(struct run *r, const mw_block *b, mw_stats *st, bool observed, bool keep,
                           bool outputs, mw_err *err) {
    struct observer_ctx ctx = {&r->share, b->index, 0};
    (void)st;
    mw_observer obs = {observe, &ctx};
    int out_slot = r->n_slots == 2 ? 1 - r->slot : r->slot;
    for (int64_t g = 0; g < r->n_groups; g++) {
        enum mw_status s = stopped(r, err);
        int64_t n = group_size(r, g);
        float *x;
        if (!s) s = load_group(r, g, !keep && r->n_slots == 1, &x, err);
        if (s) return s;
        ctx.first = r->share.first + g * r->per_group;
        mw_block_forward(r->m, b, x, n, r->T, &r->scratch, observed ? &obs : NULL);
        if (outputs && x == r->buf &&
            (s = mw_actstore_write(r->store, out_slot, g * r->per_group, n, x, err)))
            return s;
        tick(r, b->index, observed ? "statistics" : "outputs");
    }
    return MW_OK;
}

static enum mw_status embed(struct run *r, mw_err *err) {
    for (int64_t g = 0; g < r->n_groups; g++) {
        int64_t first = g * r->per_group, n = group_size(r, g);
        float *ram = mw_actstore_ram(r->store, r->slot, first, n);
        float *x = ram ? ram : r->buf;
        enum mw_status s = stopped(r, err);
        if (!s) s = mw_embed(r->m, r->set->tokens + first * r->T, n * r->T, x, err);
        if (!s && !ram) s = mw_actstore_write(r->store, r->slot, first, n, x, err);
        if (s) return s;
    }
    mw_calib_release_block(r->m, -1); /* the embedding rows read */
    return MW_OK;
}

/* Activations that overflowed make statistics nobody can use; say where. */
static enum mw_status check_finite(const mw_stats *st, int64_t block, mw_err *err) {
    for (int i = 0; i < MW_IN_COUNT; i++) {
        const mw_input_stats *s = &st->in[block * MW_IN_COUNT + i];
        double acc = 0;
        for (int64_t j = 0; j < st->n_lang * s->n_in; j++)
            acc += s->sum2[j] + s->sum[j];
        if (!isfinite(acc))
            return mw_fail(err, MW_ERR_ARG, "non-finite activations at the %s input of block %lld",
                           mw_input_name(i), (long long)block);
    }
    return MW_OK;
}

/* After block b: its outputs synced, its statistics saved, then the
 * manifest, which from now on names the other slot. Under mpirun rank 0
 * writes the manifest once every rank's outputs are synced, and no rank
 * goes on to overwrite the slot it leaves before the manifest is written. */
static enum mw_status checkpoint(struct run *r, int64_t b, const mw_stats *st, mw_err *err) {
    enum mw_status s = mw_actstore_sync(r->store, err);
    s = mw_mpi_agree(s, b, err);
    if (!s) s = mw_state_save_stats(r->state, r->pass, b, st, err);
    if (!s) s = mw_state_commit(r->state, r->pass, b + 1, r->slot, err);
    s = mw_mpi_agree(s, b, err);
    if (!s && r->ctl->saved) r->ctl->saved(r->ctl->cuser, r->pass, b);
    return s;
}

static enum mw_status run_blocks(struct run *r, int64_t start, mw_block_hook hook, void *user,
                                 mw_stats *st, mw_err *err) {
    int64_t n_layer = mw_model_hparams(r->m)->n_layer;
    enum mw_status s = MW_OK;
    for (int64_t bi = start; bi < n_layer && !s; bi++) {
        bool last = bi + 1 == n_layer;
        mw_block b = {0};
        s = stopped(r, err);
        if (!s) s = mw_block_load(r->m, bi, &b, err);
        if (!s) {
            mw_calib_release_block(r->m, bi);
            /* without a hook the statistics are observed while computing the
             * outputs; with one the inputs must survive for a second pass */
            s = pass(r, &b, st, true, hook != NULL, !hook && !last, err);
        }
        /* all processes' windows in the totals, or all processes stop */
        s = mw_share_end_block(&r->share, bi, s, err);
        if (!s) s = check_finite(st, bi, err);
        if (!s && hook) s = mw_mpi_agree(hook(user, bi, &b, st, err), bi, err);
        if (!s && hook && !last) s = pass(r, &b, st, false, false, true, err);
        mw_block_free(&b);
        if (!s && !last && r->n_slots == 2) r->slot = 1 - r->slot;
        if (!s && r->state) s = checkpoint(r, bi, st, err);
    }
    return s;
}

static const char *fmt_bytes(uint64_t n, char *buf, size_t size) {
    static const char *const UNIT[] = {"bytes", "kB", "MB", "GB", "TB"};
    double v = (double)n;
    int u = 0;
    while (v >= 1000 && u < 4) {
        v /= 1000;
        u++;
    }
    snprintf(buf, size, u ? "%.3g %s" : "%.0f %s", v, UNIT[u]);
    return buf;
}

/* Windows kept in RAM under the budget, and whether a group buffer is
 * needed. */
static enum mw_status plan_memory(struct run *r, bool hook, mw_actstore_opts *so, bool *need_buf,
                                  mw_err *err) {
    uint64_t win = (uint64_t)r->T * (uint64_t)r->E * sizeof(float);
    uint64_t group = win * (uint64_t)r->per_group, all = win * (uint64_t)r->set->n_win;
    uint64_t mem = r->ctl->mem;
    if (all / win != (uint64_t)r->set->n_win || all > SIZE_MAX)
        return mw_fail(err, MW_ERR_NOMEM, "out of memory for the activations of %lld windows",
                       (long long)r->set->n_win);
    *so = (mw_actstore_opts){.n_items = r->set->n_win,
                             .item_floats = r->T * r->E,
                             .n_slots = 1,
                             .ram_items = r->set->n_win,
                             .dir = r->ctl->spill_dir};
    *need_buf = hook;
    bool spill = r->state || (mem && all + (hook ? group : 0) > mem);
    if (!spill) return MW_OK;
    if (mem && mem < group) {
        char a[32], b[32];
        return mw_fail(err, MW_ERR_ARG,
                       "a memory budget of %s is below the %s that one group of %lld windows needs",
                       fmt_bytes(mem, a, sizeof a), fmt_bytes(group, b, sizeof b),
                       (long long)r->per_group);
    }
    *need_buf = true;
    if (r->state) {
        /* every window in the state's file, read one slot, write the other */
        so->n_slots = 2;
        so->ram_items = 0;
        so->path = mw_state_act_path(r->state);
    } else {
        /* whole groups, so that a group is either in RAM or in the file */
        so->ram_items = (int64_t)((mem - group) / win) / r->per_group * r->per_group;
    }
    return MW_OK;
}

/* Blocks the state says are done in this pass (their statistics restored),
 * and the slot holding the next one's inputs. */
static enum mw_status restore(struct run *r, mw_stats *st, int64_t *start, mw_err *err) {
    int64_t n_layer = mw_model_hparams(r->m)->n_layer;
    *start = 0;
    if (!r->state || mw_state_pass(r->state) < r->pass) return MW_OK;
    *start = mw_state_pass(r->state) > r->pass ? n_layer : mw_state_blocks_done(r->state);
    if (*start > n_layer)
        return mw_fail(err, MW_ERR_FORMAT, "the state says %lld blocks are done, of %lld",
                       (long long)*start, (long long)n_layer);
    r->slot = mw_state_slot(r->state);
    for (int64_t b = 0; b < *start; b++) {
        enum mw_status s = mw_state_load_stats(r->state, r->pass, b, st, err);
        if (s) return s;
    }
    return MW_OK;
}

enum mw_status mw_calib_run_ctl(const mw_model *m, const mw_calib_set *set, mw_block_hook hook,
                                void *user, mw_stats *st, const mw_run_ctl *ctl,
                                struct mw_state *state, int pass_no, mw_err *err) {
    const mw_hparams *hp = mw_model_hparams(m);
    static const mw_run_ctl none = {0};
    if (!ctl) ctl = &none;
    if (set->n_win < 1 || set->n_lang < 1)
        return mw_fail(err, MW_ERR_ARG, "no calibration windows");
    struct run r = {
        .m = m, .ctl = ctl, .E = hp->n_embd, .T = set->T, .state = state, .pass = pass_no};
    enum mw_status s = prepare_stats(m, set, st, err);
    if (s || (s = mw_share_init(&r.share, set, st, err))) return s;
    r.set = &r.share.mine; /* all windows without MPI */
    r.per_group = GROUP_TOKENS / r.T > 0 ? GROUP_TOKENS / r.T : 1;
    if (r.per_group > r.set->n_win) r.per_group = r.set->n_win > 0 ? r.set->n_win : 1;
    r.n_groups = (r.set->n_win + r.per_group - 1) / r.per_group;
    int64_t start = 0;
    s = restore(&r, st, &start, err);
    if (s || start == hp->n_layer) {
        mw_share_free(&r.share);
        return s;
    }
    int64_t left = hp->n_layer - start;
    r.total = left * r.n_groups * (hook ? 2 : 1) - (hook ? r.n_groups : 0);

    mw_actstore_opts so;
    bool need_buf = false;
    if ((s = plan_memory(&r, hook != NULL, &so, &need_buf, err))) {
        mw_share_free(&r.share);
        return s;
    }
    /* under mpirun, rank 0 may just have emptied a state folder that held
     * no saved block (mw_state_open): the other ranks make their files after */
    if (state && mw_mpi_size() > 1 && (s = mw_mpi_agree(MW_OK, MW_MPI_OUTSIDE_BLOCKS, err))) {
        mw_share_free(&r.share);
        return s;
    }
    /* a pass starting afresh makes its own activation file */
    if (so.path && start == 0) unlink(so.path);
    r.n_slots = so.n_slots;
    if ((s = mw_actstore_open(&so, &r.store, err))) goto done;
    if (need_buf) {
        size_t bytes = group_bytes(&r, r.per_group);
        r.buf = aligned_alloc(64, (bytes + 63) / 64 * 64);
        if (!r.buf) {
            s = mw_fail(err, MW_ERR_NOMEM, "out of memory for a group of %lld windows",
                        (long long)r.per_group);
            goto done;
        }
    }
    if ((s = mw_block_scratch_init(&r.scratch, hp, r.per_group, r.T, err))) goto done;
    if (start == 0) s = embed(&r, err);
    if (!s) s = run_blocks(&r, start, hook, user, st, err);
    mw_block_scratch_free(&r.scratch);
done:
    free(r.buf);
    mw_actstore_close(r.store);
    mw_share_free(&r.share);
    return s;
}

enum mw_status mw_calib_run(const mw_model *m, const mw_calib_set *set, mw_block_hook hook,
                            void *user, mw_stats *st, mw_progress_fn progress, void *puser,
                            mw_err *err) {
    mw_run_ctl ctl = {.progress = progress, .puser = puser};
    return mw_calib_run_ctl(m, set, hook, user, st, &ctl, NULL, 0, err);
}
