/* mw-forward-tool: runs windows of token ids through mwanda's forward pass
 * and prints per-position results as JSON, for the Python tests that compare
 * them with a numpy reference and with llama.cpp.
 *
 *   mw-forward-tool MODEL WINDOWS [--hidden] [--full] [--top K]
 *                   [--positions P,P,...] [--first P] [--threads N]
 *
 * WINDOWS is a text file with one window per line: token ids separated by
 * spaces. Position t of a window predicts token t + 1; positions restart at
 * 0 in every window. Windows of the same length go through each block
 * together (one batch), so batching is exercised too.
 *
 * Output: {"windows": [{"tokens": [...], "nll": [...], ...}, ...]} with
 *   nll        -log p(token t+1) at t = first .. T-2 (--first, default 0),
 *              from mw_head_nll (the chunked head the evaluation uses); the
 *              head runs on those positions only
 *   hidden     (--hidden) [n_layer + 1][T]: L2 norm of the residual stream
 *              after the embedding and after every block
 *   at         (--full or --top K) {"t": {"target": log p(token t+1),
 *              "logprobs": [log p of every vocabulary entry] (--full),
 *              "top": [[id, log p], ...] (the K likeliest)}}
 * --full and --top compute the logits with their own loop over the output
 * matrix (final norm, then x . W^T, log-softmax in double), at the
 * positions of --positions (default: all). Exit status 0, or 1 with a
 * message on stderr. */
#include "mwanda.h"

#include "kernels/gemm.h"
#include "kernels/ops.h"
#include "model/block.h"
#include "model/head.h"

#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_WINDOWS 256
#define CHUNK_ROWS  8192

typedef struct window {
    int32_t *tok;
    int64_t T;
    double *nll;    /* [T-1] */
    double *hidden; /* [n_layer+1][T] */
} window;

typedef struct opts {
    bool hidden, full;
    int top;
    int64_t first;
    bool *at; /* positions asked for, indexed by t; NULL = all */
    int64_t max_pos;
} opts;

static void die(const char *msg, const mw_err *err) {
    fprintf(stderr, "mw-forward-tool: %s%s%s\n", msg, err ? ": " : "", err ? err->msg : "");
    exit(1);
}

static void *xmalloc(size_t n) {
    void *p = malloc(n ? n : 1);
    if (!p) die("out of memory", NULL);
    return p;
}

/* Reads one window per non-empty line. */
static int read_windows(const char *path, window *w) {
    FILE *f = fopen(path, "r");
    if (!f) die("cannot open the windows file", NULL);
    char line[1 << 16];
    int n = 0;
    while (fgets(line, sizeof line, f)) {
        int32_t buf[4096];
        int64_t T = 0;
        char *p = line, *end;
        for (long v = strtol(p, &end, 10); end != p; v = strtol(p, &end, 10)) {
            if (T == 4096 || v < 0 || v > INT32_MAX) die("bad or too many token ids", NULL);
            buf[T++] = (int32_t)v;
            p = end;
        }
        if (T == 0) continue;
        if (T < 2 || n == MAX_WINDOWS) die("windows need 2 tokens; at most 256 windows", NULL);
        w[n].T = T;
        w[n].tok = xmalloc((size_t)T * sizeof(int32_t));
        memcpy(w[n].tok, buf, (size_t)T * sizeof(int32_t));
        n++;
    }
    fclose(f);
    return n;
}

static void norms(const float *x, int64_t n, int64_t E, double *out) {
    for (int64_t i = 0; i < n; i++) {
        double s = 0;
        for (int64_t j = 0; j < E; j++)
            s += (double)x[i * E + j] * x[i * E + j];
        out[i] = sqrt(s);
    }
}

/* Runs the windows idx[0..n) (all of length T) through embedding and blocks;
 * x ends as [n][T][E] final hidden states. */
static void run_group(const mw_model *m, window *w, const int *idx, int n, int64_t T, float *x,
                      bool hidden) {
    const mw_hparams *hp = mw_model_hparams(m);
    int64_t E = hp->n_embd;
    mw_err err = {{0}};
    for (int i = 0; i < n; i++) {
        if (mw_embed(m, w[idx[i]].tok, T, x + i * T * E, &err)) die("embedding", &err);
        if (hidden) norms(x + i * T * E, T, E, w[idx[i]].hidden);
    }
    mw_block_scratch s;
    if (mw_block_scratch_init(&s, hp, n, T, &err)) die("scratch", &err);
    for (int64_t b = 0; b < hp->n_layer; b++) {
        mw_block blk;
        if (mw_block_load(m, b, &blk, &err)) die("block load", &err);
        mw_block_forward(m, &blk, x, n, T, &s, NULL);
        mw_block_free(&blk);
        if (hidden)
            for (int i = 0; i < n; i++)
                norms(x + i * T * E, T, E, w[idx[i]].hidden + (b + 1) * T);
    }
    mw_block_scratch_free(&s);
}

static int64_t tensor_index(const mw_model *m, const char *name) {
    const mw_tensor *t = mw_model_find_tensor(m, name);
    return t ? (int64_t)(t - mw_model_tensor_at(m, 0)) : -1;
}

/* Full log-softmax rows for n final hidden states (x: [n][E], not normed):
 * lp is [n][V]. */
static void full_logprobs(const mw_model *m, const float *x, int64_t n, double *lp, int64_t V) {
    const mw_hparams *hp = mw_model_hparams(m);
    int64_t E = hp->n_embd, wi = tensor_index(m, "output.weight");
    if (wi < 0) wi = tensor_index(m, "token_embd.weight");
    mw_err err = {{0}};
    float *norm = xmalloc((size_t)E * sizeof(float)), *xn = xmalloc((size_t)(n * E) * 4);
    float *w = xmalloc((size_t)CHUNK_ROWS * (size_t)E * 4),
          *z = xmalloc((size_t)(n * CHUNK_ROWS) * 4);
    if (mw_model_tensor_f32(m, tensor_index(m, "output_norm.weight"), norm, &err))
        die("output norm", &err);
    mw_rmsnorm_rows(x, xn, norm, n, E, (float)hp->norm_eps, E);
    for (int64_t v0 = 0; v0 < V; v0 += CHUNK_ROWS) {
        int64_t c = V - v0 < CHUNK_ROWS ? V - v0 : CHUNK_ROWS;
        if (mw_model_tensor_rows_f32(m, wi, v0, c, w, &err)) die("output matrix", &err);
        mw_gemm_nt(n, c, E, xn, E, w, E, z, c, false);
        for (int64_t i = 0; i < n; i++)
            for (int64_t j = 0; j < c; j++)
                lp[i * V + v0 + j] = z[i * c + j];
    }
    for (int64_t i = 0; i < n; i++) {
        double *r = lp + i * V, mx = -INFINITY, s = 0;
        for (int64_t j = 0; j < V; j++)
            mx = r[j] > mx ? r[j] : mx;
        for (int64_t j = 0; j < V; j++)
            s += exp(r[j] - mx);
        double lse = mx + log(s);
        for (int64_t j = 0; j < V; j++)
            r[j] -= lse;
    }
    free(norm);
    free(xn);
    free(w);
    free(z);
}

static void print_doubles(const double *v, int64_t n) {
    putchar('[');
    for (int64_t i = 0; i < n; i++)
        printf("%s%.10g", i ? ", " : "", v[i]);
    putchar(']');
}

static bool wanted(const opts *o, int64_t t) {
    return !o->at || (t <= o->max_pos && o->at[t]);
}

/* The --full / --top part of one window: x is its [T][E] final states. */
static void print_logits(const mw_model *m, const window *w, const float *x, const opts *o) {
    int64_t E = mw_model_hparams(m)->n_embd, T = w->T;
    int64_t wi = tensor_index(m, "output.weight");
    if (wi < 0) wi = tensor_index(m, "token_embd.weight");
    int64_t V = mw_model_tensor_at(m, wi)->ne[1];
    double *lp = xmalloc((size_t)V * sizeof(double));
    printf(", \"at\": {");
    bool first = true;
    for (int64_t t = 0; t < T; t++) {
        if (!wanted(o, t)) continue;
        full_logprobs(m, x + t * E, 1, lp, V);
        printf("%s\n \"%lld\": {", first ? "" : ",", (long long)t);
        first = false;
        if (t + 1 < T) printf("\"target\": %.10g, ", lp[w->tok[t + 1]]);
        if (o->full) {
            printf("\"logprobs\": ");
            print_doubles(lp, V);
            printf(", ");
        }
        printf("\"top\": [");
        for (int k = 0; k < o->top; k++) { /* selection: K is small */
            int64_t best = -1;
            for (int64_t j = 0; j < V; j++)
                if (!isnan(lp[j]) && (best < 0 || lp[j] > lp[best])) best = j;
            printf("%s[%lld, %.10g]", k ? ", " : "", (long long)best, lp[best]);
            lp[best] = NAN;
        }
        printf("]}");
    }
    putchar('}');
    free(lp);
}

static void parse_positions(const char *s, opts *o) {
    o->max_pos = 4096;
    o->at = calloc(4097, sizeof(bool));
    if (!o->at) die("out of memory", NULL);
    for (char *end; *s; s = *end ? end + 1 : end) {
        long v = strtol(s, &end, 10);
        if (end == s || v < 0 || v > 4096 || (*end && *end != ',')) die("bad --positions", NULL);
        o->at[v] = true;
    }
}

int main(int argc, char **argv) {
    if (argc < 3)
        die("usage: mw-forward-tool MODEL WINDOWS [--hidden] [--full] [--top K] "
            "[--positions P,...] [--threads N]",
            NULL);
    opts o = {0};
    for (int i = 3; i < argc; i++) {
        if (strcmp(argv[i], "--hidden") == 0)
            o.hidden = true;
        else if (strcmp(argv[i], "--full") == 0)
            o.full = true;
        else if (strcmp(argv[i], "--top") == 0 && i + 1 < argc)
            o.top = atoi(argv[++i]);
        else if (strcmp(argv[i], "--positions") == 0 && i + 1 < argc)
            parse_positions(argv[++i], &o);
        else if (strcmp(argv[i], "--first") == 0 && i + 1 < argc)
            o.first = atol(argv[++i]);
        else if (strcmp(argv[i], "--threads") == 0 && i + 1 < argc)
            omp_set_num_threads(atoi(argv[++i]));
        else
            die("unknown option", NULL);
    }
    if (o.top < 0 || o.top > 1000) die("--top must be 0 to 1000", NULL);
    if (o.first < 0) die("--first must be 0 or more", NULL);
    static window w[MAX_WINDOWS];
    int n = read_windows(argv[2], w);
    mw_err err = {{0}};
    mw_model *m = NULL;
    if (mw_model_open(argv[1], &m, &err)) die("cannot open the model", &err);
    const mw_hparams *hp = mw_model_hparams(m);
    int64_t E = hp->n_embd;
    for (int i = 0; i < n; i++) {
        w[i].nll = xmalloc((size_t)(w[i].T - 1) * sizeof(double));
        w[i].hidden = xmalloc((size_t)((hp->n_layer + 1) * w[i].T) * sizeof(double));
    }
    bool *done = calloc((size_t)n + 1, sizeof(bool));
    float **final = calloc((size_t)n + 1, sizeof(float *));
    if (!done || !final) die("out of memory", NULL);
    for (int i = 0; i < n; i++) {
        if (done[i]) continue;
        int idx[MAX_WINDOWS], k = 0;
        for (int j = i; j < n; j++)
            if (!done[j] && w[j].T == w[i].T) idx[k++] = j, done[j] = true;
        int64_t T = w[i].T;
        float *x = xmalloc((size_t)(k * T * E) * sizeof(float));
        run_group(m, w, idx, k, T, x, o.hidden);
        for (int j = 0; j < k; j++) {
            final[idx[j]] = xmalloc((size_t)(T * E) * sizeof(float));
            memcpy(final[idx[j]], x + j * T * E, (size_t)(T * E) * sizeof(float));
        }
        free(x);
    }
    printf("{\"windows\": [");
    for (int i = 0; i < n; i++) {
        int64_t T = w[i].T;
        float *x = xmalloc((size_t)(T * E) * sizeof(float));
        memcpy(x, final[i], (size_t)(T * E) * sizeof(float));
        int64_t first = o.first < T - 1 ? o.first : T - 1;
        if (first < T - 1 &&
            mw_head_nll(m, x + first * E, T - 1 - first, w[i].tok + 1 + first, w[i].nll, &err))
            die("output head", &err);
        free(x);
        printf("%s\n{\"tokens\": [", i ? "," : "");
        for (int64_t t = 0; t < T; t++)
            printf("%s%d", t ? ", " : "", w[i].tok[t]);
        printf("], \"first\": %lld, \"nll\": ", (long long)first);
        print_doubles(w[i].nll, T - 1 - first);
        if (o.hidden) {
            printf(", \"hidden\": [");
            for (int64_t b = 0; b <= hp->n_layer; b++) {
                printf("%s", b ? ", " : "");
                print_doubles(w[i].hidden + b * T, T);
            }
            putchar(']');
        }
        if (o.full || o.top) print_logits(m, &w[i], final[i], &o);
        putchar('}');
        free(final[i]);
        free(w[i].tok);
        free(w[i].nll);
        free(w[i].hidden);
    }
    printf("\n]}\n");
    free(done);
    free(final);
    free(o.at);
    mw_model_close(m);
    return 0;
}
