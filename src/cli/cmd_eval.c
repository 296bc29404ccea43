/* mwanda eval MODEL --text DIR | --tokens FILE [--ctx N] [--llamacpp-windows]
 *                   [--langs a,b] [--threads N] [--json FILE] */
#include "cli/cli.h"

#include "calib/mpi.h"
#include "calib/textdir.h"
#include "eval/windows.h"

#include <getopt.h>
#include <jansson.h>
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

static const char USAGE[] =
    "usage: mwanda eval MODEL (--text DIR | --tokens FILE) [--ctx N] [--llamacpp-windows]\n"
    "                   [--langs de,fr,...] [--max-windows N] [--threads N] [--json FILE]\n"
    "       mwanda eval MODEL --tasks FILE.jsonl ...  (see mwanda eval --tasks x --help)\n"
    "\n"
    "Per-language perplexity. DIR holds one UTF-8 file per language, named by its\n"
    "language code (de.txt, fr.txt, ...). Each text is tokenized, cut into\n"
    "non-overlapping windows of --ctx tokens (each led by BOS when the model uses\n"
    "one, so every token of the text is predicted once), and the negative\n"
    "log-likelihood of every predicted token is summed. Reported per language:\n"
    "perplexity, bits per byte (comparable across tokenizers and languages),\n"
    "tokens and bytes. A Markdown table goes to stdout, progress to stderr.\n"
    "Under mpirun the processes share the windows and give the same bytes\n"
    "(docs/scaling.md).\n"
    "\n"
    "  --text DIR            one <lang>.txt per language\n"
    "  --tokens FILE         pre-tokenized ids instead (spaces, commas or brackets)\n"
    "  --langs LIST          only these languages of DIR\n"
    "  --max-windows N       score only the first N windows of each text (a\n"
    "                        quicker estimate; bits per byte count their bytes)\n"
    "  --ctx N               window length in tokens (default 512)\n"
    "  --llamacpp-windows    windows as llama-perplexity -c N cuts them: the text\n"
    "                        tokenized once with BOS, consecutive chunks of N with\n"
    "                        their first token replaced by BOS, the second half of\n"
    "                        each chunk scored\n"
    "  --threads N           threads (default: all cores)\n"
    "  --json FILE           also write the results as JSON\n"
    "  -h, --help            this text\n"
    "\n"
    "example:\n"
    "  mwanda eval gemma3-270m --text data/valid --ctx 512 --json dense.json\n";

struct opts {
    const char *text_dir, *ids_path, *langs, *json_path;
    long long ctx, threads, max_windows; /* max_windows 0: all */
    bool llamacpp;
};

/* One evaluated text. */
struct result {
    char lang[64];
    int64_t tokens, scored, bytes;
    double nll;
};

static int parse_opts(int argc, char **argv, struct opts *o) {
    static const struct option OPTS[] = {{"text", required_argument, NULL, 'x'},
                                         {"tokens", required_argument, NULL, 'i'},
                                         {"langs", required_argument, NULL, 'L'},
                                         {"ctx", required_argument, NULL, 'c'},
                                         {"llamacpp-windows", no_argument, NULL, 'l'},
                                         {"threads", required_argument, NULL, 't'},
                                         {"max-windows", required_argument, NULL, 'w'},
                                         {"json", required_argument, NULL, 'j'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    *o = (struct opts){.ctx = 512};
    int c, rc;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":h", OPTS, NULL)) != -1) {
        switch (c) {
        case 'x':
            o->text_dir = optarg;
            break;
        case 'i':
            o->ids_path = optarg;
            break;
        case 'L':
            o->langs = optarg;
            break;
        case 'j':
            o->json_path = optarg;
            break;
        case 'l':
            o->llamacpp = true;
            break;
        case 'c':
            if ((rc = cli_parse_int("eval", optarg, "--ctx", 4, 1 << 20, &o->ctx))) return rc;
            break;
        case 't':
            if ((rc = cli_parse_int("eval", optarg, "--threads", 1, 1024, &o->threads))) return rc;
            break;
        case 'w':
            if ((rc = cli_parse_int("eval", optarg, "--max-windows", 1, 1000000000,
                                    &o->max_windows)))
                return rc;
            break;
        case 'h':
            fputs(USAGE, stdout);
            return -1;
        case ':':
            return cli_usage_error("eval", "option %s needs a value", argv[optind - 1]);
        default:
            return cli_usage_error("eval", "unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind != argc - 1) return cli_usage_error("eval", "expected one MODEL");
    if (!o->text_dir == !o->ids_path)
        return cli_usage_error("eval", "give either --text DIR or --tokens FILE");
    return CLI_OK;
}

static bool parse_ids(const char *text, size_t len, mw_tokens *out) {
    long v = 0;
    bool in_num = false;
    for (size_t i = 0; i <= len; i++) {
        char c = i < len ? text[i] : ' ';
        if (c >= '0' && c <= '9') {
            v = v * 10 + (c - '0');
            in_num = true;
            if (v > INT32_MAX) return false;
            continue;
        }
        if (!strchr(" \t\r\n,[]", c)) return false;
        if (in_num) {
            if (out->n == out->cap) {
                size_t cap = out->cap ? 2 * out->cap : 4096;
                int32_t *p = realloc(out->ids, cap * sizeof *p);
                if (!p) return false;
                out->ids = p;
                out->cap = cap;
            }
            out->ids[out->n++] = (int32_t)v;
        }
        in_num = false;
        v = 0;
    }
    return true;
}

/* Bytes the scored tokens stand for (each target decoded on its own). */
static int64_t scored_bytes(const mw_tokenizer *tok, const mw_windows *w) {
    int64_t bytes = 0;
    if (!tok) return 0;
    for (int64_t i = 0; i < w->n_win * w->T; i++) {
        if (w->targets[i] < 0) continue;
        char *text = NULL;
        size_t len = 0;
        if (mw_detokenize(tok, &w->targets[i], 1, 0, &text, &len, NULL) == MW_OK)
            bytes += (int64_t)len;
        free(text);
    }
    return bytes;
}

/* Tokenizes (unless ids are given) and scores one text. */
static int eval_text(const mw_model *m, const mw_tokenizer *tok, const struct opts *o,
                     const char *text, size_t len, bool is_ids, struct result *r) {
    mw_tokens ids = {0};
    mw_err err = {{0}};
    enum mw_status s = MW_OK;
    /* llama-perplexity tokenizes with BOS; our windows add BOS themselves */
    unsigned flags = o->llamacpp ? MW_TOK_ADD_SPECIAL : 0;
    if (is_ids) {
        if (!parse_ids(text, len, &ids)) return cli_error("%s: not a list of token ids", r->lang);
    } else if ((s = mw_tokenize(tok, text, len, flags, &ids, &err))) {
        return cli_error("%s: %s", r->lang, err.msg);
    }
    if (ids.n < 2) {
        mw_tokens_free(&ids);
        return cli_error("%s: the text is empty (fewer than 2 tokens)", r->lang);
    }
    int32_t bos = tok && mw_tokenizer_adds_bos(tok) ? mw_tokenizer_bos(tok) : -1;
    mw_windows w = {0};
    s = o->llamacpp ? mw_windows_llamacpp(ids.ids, (int64_t)ids.n, o->ctx, bos, &w, &err)
                    : mw_windows_plain(ids.ids, (int64_t)ids.n, o->ctx, bos, &w, &err);
    if (!s && o->max_windows && w.n_win > o->max_windows) w.n_win = o->max_windows;
    char task[96];
    snprintf(task, sizeof task, "eval %s", r->lang);
    cli_progress p;
    cli_progress_init(&p, task);
    /* under mpirun the processes share the batches of windows; rank 0 gets
     * the totals and reports (its progress: its own share) */
    bool writer = mw_mpi_writer();
    if (!s)
        s = mw_windows_nll_shared(m, &w, writer ? cli_progress_update : NULL, &p, &r->nll,
                                  &r->scored, &err);
    if (!s && !writer) {
        mw_windows_free(&w);
        mw_tokens_free(&ids);
        return CLI_OK;
    }
    if (!s && r->scored == 0) {
        snprintf(err.msg, sizeof err.msg, "%lld tokens leave nothing to score with --ctx %lld",
                 (long long)ids.n, o->ctx);
        s = MW_ERR_ARG;
    }
    if (!s) cli_progress_done(&p);
    r->tokens = (int64_t)ids.n;
    /* bits per byte count the bytes of the scored tokens: the whole text when
     * every token is scored */
    if (!s) r->bytes = !is_ids && r->scored == r->tokens ? (int64_t)len : scored_bytes(tok, &w);
    mw_windows_free(&w);
    mw_tokens_free(&ids);
    if (s) return cli_error("%s: %s", r->lang, err.msg[0] ? err.msg : mw_strerror(s));
    return CLI_OK;
}

static void print_table(const struct result *r, size_t n) {
    printf("| language | tokens | bytes | perplexity | bits/byte |\n");
    printf("|---|---:|---:|---:|---:|\n");
    for (size_t i = 0; i < n; i++) {
        double ppl = exp(r[i].nll / (double)r[i].scored);
        double bpb = r[i].nll / log(2.0) / (double)r[i].bytes;
        if (r[i].bytes > 0)
            printf("| %s | %lld | %lld | %.4f | %.4f |\n", r[i].lang, (long long)r[i].scored,
                   (long long)r[i].bytes, ppl, bpb);
        else /* ids without a tokenizer: no byte count */
            printf("| %s | %lld | - | %.4f | - |\n", r[i].lang, (long long)r[i].scored, ppl);
    }
}

static int write_json(const char *path, const char *model, const struct opts *o,
                      const struct result *r, size_t n) {
    json_t *langs = json_object();
    for (size_t i = 0; i < n; i++) {
        double bpb = r[i].nll / log(2.0) / (double)r[i].bytes;
        json_object_set_new(langs, r[i].lang,
                            json_pack("{s:f, s:o, s:f, s:I, s:I, s:I}", "ppl",
                                      exp(r[i].nll / (double)r[i].scored), "bpb",
                                      r[i].bytes > 0 ? json_real(bpb) : json_null(), "nll",
                                      r[i].nll, "tokens", (json_int_t)r[i].scored, "text_tokens",
                                      (json_int_t)r[i].tokens, "bytes", (json_int_t)r[i].bytes));
    }
    json_t *root = json_pack("{s:s, s:I, s:s, s:o}", "model", model, "ctx", (json_int_t)o->ctx,
                             "windows", o->llamacpp ? "llamacpp" : "plain", "languages", langs);
    if (o->max_windows) json_object_set_new(root, "max_windows", json_integer(o->max_windows));
    int rc = cli_write_json(path, root);
    json_decref(root);
    return rc;
}

int cmd_eval(int argc, char **argv) {
    for (int i = 1; i < argc; i++) /* multiple-choice tasks: cmd_eval_tasks.c */
        if (!strcmp(argv[i], "--tasks") || !strncmp(argv[i], "--tasks=", 8))
            return cmd_eval_tasks(argc, argv);
    struct opts o;
    int rc = parse_opts(argc, argv, &o);
    if (rc) return rc < 0 ? CLI_OK : rc;
    if (o.threads) omp_set_num_threads((int)o.threads);
    mw_err err = {{0}};
    mw_textdir td = {0};
    size_t n = 1;
    if (o.text_dir) {
        if (mw_textdir_open(o.text_dir, o.langs, &td, &err)) return cli_error("%s", err.msg);
        n = (size_t)td.n;
    }
    mw_model *m = cli_open_model(argv[optind]);
    mw_tokenizer *tok = NULL;
    struct result *res = calloc(n, sizeof *res);
    if (!m || !res) rc = m ? cli_error("out of memory") : CLI_FAIL;
    /* token ids need no tokenizer: without one there is no BOS and no byte count */
    else if (mw_model_tokenizer(m, &tok, &err) && !o.ids_path)
        rc = cli_error("%s", err.msg);
    for (size_t i = 0; i < n && !rc; i++) {
        snprintf(res[i].lang, sizeof res[i].lang, "%s", o.text_dir ? td.langs[i] : "tokens");
        size_t len = 0;
        char *text = NULL;
        enum mw_status s = o.text_dir ? mw_textdir_read(&td, (int)i, &text, &len, &err)
                                      : mw_read_file(o.ids_path, &text, &len, &err);
        if (s)
            rc = cli_error("%s", err.msg);
        else
            rc = eval_text(m, tok, &o, text, len, !o.text_dir, &res[i]);
        free(text);
    }
    if (!rc && mw_mpi_writer()) print_table(res, n);
    if (!rc && o.json_path && mw_mpi_writer())
        rc = write_json(o.json_path, argv[optind], &o, res, n);
    mw_textdir_close(&td);
    free(res);
    mw_tokenizer_free(tok);
    mw_model_close(m);
    return rc;
}
