/* The activation store (RAM, spilled to a file, two slots, a kept file) and
 * the state folder of resumable runs (manifest checks, statistics and masks
 * saved and restored, damaged files refused). */
#include "st_testutil.h"

#include "calib/actstore.h"
#include "calib/resume.h"
#include "core/err.h"

#include <math.h>

enum { ITEMS = 10, FLOATS = 1000 };

/* The value of float j of window i in slot s, distinct everywhere. */
static float value(int s, int64_t i, int64_t j) {
    return (float)(s * 1000000 + i * 1000 + j);
}

static void fill(int s, int64_t first, int64_t n, float *buf) {
    for (int64_t i = 0; i < n; i++)
        for (int64_t j = 0; j < FLOATS; j++)
            buf[i * FLOATS + j] = value(s, first + i, j);
}

static bool holds(int s, int64_t first, int64_t n, const float *buf) {
    for (int64_t i = 0; i < n; i++)
        for (int64_t j = 0; j < FLOATS; j++)
            if (buf[i * FLOATS + j] != value(s, first + i, j)) return false;
    return true;
}

/* Writes every window of every slot in uneven pieces, then reads them back
 * in other pieces, across the RAM/file border. */
static void round_trip(mw_actstore *st, int n_slots) {
    mw_err err = {{0}};
    float *buf = malloc(ITEMS * FLOATS * sizeof *buf);
    static const int64_t write_at[] = {0, 3, 4, 9, ITEMS}, read_at[] = {0, 2, 5, 6, ITEMS};
    for (int s = 0; s < n_slots; s++)
        for (int k = 0; k < 4; k++) {
            int64_t first = write_at[k], n = write_at[k + 1] - first;
            fill(s, first, n, buf);
            CHECK_OK(mw_actstore_write(st, s, first, n, buf, &err), err);
        }
    for (int s = 0; s < n_slots; s++)
        for (int k = 0; k < 4; k++) {
            int64_t first = read_at[k], n = read_at[k + 1] - first;
            memset(buf, 0, (size_t)n * FLOATS * sizeof *buf);
            CHECK_OK(mw_actstore_read(st, s, first, n, buf, &err), err);
            CHECK(holds(s, first, n, buf));
        }
    free(buf);
}

static void test_ram(void) {
    mw_err err = {{0}};
    mw_actstore_opts o = {
        .n_items = ITEMS, .item_floats = FLOATS, .n_slots = 1, .ram_items = ITEMS};
    mw_actstore *st;
    CHECK_OK(mw_actstore_open(&o, &st, &err), err);
    round_trip(st, 1);
    CHECK(mw_actstore_file_bytes(st) == 0 && mw_actstore_ram_bytes(st) == ITEMS * FLOATS * 4);
    float *p = mw_actstore_ram(st, 0, 2, 3);
    CHECK(p && holds(0, 2, 3, p));
    /* out of range: no pointer, an error for copies */
    CHECK(!mw_actstore_ram(st, 0, 8, 3) && !mw_actstore_ram(st, 1, 0, 1));
    float one[FLOATS];
    CHECK_ERR(mw_actstore_read(st, 0, 10, 1, one, &err), MW_ERR_ARG, err, "windows");
    CHECK_ERR(mw_actstore_write(st, 1, 0, 1, one, &err), MW_ERR_ARG, err, "slot 1");
    CHECK_ERR(mw_actstore_read(st, 0, -1, 1, one, &err), MW_ERR_ARG, err, NULL);
    mw_actstore_close(st);
}

static void test_spill(void) {
    mw_err err = {{0}};
    CHECK(mkdir(at("spill"), 0700) == 0);
    for (int slots = 1; slots <= 2; slots++) {
        mw_actstore_opts o = {.n_items = ITEMS,
                              .item_floats = FLOATS,
                              .n_slots = slots,
                              .ram_items = 4,
                              .dir = at("spill")};
        mw_actstore *st;
        CHECK_OK(mw_actstore_open(&o, &st, &err), err);
        /* the temporary file is gone from the folder from the start */
        CHECK(count_entries(at("spill"), "") == 0);
        round_trip(st, slots);
        CHECK(mw_actstore_ram_bytes(st) == (uint64_t)slots * 4 * FLOATS * 4);
        CHECK(mw_actstore_file_bytes(st) == (uint64_t)slots * 6 * FLOATS * 4);
        CHECK(mw_actstore_ram(st, 0, 0, 4) && !mw_actstore_ram(st, 0, 3, 2));
        CHECK_OK(mw_actstore_sync(st, &err), err);
        mw_actstore_close(st);
    }
    /* nothing in RAM at all */
    mw_actstore_opts o = {
        .n_items = ITEMS, .item_floats = FLOATS, .n_slots = 1, .dir = at("spill")};
    mw_actstore *st;
    CHECK_OK(mw_actstore_open(&o, &st, &err), err);
    round_trip(st, 1);
    CHECK(!mw_actstore_ram(st, 0, 0, 1));
    mw_actstore_close(st);
    o.dir = at("no-such-folder");
    CHECK_ERR(mw_actstore_open(&o, &st, &err), MW_ERR_IO, err, "activation file");
    /* an empty store (a process of an MPI run without windows) is fine */
    o = (mw_actstore_opts){.n_items = 0, .item_floats = FLOATS, .n_slots = 1};
    CHECK(mw_actstore_open(&o, &st, &err) == MW_OK);
    mw_actstore_close(st);
    o = (mw_actstore_opts){.n_items = -1, .item_floats = FLOATS, .n_slots = 1};
    CHECK_ERR(mw_actstore_open(&o, &st, &err), MW_ERR_ARG, err, NULL);
    o = (mw_actstore_opts){
        .n_items = INT64_MAX / 2, .item_floats = FLOATS, .n_slots = 2, .dir = at("spill")};
    CHECK_ERR(mw_actstore_open(&o, &st, &err), MW_ERR_ARG, err, "overflows");
}

static void test_kept_file(void) {
    mw_err err = {{0}};
    mw_actstore_opts o = {
        .n_items = ITEMS, .item_floats = FLOATS, .n_slots = 2, .path = at("act.bin")};
    mw_actstore *st;
    CHECK_OK(mw_actstore_open(&o, &st, &err), err);
    round_trip(st, 2);
    CHECK_OK(mw_actstore_sync(st, &err), err);
    mw_actstore_close(st);
    CHECK(exists(at("act.bin")));
    /* reopened: the same windows */
    CHECK_OK(mw_actstore_open(&o, &st, &err), err);
    float *buf = malloc(ITEMS * FLOATS * sizeof *buf);
    for (int s = 0; s < 2; s++) {
        CHECK_OK(mw_actstore_read(st, s, 0, ITEMS, buf, &err), err);
        CHECK(holds(s, 0, ITEMS, buf));
    }
    free(buf);
    mw_actstore_close(st);
    /* a file of another size is refused, a shorter one too */
    o.n_items = ITEMS + 1;
    CHECK_ERR(mw_actstore_open(&o, &st, &err), MW_ERR_FORMAT, err, "holds");
    o.n_items = ITEMS;
    CHECK(truncate(at("act.bin"), 100) == 0);
    CHECK_ERR(mw_actstore_open(&o, &st, &err), MW_ERR_FORMAT, err, "holds");
}

/* ---- the state folder ---- */

static json_t *options(const char *sparsity) {
    return json_pack("{s:s, s:s}", "method", "wanda", "sparsity", sparsity);
}

static void make_block(mw_block *b, int64_t index, float *mem) {
    memset(b, 0, sizeof *b);
    b->index = index;
    for (int l = 0; l < MW_LIN_COUNT; l++) {
        b->rows[l] = 3 + l;
        b->cols[l] = 5;
        b->w[l] = mem + l * 100;
        for (int64_t i = 0; i < b->rows[l] * b->cols[l]; i++)
            b->w[l][i] = (float)(i % 7) - 3.0f; /* zeros among them */
    }
    b->w[MW_LIN_UP][1] = -0.0f;
}

static void test_state(void) {
    mw_err err = {{0}};
    mw_state *s;
    json_t *o5 = options("0.5"), *o6 = options("0.6");
    const char *dir = at("out.gguf.mwanda-state");
    CHECK_OK(mw_state_open(dir, "prune", o5, 42, &s, &err), err);
    CHECK(s && mw_state_pass(s) == 0 && mw_state_blocks_done(s) == 0);
    CHECK(strstr(mw_state_act_path(s), "out.gguf.mwanda-state/activations.bin") != NULL);

    /* statistics of one block, restored bit for bit */
    const char *langs[] = {"de", "fr"};
    int64_t n_in[2 * MW_IN_COUNT] = {4, 3, 6, 4, 4, 3, 6, 4};
    mw_stats a = {0}, b = {0};
    CHECK_OK(mw_stats_create(&a, 2, langs, 2, n_in, &err), err);
    CHECK_OK(mw_stats_create(&b, 2, langs, 2, n_in, &err), err);
    for (int i = 0; i < MW_IN_COUNT; i++) {
        mw_input_stats *in = &a.in[MW_IN_COUNT + i];
        for (int64_t j = 0; j < 2 * in->n_in; j++) {
            in->sum2[j] = 1.0 / (double)(j + 3);
            in->sum[j] = -0.1 * (double)j;
            in->pos[j] = (double)j;
        }
        in->tokens[0] = 17;
        in->tokens[1] = 19;
    }
    CHECK_OK(mw_state_save_stats(s, 1, 1, &a, &err), err);
    CHECK_OK(mw_state_load_stats(s, 1, 1, &b, &err), err);
    CHECK(mw_hash_stats(MW_HASH_INIT, &a) == mw_hash_stats(MW_HASH_INIT, &b));
    CHECK_ERR(mw_state_load_stats(s, 0, 1, &b, &err), MW_ERR_IO, err, "stats-0-1.bin");

    /* masks: the pruned block again from the dense one */
    float dense_mem[800], pruned_mem[800];
    mw_block dense, pruned;
    make_block(&pruned, 1, pruned_mem);
    for (int l = 0; l < MW_LIN_COUNT; l++)
        for (int64_t i = 0; i < pruned.rows[l] * pruned.cols[l]; i += 3)
            pruned.w[l][i] = 0.0f;
    CHECK_OK(mw_state_save_mask(s, &pruned, &err), err);
    make_block(&dense, 1, dense_mem);
    CHECK_OK(mw_state_apply_mask(s, &dense, &err), err);
    for (int l = 0; l < MW_LIN_COUNT; l++)
        CHECK(memcmp(dense.w[l], pruned.w[l], (size_t)(dense.rows[l] * dense.cols[l]) * 4) == 0);
    make_block(&dense, 2, dense_mem);
    CHECK_ERR(mw_state_apply_mask(s, &dense, &err), MW_ERR_IO, err, "mask-2.bin");

    CHECK_OK(mw_state_commit(s, 1, 2, 1, &err), err);
    mw_state_close(s);

    /* reopened: where it stopped */
    CHECK_OK(mw_state_open(dir, "prune", o5, 42, &s, &err), err);
    CHECK(s && mw_state_pass(s) == 1 && mw_state_blocks_done(s) == 2 && mw_state_slot(s) == 1);
    mw_state_close(s);
    /* other options, inputs or command: refused, saying what differs */
    CHECK_ERR(mw_state_open(dir, "prune", o6, 42, &s, &err), MW_ERR_ARG, err,
              "sparsity: 0.5 there, 0.6 here");
    CHECK_ERR(mw_state_open(dir, "prune", o5, 43, &s, &err), MW_ERR_ARG, err, "other inputs");
    CHECK_ERR(mw_state_open(dir, "calibrate", o5, 42, &s, &err), MW_ERR_ARG, err, "mwanda prune");

    /* damaged files */
    char path[4096];
    snprintf(path, sizeof path, "%s/stats-1-1.bin", dir);
    CHECK(truncate(path, 24) == 0);
    CHECK_OK(mw_state_open(dir, "prune", o5, 42, &s, &err), err);
    CHECK_ERR(mw_state_load_stats(s, 1, 1, &b, &err), MW_ERR_FORMAT, err, "damaged");
    mw_state_close(s);
    snprintf(path, sizeof path, "%s/manifest.json", dir);
    put_file(path, "{\"mwanda_state\": 1, \"command\": \"prune\"", 38);
    CHECK_ERR(mw_state_open(dir, "prune", o5, 42, &s, &err), MW_ERR_FORMAT, err, "manifest.json");
    put_file(path, "{\"mwanda_state\": 2}", 19);
    CHECK_ERR(mw_state_open(dir, "prune", o5, 42, &s, &err), MW_ERR_FORMAT, err, "not a state");

    /* no manifest: nothing was saved, a fresh start */
    unlink(path);
    CHECK_OK(mw_state_open(dir, "prune", o6, 7, &s, &err), err);
    CHECK(s && mw_state_pass(s) == 0 && mw_state_blocks_done(s) == 0);
    CHECK(count_entries(dir, "") == 0);
    CHECK_OK(mw_state_commit(s, 0, 1, 0, &err), err);
    mw_state_remove(s);
    mw_state_close(s);
    CHECK(!exists(dir));

    /* a file where the folder should be */
    put_file(at("file-state"), "x", 1);
    CHECK_ERR(mw_state_open(at("file-state"), "prune", o5, 42, &s, &err), MW_ERR_IO, err, NULL);

    mw_stats_free(&a);
    mw_stats_free(&b);
    json_decref(o5);
    json_decref(o6);
}

static void test_hash(void) {
    uint64_t a = mw_hash_str(MW_HASH_INIT, "ab"), b = mw_hash_str(MW_HASH_INIT, "ba");
    CHECK(a != b && a == mw_hash_str(MW_HASH_INIT, "ab"));
    /* FNV-1a 64 of "a", as published */
    CHECK(mw_hash_bytes(MW_HASH_INIT, "a", 1) == 0xaf63dc4c8601ec8cull);
}

int main(void) {
    make_root();
    test_ram();
    test_spill();
    test_kept_file();
    test_state();
    test_hash();
    rm_rf(g_root);
    if (g_failures) {
        fprintf(stderr, "%d check(s) failed\n", g_failures);
        return 1;
    }
    printf("test_actstore: all checks passed\n");
    return 0;
}
