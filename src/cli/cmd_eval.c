/* mwanda eval MODEL --tokens FILE [--ctx N] [--llamacpp-windows] [--threads N] */
#include "cli/cli.h"

#include "eval/windows.h"

#include <getopt.h>
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

static const char USAGE[] =
    "usage: mwanda eval MODEL --tokens FILE [--ctx N] [--llamacpp-windows] [--threads N]\n"
    "\n"
    "Perplexity of MODEL on pre-tokenized text: FILE holds token ids separated by\n"
    "spaces, commas or brackets (llama-tokenize --ids output works).\n"
    "\n"
    "  --ctx N               window length in tokens (default 512)\n"
    "  --llamacpp-windows    cut windows as llama-perplexity does (BOS-led chunks,\n"
    "                        second half scored)\n"
    "  --threads N           threads (default: all cores)\n"
    "  -h, --help            this text\n";

static int32_t *read_ids(const char *path, int64_t *n) {
    FILE *f = fopen(path, "r");
    if (!f) return NULL;
    int64_t cap = 4096;
    int32_t *ids = malloc((size_t)cap * sizeof *ids);
    *n = 0;
    int c;
    long v = 0;
    bool in_num = false;
    while (ids && (c = fgetc(f)) != EOF + 1) {
        if (c >= '0' && c <= '9') {
            v = v * 10 + (c - '0');
            in_num = true;
            if (v > INT32_MAX) break;
            continue;
        }
        if (in_num) {
            if (*n == cap) {
                int32_t *p = realloc(ids, (size_t)(cap *= 2) * sizeof *ids);
                if (!p) break;
                ids = p;
            }
            ids[(*n)++] = (int32_t)v;
        }
        in_num = false;
        v = 0;
        if (c == EOF) {
            fclose(f);
            return ids;
        }
    }
    free(ids);
    fclose(f);
    return NULL;
}

static int32_t gguf_id(const mw_model *m, const char *key) {
    int64_t v = -1;
    const mw_gguf *g = mw_model_gguf(m);
    if (!g || !mw_gguf_kv_int(mw_gguf_find_kv(g, key), &v)) return -1;
    return (int32_t)v;
}

static bool gguf_add_bos(const mw_model *m) {
    const mw_gguf *g = mw_model_gguf(m);
    int64_t v = 0;
    if (!g || !mw_gguf_kv_int(mw_gguf_find_kv(g, "tokenizer.ggml.add_bos_token"), &v))
        return g && mw_gguf_find_kv(g, "tokenizer.ggml.model") &&
               strcmp(mw_gguf_kv_str(mw_gguf_find_kv(g, "tokenizer.ggml.model")), "llama") == 0;
    return v != 0;
}

int cmd_eval(int argc, char **argv) {
    static const struct option OPTS[] = {{"tokens", required_argument, NULL, 'i'},
                                         {"ctx", required_argument, NULL, 'c'},
                                         {"llamacpp-windows", no_argument, NULL, 'l'},
                                         {"threads", required_argument, NULL, 't'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    const char *ids_path = NULL;
    long ctx = 512, threads = 0;
    bool llamacpp = false;
    int c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "h", OPTS, NULL)) != -1) {
        char *end = NULL;
        switch (c) {
        case 'i':
            ids_path = optarg;
            break;
        case 'c':
            ctx = strtol(optarg, &end, 10);
            if (*end || ctx < 4 || ctx > 1 << 20)
                return cli_usage_error("eval", "--ctx must be 4 to 1048576");
            break;
        case 't':
            threads = strtol(optarg, &end, 10);
            if (*end || threads < 1 || threads > 1024)
                return cli_usage_error("eval", "--threads must be 1 to 1024");
            break;
        case 'l':
            llamacpp = true;
            break;
        case 'h':
            fputs(USAGE, stdout);
            return CLI_OK;
        default:
            return cli_usage_error("eval", "unknown or incomplete option '%s'", argv[optind - 1]);
        }
    }
    if (optind != argc - 1 || !ids_path)
        return cli_usage_error("eval", "expected MODEL and --tokens FILE");
    if (threads) omp_set_num_threads((int)threads);
    int64_t n = 0;
    int32_t *ids = read_ids(ids_path, &n);
    if (!ids) return cli_error("cannot read token ids from %s", ids_path);
    mw_model *m = cli_open_model(argv[optind]);
    if (!m) {
        free(ids);
        return CLI_FAIL;
    }
    int32_t bos = gguf_add_bos(m) ? gguf_id(m, "tokenizer.ggml.bos_token_id") : -1;
    mw_windows w;
    mw_err err = {{0}};
    enum mw_status s = llamacpp ? mw_windows_llamacpp(ids, n, ctx, bos, &w, &err)
                                : mw_windows_plain(ids, n, ctx, bos, &w, &err);
    double nll = 0;
    int64_t scored = 0;
    cli_progress p;
    cli_progress_init(&p, "eval");
    if (!s) s = mw_windows_nll(m, &w, cli_progress_update, &p, &nll, &scored, &err);
    mw_windows_free(&w);
    mw_model_close(m);
    free(ids);
    if (s) return cli_error("%s", err.msg[0] ? err.msg : mw_strerror(s));
    cli_progress_done(&p);
    printf("tokens %lld, scored %lld, nll %.6f, ppl %.6f\n", (long long)n, (long long)scored, nll,
           exp(nll / (double)scored));
    return CLI_OK;
}
