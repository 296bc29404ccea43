/* mw-prune-tool: src/prune's functions over raw little-endian arrays, so
 * that tests/py/test_prune_ref.py can compare them with scripts/ref_prune.py.
 *
 *   mw-prune-tool factor --n-lang L --n-in N --sum2 F64 [--pos F64] [--tokens F64]
 *                 [--mwanda [--balance] [--lambda X] [--gamma X] [--agg mean|max]] -o C.f64
 *   mw-prune-tool mask --rows R --cols C --w W.f32 [--c C.f64]
 *                 (--sparsity S [--global] | --pattern N:M) -o OUT.f32
 *   mw-prune-tool owl --m M --layer R,C,W.f32[,C.f64] [--layer ...]
 *   mw-prune-tool cwl --n-lang L --input N,SUM2.f64,TOKENS.f64 [--input ...]
 *   mw-prune-tool alloc --n N --imp IMP.f64 --sparsity S --lambda X -o SB.f64
 *   mw-prune-tool pattern TEXT
 *
 * Results go to stdout as one JSON object (doubles with 17 digits); errors
 * to stderr as one line, exit status 1 (2 for bad usage). --threads N sets
 * the OpenMP thread count. */
#include "prune/prune.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_ITEMS 64

struct args {
    const char *cmd;
    int64_t n_lang, n_in, rows, cols, n;
    const char *sum2, *pos, *tokens, *w, *c, *out, *pattern, *imp, *agg;
    const char *items[MAX_ITEMS]; /* --layer or --input values */
    int n_items;
    bool mwanda, balance, global;
    double lambda, gamma, sparsity, m;
};

static int fail(const char *fmt, const char *a, const char *b) {
    fprintf(stderr, "mw-prune-tool: ");
    fprintf(stderr, fmt, a, b);
    fprintf(stderr, "\n");
    return 1;
}

/* Reads exactly `bytes` bytes of a file into a new buffer. */
static void *read_exact(const char *path, size_t bytes) {
    FILE *f = path ? fopen(path, "rb") : NULL;
    if (!f) return NULL;
    char *buf = malloc(bytes ? bytes : 1);
    size_t got = buf ? fread(buf, 1, bytes, f) : 0;
    int extra = fgetc(f);
    fclose(f);
    if (got != bytes || extra != EOF) {
        free(buf);
        return NULL;
    }
    return buf;
}

static int write_all(const char *path, const void *p, size_t bytes) {
    FILE *f = path ? fopen(path, "wb") : NULL;
    if (!f) return fail("cannot write '%s'%s", path ? path : "(no -o)", "");
    size_t put = fwrite(p, 1, bytes, f);
    if (fclose(f) != 0 || put != bytes) return fail("cannot write '%s'%s", path, "");
    return 0;
}

static int64_t num_i(const char *s) {
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || *end || v < 0) return -1;
    return v;
}

static double num_d(const char *s) {
    char *end;
    double v = strtod(s, &end);
    return *end ? NAN : v;
}

static int cmd_factor(const struct args *a) {
    if (a->n_lang < 1 || a->n_in < 1) return fail("factor: --n-lang and --n-in%s%s", "", "");
    size_t nl = (size_t)a->n_lang, ni = (size_t)a->n_in;
    double *sum2 = read_exact(a->sum2, nl * ni * 8);
    double *pos = a->pos ? read_exact(a->pos, nl * ni * 8) : NULL;
    double *tok = a->tokens ? read_exact(a->tokens, nl * 8) : NULL;
    double *c = malloc(ni * 8);
    int rc = 1;
    mw_err err = {0};
    if (!sum2 || (a->pos && !pos) || (a->tokens && !tok) || !c) {
        fail("factor: cannot read the statistics (sizes?)%s%s", "", "");
        goto done;
    }
    mw_lang_stats st = {(int)a->n_lang, a->n_in, sum2, pos, tok};
    mw_mwanda_opts o = {a->balance, a->lambda, a->gamma,
                        a->agg && strcmp(a->agg, "max") == 0 ? MW_PROB_MAX : MW_PROB_MEAN};
    enum mw_status st_rc =
        a->mwanda ? mw_mwanda_factor(&st, &o, c, &err) : mw_wanda_factor(&st, c, &err);
    if (st_rc != MW_OK) {
        fail("%s%s", err.msg, "");
        goto done;
    }
    rc = write_all(a->out, c, ni * 8);
    if (!rc) printf("{\"n_in\": %lld}\n", (long long)a->n_in);
done:
    free(sum2);
    free(pos);
    free(tok);
    free(c);
    return rc;
}

static int cmd_mask(const struct args *a) {
    if (a->rows < 0 || a->cols < 0) return fail("mask: --rows and --cols%s%s", "", "");
    size_t n = (size_t)a->rows * (size_t)a->cols;
    float *w = read_exact(a->w, n * 4);
    double *c = a->c ? read_exact(a->c, (size_t)a->cols * 8) : NULL;
    if (!w || (a->c && !c)) {
        free(w);
        free(c);
        return fail("mask: cannot read the weights or factors (sizes?)%s%s", "", "");
    }
    mw_err err = {0};
    int64_t zeros = -1;
    enum mw_status st;
    if (a->pattern) {
        mw_pattern p;
        st = mw_pattern_parse(a->pattern, &p, &err);
        if (st == MW_OK && p.m == 0)
            st = mw_prune_rows(w, a->rows, a->cols, c, a->sparsity, &zeros, &err);
        else if (st == MW_OK)
            st = mw_prune_nm(w, a->rows, a->cols, c, p, &zeros, &err);
    } else if (a->global) {
        st = mw_prune_global(w, a->rows, a->cols, a->sparsity, &zeros, &err);
    } else {
        st = mw_prune_rows(w, a->rows, a->cols, c, a->sparsity, &zeros, &err);
    }
    int rc = st == MW_OK ? write_all(a->out, w, n * 4) : fail("%s%s", err.msg, "");
    if (!rc) printf("{\"zeros\": %lld}\n", (long long)zeros);
    free(w);
    free(c);
    return rc;
}

/* Splits "a,b,c[,d]" into at most 4 parts in buf; returns their count. */
static int split_item(const char *item, char *buf, size_t size, char *part[4]) {
    snprintf(buf, size, "%s", item);
    int n = 0;
    char *save = NULL;
    for (char *t = strtok_r(buf, ",", &save); t && n < 4; t = strtok_r(NULL, ",", &save))
        part[n++] = t;
    return n;
}

/* One OWL pass over every --layer (second: count above the threshold). */
static int owl_pass(const struct args *a, mw_owl *o, bool second) {
    for (int i = 0; i < a->n_items; i++) {
        char buf[4096], *part[4];
        int np = split_item(a->items[i], buf, sizeof buf, part);
        int64_t rows = np >= 3 ? num_i(part[0]) : -1, cols = np >= 3 ? num_i(part[1]) : -1;
        if (rows < 0 || cols < 0) return fail("owl: bad --layer '%s'%s", a->items[i], "");
        float *w = read_exact(part[2], (size_t)rows * (size_t)cols * 4);
        double *c = np == 4 ? read_exact(part[3], (size_t)cols * 8) : NULL;
        mw_err err = {0};
        enum mw_status st = MW_ERR_IO;
        if (w && (np < 4 || c))
            st = second ? mw_owl_add_above(o, w, rows, cols, c, &err)
                        : mw_owl_add_sum(o, w, rows, cols, c, &err);
        else
            snprintf(err.msg, sizeof err.msg, "owl: cannot read layer %d", i);
        free(w);
        free(c);
        if (st != MW_OK) return fail("%s%s", err.msg, "");
    }
    return 0;
}

static int cmd_owl(const struct args *a) {
    mw_owl o;
    mw_owl_init(&o);
    mw_err err = {0};
    double share;
    if (owl_pass(a, &o, false)) return 1;
    if (mw_owl_set_threshold(&o, a->m, &err) != MW_OK) return fail("%s%s", err.msg, "");
    if (owl_pass(a, &o, true)) return 1;
    if (mw_owl_share(&o, &share, &err) != MW_OK) return fail("%s%s", err.msg, "");
    printf("{\"sum\": %.17g, \"count\": %lld, \"threshold\": %.17g, \"above\": %lld, "
           "\"share\": %.17g}\n",
           o.sum, (long long)o.count, o.threshold, (long long)o.above, share);
    return 0;
}

static int cmd_cwl(const struct args *a) {
    mw_lang_stats in[MAX_ITEMS];
    void *bufs[2 * MAX_ITEMS] = {0};
    int rc = 0;
    for (int i = 0; i < a->n_items && !rc; i++) {
        char buf[4096], *part[4];
        int np = split_item(a->items[i], buf, sizeof buf, part);
        int64_t n = np == 3 ? num_i(part[0]) : -1;
        if (n < 0 || a->n_lang < 1) {
            rc = fail("cwl: bad --input '%s'%s", a->items[i], "");
            break;
        }
        double *sum2 = read_exact(part[1], (size_t)a->n_lang * (size_t)n * 8);
        double *tok = read_exact(part[2], (size_t)a->n_lang * 8);
        bufs[2 * i] = sum2;
        bufs[2 * i + 1] = tok;
        if (!sum2 || !tok) rc = fail("cwl: cannot read input '%s'%s", a->items[i], "");
        in[i] = (mw_lang_stats){(int)a->n_lang, n, sum2, NULL, tok};
    }
    double r;
    mw_err err = {0};
    if (!rc && mw_cwl_correlation(in, a->n_items, &r, &err) != MW_OK)
        rc = fail("%s%s", err.msg, "");
    if (!rc) printf("{\"r\": %.17g}\n", r);
    for (int i = 0; i < 2 * MAX_ITEMS; i++)
        free(bufs[i]);
    return rc;
}

static int cmd_alloc(const struct args *a) {
    if (a->n < 1 || a->n > 1000000) return fail("alloc: --n%s%s", "", "");
    double *imp = read_exact(a->imp, (size_t)a->n * 8), *sb = malloc((size_t)a->n * 8);
    int clamped = 0, rc;
    mw_err err = {0};
    if (!imp || !sb)
        rc = fail("alloc: cannot read '%s'%s", a->imp ? a->imp : "", "");
    else if (mw_allocate_sparsity(imp, (int)a->n, a->sparsity, a->lambda, sb, &clamped, &err) !=
             MW_OK)
        rc = fail("%s%s", err.msg, "");
    else
        rc = write_all(a->out, sb, (size_t)a->n * 8);
    if (!rc) printf("{\"clamped\": %d}\n", clamped);
    free(imp);
    free(sb);
    return rc;
}

static int cmd_pattern(const char *text) {
    mw_pattern p;
    mw_err err = {0};
    if (mw_pattern_parse(text, &p, &err) != MW_OK) return fail("%s%s", err.msg, "");
    printf("{\"n\": %d, \"m\": %d}\n", p.n, p.m);
    return 0;
}

static int parse_args(int argc, char **argv, struct args *a) {
    static const struct option opts[] = {
        {"n-lang", 1, 0, 'L'},  {"n-in", 1, 0, 'N'},    {"sum2", 1, 0, 's'},
        {"pos", 1, 0, 'p'},     {"tokens", 1, 0, 't'},  {"mwanda", 0, 0, 'M'},
        {"balance", 0, 0, 'b'}, {"lambda", 1, 0, 'l'},  {"gamma", 1, 0, 'g'},
        {"agg", 1, 0, 'a'},     {"rows", 1, 0, 'R'},    {"cols", 1, 0, 'C'},
        {"w", 1, 0, 'w'},       {"c", 1, 0, 'c'},       {"sparsity", 1, 0, 'S'},
        {"global", 0, 0, 'G'},  {"pattern", 1, 0, 'P'}, {"m", 1, 0, 'm'},
        {"layer", 1, 0, 'y'},   {"input", 1, 0, 'y'},   {"n", 1, 0, 'n'},
        {"imp", 1, 0, 'i'},     {"threads", 1, 0, 'T'}, {0, 0, 0, 0}};
    *a = (struct args){.n_lang = -1, .n_in = -1, .rows = -1, .cols = -1, .n = -1, .m = 5};
    a->cmd = argv[1];
    optind = 2;
    int ch;
    while ((ch = getopt_long(argc, argv, "o:", opts, NULL)) != -1) {
        switch (ch) {
        case 'L':
            a->n_lang = num_i(optarg);
            break;
        case 'N':
            a->n_in = num_i(optarg);
            break;
        case 's':
            a->sum2 = optarg;
            break;
        case 'p':
            a->pos = optarg;
            break;
        case 't':
            a->tokens = optarg;
            break;
        case 'M':
            a->mwanda = true;
            break;
        case 'b':
            a->balance = true;
            break;
        case 'l':
            a->lambda = num_d(optarg);
            break;
        case 'g':
            a->gamma = num_d(optarg);
            break;
        case 'a':
            a->agg = optarg;
            break;
        case 'R':
            a->rows = num_i(optarg);
            break;
        case 'C':
            a->cols = num_i(optarg);
            break;
        case 'w':
            a->w = optarg;
            break;
        case 'c':
            a->c = optarg;
            break;
        case 'S':
            a->sparsity = num_d(optarg);
            break;
        case 'G':
            a->global = true;
            break;
        case 'P':
            a->pattern = optarg;
            break;
        case 'm':
            a->m = num_d(optarg);
            break;
        case 'n':
            a->n = num_i(optarg);
            break;
        case 'i':
            a->imp = optarg;
            break;
        case 'o':
            a->out = optarg;
            break;
        case 'T':
            omp_set_num_threads((int)num_i(optarg));
            break;
        case 'y':
            if (a->n_items == MAX_ITEMS) return -1;
            a->items[a->n_items++] = optarg;
            break;
        default:
            return -1;
        }
    }
    return 0;
}

int main(int argc, char **argv) {
    struct args a;
    if (argc < 2 || parse_args(argc, argv, &a) != 0) {
        fprintf(stderr, "usage: mw-prune-tool factor|mask|owl|cwl|alloc|pattern ... (see the "
                        "source's first comment)\n");
        return 2;
    }
    if (strcmp(a.cmd, "factor") == 0) return cmd_factor(&a);
    if (strcmp(a.cmd, "mask") == 0) return cmd_mask(&a);
    if (strcmp(a.cmd, "owl") == 0) return cmd_owl(&a);
    if (strcmp(a.cmd, "cwl") == 0) return cmd_cwl(&a);
    if (strcmp(a.cmd, "alloc") == 0) return cmd_alloc(&a);
    if (strcmp(a.cmd, "pattern") == 0 && optind < argc) return cmd_pattern(argv[optind]);
    fprintf(stderr, "mw-prune-tool: unknown command '%s'\n", a.cmd);
    return 2;
}
