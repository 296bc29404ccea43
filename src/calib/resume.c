/* The state folder of a resumable run (see resume.h for its files). */
#include "calib/resume.h"

#include "calib/mpi.h"
#include "core/err.h"
#include "core/outfile.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define STATE_VERSION 1
#define STATS_MAGIC   0x5453574du /* "MWST" */
#define MASK_MAGIC    0x4b4d574du /* "MWMK" */

struct mw_state {
    char *dir;
    char *act_path;
    char *command;
    json_t *options;
    uint64_t inputs;
    int pass;
    int64_t blocks_done;
    int slot;
    bool writer; /* writes the folder's shared files: rank 0 under mpirun */
};

/* ---- fingerprints -------------------------------------------------------- */

uint64_t mw_hash_bytes(uint64_t h, const void *p, size_t n) {
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++) {
        h ^= b[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

uint64_t mw_hash_str(uint64_t h, const char *s) {
    return mw_hash_bytes(h, s, strlen(s) + 1);
}

uint64_t mw_hash_model(uint64_t h, const mw_model *m) {
    const uint64_t SAMPLE = 4096;
    for (int64_t i = 0; i < mw_model_n_tensors(m); i++) {
        const mw_tensor *t = mw_model_tensor_at(m, i);
        h = mw_hash_str(h, t->name);
        uint32_t type = (uint32_t)t->type;
        h = mw_hash_bytes(h, &type, sizeof type);
        h = mw_hash_bytes(h, t->ne, sizeof t->ne);
        h = mw_hash_bytes(h, &t->n_bytes, sizeof t->n_bytes);
        if (!t->data) continue;
        const unsigned char *d = t->data;
        uint64_t n = t->n_bytes < SAMPLE ? t->n_bytes : SAMPLE;
        uint64_t at[3] = {0, (t->n_bytes - n) / 2, t->n_bytes - n};
        for (int k = 0; k < 3; k++)
            h = mw_hash_bytes(h, d + at[k], (size_t)n);
    }
    return h;
}

uint64_t mw_hash_calib_set(uint64_t h, const mw_calib_set *set) {
    for (int l = 0; l < set->n_lang; l++)
        h = mw_hash_str(h, set->langs[l]);
    h = mw_hash_bytes(h, &set->n_win, sizeof set->n_win);
    h = mw_hash_bytes(h, &set->T, sizeof set->T);
    h = mw_hash_bytes(h, set->tokens, (size_t)(set->n_win * set->T) * sizeof *set->tokens);
    return mw_hash_bytes(h, set->lang, (size_t)set->n_win * sizeof *set->lang);
}

uint64_t mw_hash_stats(uint64_t h, const mw_stats *st) {
    for (int l = 0; l < st->n_lang; l++)
        h = mw_hash_str(h, st->langs[l]);
    for (int64_t i = 0; i < st->n_layer * MW_IN_COUNT; i++) {
        const mw_input_stats *s = &st->in[i];
        size_t n = (size_t)(st->n_lang * s->n_in) * sizeof(double);
        h = mw_hash_bytes(h, s->sum2, n);
        h = mw_hash_bytes(h, s->sum, n);
        h = mw_hash_bytes(h, s->pos, n);
        h = mw_hash_bytes(h, s->tokens, (size_t)st->n_lang * sizeof(double));
    }
    return h;
}

/* ---- files of the folder ------------------------------------------------- */

static enum mw_status path_of(const mw_state *s, const char *name, char *buf, size_t size,
                              mw_err *err) {
    if ((size_t)snprintf(buf, size, "%s/%s", s->dir, name) >= size)
        return mw_fail(err, MW_ERR_ARG, "path too long: %s/%s", s->dir, name);
    return MW_OK;
}

/* A rename is durable once the folder itself is synced. */
static enum mw_status sync_dir(const mw_state *s, mw_err *err) {
    int fd = open(s->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0 || fsync(fd) != 0) {
        int e = errno;
        if (fd >= 0) close(fd);
        return mw_fail(err, MW_ERR_IO, "cannot sync %s: %s", s->dir, strerror(e));
    }
    close(fd);
    return MW_OK;
}

/* Writes name (temporary file, fsync, rename, folder sync). */
static enum mw_status write_file(mw_state *s, const char *name, const void *data, uint64_t n,
                                 mw_err *err) {
    char path[4096];
    enum mw_status st = path_of(s, name, path, sizeof path, err);
    if (st) return st;
    mw_outfile o;
    if ((st = mw_outfile_open(&o, path, MW_OUTFILE_STATE, err))) return st;
    if ((st = mw_outfile_write(&o, data, n, err))) {
        mw_outfile_abort(&o);
        return st;
    }
    if ((st = mw_outfile_commit(&o, err))) return st;
    return sync_dir(s, err);
}

/* Reads name whole; exactly `want` bytes unless want is 0 (then any size up
 * to 1 MiB, NUL-terminated). */
static enum mw_status read_file(const mw_state *s, const char *name, uint64_t want, void **out,
                                uint64_t *len, mw_err *err) {
    char path[4096];
    *out = NULL;
    enum mw_status st = path_of(s, name, path, sizeof path, err);
    if (st) return st;
    FILE *f = fopen(path, "rb");
    if (!f) return mw_fail(err, MW_ERR_IO, "cannot open %s: %s", path, strerror(errno));
    struct stat sb;
    uint64_t size = fstat(fileno(f), &sb) == 0 ? (uint64_t)sb.st_size : UINT64_MAX;
    if (want ? size != want : size > (1u << 20)) {
        fclose(f);
        return mw_fail(err, MW_ERR_FORMAT, "%s holds %llu bytes, not %llu: the state is damaged",
                       path, (unsigned long long)size,
                       (unsigned long long)(want ? want : 1u << 20));
    }
    char *buf = malloc((size_t)size + 1);
    if (!buf) {
        fclose(f);
        return mw_fail(err, MW_ERR_NOMEM, "out of memory");
    }
    bool ok = fread(buf, 1, (size_t)size, f) == size;
    fclose(f);
    if (!ok) {
        free(buf);
        return mw_fail(err, MW_ERR_IO, "cannot read %s", path);
    }
    buf[size] = 0;
    *out = buf;
    if (len) *len = size;
    return MW_OK;
}

/* Removes the files of the folder (all of them: only the state lives there). */
static void clear_dir(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *e;
    char path[4096];
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0 &&
            (size_t)snprintf(path, sizeof path, "%s/%s", dir, e->d_name) < sizeof path)
            unlink(path);
    closedir(d);
}

/* ---- manifest ------------------------------------------------------------ */

static enum mw_status write_manifest(mw_state *s, mw_err *err) {
    char inputs[17];
    snprintf(inputs, sizeof inputs, "%016llx", (unsigned long long)s->inputs);
    json_t *doc = json_pack("{s:i, s:s, s:O, s:s, s:i, s:I, s:i}", "mwanda_state", STATE_VERSION,
                            "command", s->command, "options", s->options, "inputs", inputs, "pass",
                            s->pass, "blocks_done", (json_int_t)s->blocks_done, "slot", s->slot);
    char *text = doc ? json_dumps(doc, JSON_INDENT(2) | JSON_SORT_KEYS) : NULL;
    json_decref(doc);
    if (!text) return mw_fail(err, MW_ERR_NOMEM, "out of memory");
    enum mw_status st = write_file(s, "manifest.json", text, strlen(text), err);
    free(text);
    return st;
}

/* The first option whose value differs, for the message. */
static void first_difference(const json_t *have, const json_t *want, char *buf, size_t size) {
    const char *key;
    const json_t *v;
    json_object_foreach((json_t *)want, key, v) {
        const char *a = json_string_value(json_object_get(have, key));
        const char *b = json_string_value(v);
        if (!a || !b || strcmp(a, b) != 0) {
            snprintf(buf, size, " (%s: %.60s there, %.60s here)", key, a ? a : "none",
                     b ? b : "none");
            return;
        }
    }
    json_object_foreach((json_t *)have, key, v) {
        if (!json_object_get(want, key)) {
            const char *a = json_string_value(v);
            snprintf(buf, size, " (%s: %.60s there, none here)", key, a ? a : "?");
            return;
        }
    }
    snprintf(buf, size, " (an option this run does not know)");
}

static enum mw_status check_manifest(mw_state *s, const json_t *doc, mw_err *err) {
    json_int_t version = 0, done = -1, pass = -1, slot = -1;
    const char *command = NULL, *inputs = NULL;
    json_t *options = NULL;
    if (json_unpack((json_t *)doc, "{s:I, s:s, s:o, s:s, s:I, s:I, s:I}", "mwanda_state", &version,
                    "command", &command, "options", &options, "inputs", &inputs, "pass", &pass,
                    "blocks_done", &done, "slot", &slot) != 0 ||
        version != STATE_VERSION || !json_is_object(options) || pass < 0 || pass > 64 || done < 0 ||
        done > (1 << 20) || (slot != 0 && slot != 1))
        return mw_fail(err, MW_ERR_FORMAT, "%s/manifest.json is not a state this version reads",
                       s->dir);
    if (strcmp(command, s->command) != 0)
        return mw_fail(err, MW_ERR_ARG,
                       "%s holds the state of an interrupted `mwanda %.20s`, not of `mwanda %s`; "
                       "remove it to start afresh",
                       s->dir, command, s->command);
    if (!json_equal(options, s->options)) {
        char diff[160];
        first_difference(options, s->options, diff, sizeof diff);
        return mw_fail(err, MW_ERR_ARG,
                       "%s holds the state of a run with other options%s: run it with the same "
                       "options, or remove the folder to start afresh",
                       s->dir, diff);
    }
    char want[17];
    snprintf(want, sizeof want, "%016llx", (unsigned long long)s->inputs);
    if (strcmp(inputs, want) != 0)
        return mw_fail(err, MW_ERR_ARG,
                       "%s holds the state of a run on other inputs (model or calibration text "
                       "changed): remove the folder to start afresh",
                       s->dir);
    s->pass = (int)pass;
    s->blocks_done = done;
    s->slot = (int)slot;
    return MW_OK;
}

static enum mw_status load_or_create(mw_state *s, mw_err *err) {
    if (mkdir(s->dir, 0777) != 0 && errno != EEXIST)
        return mw_fail(err, MW_ERR_IO, "cannot create %s: %s", s->dir, strerror(errno));
    struct stat sb;
    if (stat(s->dir, &sb) != 0 || !S_ISDIR(sb.st_mode))
        return mw_fail(err, MW_ERR_IO, "%s is not a folder", s->dir);
    char path[4096];
    enum mw_status st = path_of(s, "manifest.json", path, sizeof path, err);
    if (st) return st;
    if (access(path, F_OK) != 0) {
        /* nothing was saved: whatever is there is an unfinished start (the
         * writer clears it; the runner makes the other ranks wait for that
         * before they make their files) */
        if (s->writer) clear_dir(s->dir);
        return MW_OK;
    }
    char *text;
    if ((st = read_file(s, "manifest.json", 0, (void **)&text, NULL, err))) return st;
    json_error_t je;
    json_t *doc = json_loads(text, 0, &je);
    free(text);
    if (!doc)
        return mw_fail(err, MW_ERR_FORMAT, "%s/manifest.json: %s (line %d)", s->dir, je.text,
                       je.line);
    st = check_manifest(s, doc, err);
    json_decref(doc);
    return st;
}

enum mw_status mw_state_open(const char *dir, const char *command, const json_t *options,
                             uint64_t inputs, mw_state **out, mw_err *err) {
    *out = NULL;
    mw_state *s = calloc(1, sizeof *s);
    if (!s) return mw_fail(err, MW_ERR_NOMEM, "out of memory");
    /* under mpirun each rank keeps its windows' activations in a file of its
     * own, so the state holds the number of processes: another is refused */
    int procs = mw_mpi_size();
    char act[64], n_procs[16];
    if (procs > 1)
        snprintf(act, sizeof act, "activations-rank-%d.bin", mw_mpi_rank());
    else
        snprintf(act, sizeof act, "activations.bin");
    snprintf(n_procs, sizeof n_procs, "%d", procs);
    s->writer = mw_mpi_writer();
    s->dir = strdup(dir);
    s->command = strdup(command);
    s->act_path = malloc(strlen(dir) + strlen(act) + 2);
    s->options = json_deep_copy(options);
    s->inputs = inputs;
    enum mw_status st;
    if (!s->dir || !s->command || !s->act_path || !s->options ||
        (procs > 1 && json_object_set_new(s->options, "processes", json_string(n_procs)) != 0)) {
        st = mw_fail(err, MW_ERR_NOMEM, "out of memory");
        goto fail;
    }
    sprintf(s->act_path, "%s/%s", dir, act);
    if ((st = load_or_create(s, err))) goto fail;
    *out = s;
    return MW_OK;
fail:
    mw_state_close(s);
    return st;
}

void mw_state_close(mw_state *s) {
    if (!s) return;
    free(s->dir);
    free(s->act_path);
    free(s->command);
    json_decref(s->options);
    free(s);
}

void mw_state_remove(mw_state *s) {
    if (!s || !s->writer) return;
    clear_dir(s->dir);
    rmdir(s->dir);
}

int mw_state_pass(const mw_state *s) {
    return s->pass;
}

int64_t mw_state_blocks_done(const mw_state *s) {
    return s->blocks_done;
}

int mw_state_slot(const mw_state *s) {
    return s->slot;
}

const char *mw_state_act_path(const mw_state *s) {
    return s->act_path;
}

enum mw_status mw_state_commit(mw_state *s, int pass, int64_t blocks_done, int slot, mw_err *err) {
    int old_pass = s->pass, old_slot = s->slot;
    int64_t old_done = s->blocks_done;
    s->pass = pass;
    s->blocks_done = blocks_done;
    s->slot = slot;
    if (!s->writer) return MW_OK;
    enum mw_status st = write_manifest(s, err);
    if (st) {
        s->pass = old_pass;
        s->blocks_done = old_done;
        s->slot = old_slot;
    }
    return st;
}

/* ---- statistics of a block ----------------------------------------------- */

static uint64_t stats_doubles(const mw_stats *st, int64_t block) {
    uint64_t n = 0;
    for (int i = 0; i < MW_IN_COUNT; i++)
        n += (uint64_t)st->n_lang * (3 * (uint64_t)st->in[block * MW_IN_COUNT + i].n_in + 1);
    return n;
}

enum mw_status mw_state_save_stats(mw_state *s, int pass, int64_t block, const mw_stats *st,
                                   mw_err *err) {
    if (!s->writer) return MW_OK; /* every rank has the same totals */
    uint64_t n = stats_doubles(st, block);
    double *buf = malloc((size_t)(n + 2) * sizeof *buf);
    if (!buf) return mw_fail(err, MW_ERR_NOMEM, "out of memory");
    uint32_t head[4] = {STATS_MAGIC, (uint32_t)pass, (uint32_t)block, (uint32_t)st->n_lang};
    memcpy(buf, head, sizeof head);
    double *p = buf + 2;
    for (int i = 0; i < MW_IN_COUNT; i++) {
        const mw_input_stats *in = &st->in[block * MW_IN_COUNT + i];
        size_t k = (size_t)(st->n_lang * in->n_in);
        memcpy(p, in->sum2, k * sizeof *p);
        memcpy(p + k, in->sum, k * sizeof *p);
        memcpy(p + 2 * k, in->pos, k * sizeof *p);
        memcpy(p + 3 * k, in->tokens, (size_t)st->n_lang * sizeof *p);
        p += 3 * k + (size_t)st->n_lang;
    }
    char name[64];
    snprintf(name, sizeof name, "stats-%d-%lld.bin", pass, (long long)block);
    enum mw_status r = write_file(s, name, buf, (n + 2) * sizeof *buf, err);
    free(buf);
    return r;
}

enum mw_status mw_state_load_stats(mw_state *s, int pass, int64_t block, mw_stats *st,
                                   mw_err *err) {
    uint64_t n = stats_doubles(st, block);
    char name[64];
    snprintf(name, sizeof name, "stats-%d-%lld.bin", pass, (long long)block);
    double *buf;
    enum mw_status r = read_file(s, name, (n + 2) * sizeof *buf, (void **)&buf, NULL, err);
    if (r) return r;
    uint32_t head[4],
        want[4] = {STATS_MAGIC, (uint32_t)pass, (uint32_t)block, (uint32_t)st->n_lang};
    memcpy(head, buf, sizeof head);
    bool ok = memcmp(head, want, sizeof head) == 0;
    for (uint64_t i = 0; ok && i < n; i++)
        ok = isfinite(buf[2 + i]);
    const double *p = buf + 2;
    for (int i = 0; ok && i < MW_IN_COUNT; i++) {
        mw_input_stats *in = &st->in[block * MW_IN_COUNT + i];
        size_t k = (size_t)(st->n_lang * in->n_in);
        memcpy(in->sum2, p, k * sizeof *p);
        memcpy(in->sum, p + k, k * sizeof *p);
        memcpy(in->pos, p + 2 * k, k * sizeof *p);
        memcpy(in->tokens, p + 3 * k, (size_t)st->n_lang * sizeof *p);
        p += 3 * k + (size_t)st->n_lang;
    }
    free(buf);
    if (!ok)
        return mw_fail(err, MW_ERR_FORMAT, "%s/%s is damaged: remove the folder to start afresh",
                       s->dir, name);
    return MW_OK;
}

/* ---- masks of a pruned block --------------------------------------------- */

static uint64_t mask_bytes(const mw_block *b) {
    uint64_t n = 8; /* magic, block */
    for (int l = 0; l < MW_LIN_COUNT; l++)
        n += ((uint64_t)(b->rows[l] * b->cols[l]) + 7) / 8;
    return n;
}

enum mw_status mw_state_save_mask(mw_state *s, const mw_block *b, mw_err *err) {
    if (!s->writer) return MW_OK; /* every rank prunes alike */
    uint64_t n = mask_bytes(b);
    unsigned char *buf = calloc((size_t)n, 1);
    if (!buf) return mw_fail(err, MW_ERR_NOMEM, "out of memory");
    uint32_t head[2] = {MASK_MAGIC, (uint32_t)b->index};
    memcpy(buf, head, sizeof head);
    unsigned char *p = buf + 8;
    for (int l = 0; l < MW_LIN_COUNT; l++) {
        int64_t k = b->rows[l] * b->cols[l];
        for (int64_t i = 0; i < k; i++)
            if (b->w[l][i] == 0) p[i >> 3] |= (unsigned char)(1u << (i & 7));
        p += (k + 7) / 8;
    }
    char name[64];
    snprintf(name, sizeof name, "mask-%lld.bin", (long long)b->index);
    enum mw_status r = write_file(s, name, buf, n, err);
    free(buf);
    return r;
}

enum mw_status mw_state_apply_mask(mw_state *s, mw_block *b, mw_err *err) {
    uint64_t n = mask_bytes(b);
    char name[64];
    snprintf(name, sizeof name, "mask-%lld.bin", (long long)b->index);
    unsigned char *buf;
    enum mw_status r = read_file(s, name, n, (void **)&buf, NULL, err);
    if (r) return r;
    uint32_t head[2], want[2] = {MASK_MAGIC, (uint32_t)b->index};
    memcpy(head, buf, sizeof head);
    if (memcmp(head, want, sizeof head) != 0) {
        free(buf);
        return mw_fail(err, MW_ERR_FORMAT, "%s/%s is damaged: remove the folder to start afresh",
                       s->dir, name);
    }
    const unsigned char *p = buf + 8;
    for (int l = 0; l < MW_LIN_COUNT; l++) {
        int64_t k = b->rows[l] * b->cols[l];
        float *w = b->w[l];
        for (int64_t i = 0; i < k; i++)
            if (((p[i >> 3] >> (i & 7)) & 1) && w[i] != 0) w[i] = 0.0f;
        p += (k + 7) / 8;
    }
    free(buf);
    return MW_OK;
}
