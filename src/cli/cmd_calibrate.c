/* mwanda calibrate MODEL [--text DIR] [--langs a,b] [--samples N|all] [--ctx T]
 *                  [--seed S] [--threads N] [--llamacpp-windows] -o stats.gguf
 * mwanda calibrate --merge a.gguf b.gguf [...] -o c.gguf */
#include "cli/cli.h"
#include "cli/cli_calib.h"

#include "calib/calib.h"
#include "calib/mpi.h"
#include "calib/resume.h"

#include <errno.h>
#include <getopt.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char USAGE[] =
    "usage: mwanda calibrate MODEL [--text DIR] [--langs de,fr,...] [--samples N|all]\n"
    "                        [--ctx T] [--seed S] [--threads N] [--llamacpp-windows]\n"
    "                        [--mem SIZE] [--resume] -o STATS.gguf\n"
    "       mwanda calibrate --merge A.gguf B.gguf [...] -o STATS.gguf\n"
    "\n"
    "Per-language statistics of every linear layer's input (sum of x^2, sum of x,\n"
    "count of x > 0, token count; double precision), taken over windows of each\n"
    "language's text run through the model block by block (no output head).\n"
    "The file is a GGUF that llama.cpp reads as an importance matrix\n"
    "(llama-quantize --imatrix), with the per-language sums as extra tensors.\n"
    "\n"
    "Windows: each language's text is tokenized once and cut into non-overlapping\n"
    "windows of T tokens (BOS and T-1 text tokens when the model uses BOS; a\n"
    "partial last window is dropped). N of them are chosen by a seeded partial\n"
    "Fisher-Yates shuffle (splitmix64) and taken in text order.\n"
    "\n"
    "  --text DIR            one <lang>.txt per language (default: the shipped\n"
    "                        corpus, $MWANDA_DATA/corpus/calib when set)\n"
    "  --langs LIST          only these languages of DIR (default: all)\n"
    "  --samples N|all       windows per language (default 16)\n"
    "  --ctx T               window length in tokens (default 256)\n"
    "  --seed S              seed of the window choice (default 0)\n"
    "  --llamacpp-windows    windows as llama-imatrix -c T --chunks N cuts them: the\n"
    "                        text tokenized with BOS, the first N chunks of T with\n"
    "                        their first token replaced by BOS\n"
    "  --threads N           threads (default: all cores)\n"
    "  --mem SIZE            memory for the activations (4G = 4e9 bytes; default:\n"
    "                        no limit); the windows beyond it go to a temporary\n"
    "                        file in $TMPDIR, else beside the output. One block of\n"
    "                        weights in f32 and its scratch come on top\n"
    "  --resume              keep the run's state in STATS.gguf.mwanda-state/ after\n"
    "                        every block and, when it is there, continue from it\n"
    "                        (same bytes as an uninterrupted run); without\n"
    "                        --resume an existing state is refused\n"
    "  --merge               sum the statistics files given instead of a model\n"
    "                        (languages unioned; same model and window length)\n"
    "  -o, --output FILE     the statistics file to write\n"
    "  -h, --help            this text\n"
    "\n"
    "examples:\n"
    "  mwanda calibrate gemma3-270m --langs de,fr,sw --samples 32 -o stats.gguf\n"
    "  mwanda calibrate --merge part1.gguf part2.gguf -o all.gguf\n"
    "\n"
    "Ctrl-C stops at the next block or group of windows, writes nothing (keeping\n"
    "the state with --resume) and exits with 130.\n";

struct opts {
    const char *text_dir, *langs, *out;
    long ctx, threads;
    long long samples;
    unsigned long long seed;
    bool llamacpp, merge;
    cli_run run;
};

static int parse_option(int c, struct opts *o, char **argv) {
    long long v = 0;
    int rc = CLI_OK;
    switch (c) {
    case 'x':
        o->text_dir = optarg;
        break;
    case 'L':
        o->langs = optarg;
        break;
    case 'o':
        o->out = optarg;
        break;
    case 'l':
        o->llamacpp = true;
        break;
    case 'm':
        o->merge = true;
        break;
    case 'R':
        o->run.resume = true;
        break;
    case 'M':
        if (!cli_parse_size(optarg, &o->run.mem) || o->run.mem == 0)
            rc = cli_usage_error("calibrate", "--mem '%s' is not a size", optarg);
        break;
    case 'n':
        if (strcmp(optarg, "all") == 0)
            o->samples = -1;
        else if (!(rc = cli_parse_int("calibrate", optarg, "--samples", 1, 1000000000, &v)))
            o->samples = v;
        break;
    case 'c':
        if (!(rc = cli_parse_int("calibrate", optarg, "--ctx", 2, 1 << 20, &v))) o->ctx = (long)v;
        break;
    case 't':
        if (!(rc = cli_parse_int("calibrate", optarg, "--threads", 1, 1024, &v)))
            o->threads = (long)v;
        break;
    case 's': {
        char *end = NULL;
        errno = 0;
        o->seed = strtoull(optarg, &end, 10);
        if (!*optarg || *end || errno || optarg[0] == '-')
            rc = cli_usage_error("calibrate", "--seed must be a number 0 to 2^64-1, not '%s'",
                                 optarg);
        break;
    }
    case ':':
        rc = cli_usage_error("calibrate", "option %s needs a value", argv[optind - 1]);
        break;
    default:
        rc = cli_usage_error("calibrate", "unknown option '%s'", argv[optind - 1]);
    }
    return rc;
}

static int parse_opts(int argc, char **argv, struct opts *o) {
    static const struct option OPTS[] = {{"text", required_argument, NULL, 'x'},
                                         {"langs", required_argument, NULL, 'L'},
                                         {"samples", required_argument, NULL, 'n'},
                                         {"ctx", required_argument, NULL, 'c'},
                                         {"seed", required_argument, NULL, 's'},
                                         {"threads", required_argument, NULL, 't'},
                                         {"llamacpp-windows", no_argument, NULL, 'l'},
                                         {"merge", no_argument, NULL, 'm'},
                                         {"mem", required_argument, NULL, 'M'},
                                         {"resume", no_argument, NULL, 'R'},
                                         {"output", required_argument, NULL, 'o'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    *o = (struct opts){.ctx = 256, .samples = 16};
    int c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":ho:", OPTS, NULL)) != -1) {
        if (c == 'h') {
            fputs(USAGE, stdout);
            return -1;
        }
        int rc = parse_option(c, o, argv);
        if (rc) return rc;
    }
    if (!o->out) return cli_usage_error("calibrate", "give the output file with -o FILE");
    if (o->merge) {
        if (o->text_dir || o->langs || o->llamacpp || o->run.mem || o->run.resume)
            return cli_usage_error("calibrate", "--merge takes statistics files, not text options");
        if (optind >= argc) return cli_usage_error("calibrate", "--merge needs statistics files");
        return CLI_OK;
    }
    if (optind != argc - 1) return cli_usage_error("calibrate", "expected one MODEL");
    return CLI_OK;
}

static void print_summary(const mw_stats *st) {
    printf("| language | windows | tokens |\n|---|---:|---:|\n");
    for (int l = 0; l < st->n_lang; l++)
        printf("| %s | %lld | %.0f |\n", st->langs[l], (long long)st->windows[l],
               st->in[MW_IN_ATTN].tokens[l]);
}

static int merge_files(const struct opts *o, int n, char **paths) {
    mw_stats acc = {0};
    mw_err err = {{0}};
    int rc = CLI_OK;
    for (int i = 0; i < n && !rc; i++) {
        mw_stats one, sum;
        if (mw_stats_read(paths[i], &one, &err)) {
            rc = cli_error("%s", err.msg);
        } else if (i == 0) {
            acc = one;
        } else {
            if (mw_stats_merge(&sum, &acc, &one, &err))
                rc = cli_error("%s: %s", paths[i], err.msg);
            else {
                mw_stats_free(&acc);
                acc = sum;
            }
            mw_stats_free(&one);
        }
    }
    if (!rc && mw_stats_write(&acc, o->out, &err)) rc = cli_error("%s", err.msg);
    if (!rc) print_summary(&acc);
    mw_stats_free(&acc);
    return rc;
}

/* The state of a resumable calibration: same windows of the same model. */
static int open_state(const struct opts *o, const mw_model *m, const mw_calib_set *set,
                      mw_state **state) {
    mw_err err = {{0}};
    uint64_t h = mw_hash_calib_set(mw_hash_model(MW_HASH_INIT, m), set);
    char buf[64];
    json_t *opts = json_object();
    snprintf(buf, sizeof buf, "%lld", o->samples);
    json_object_set_new(opts, "samples", json_string(buf));
    snprintf(buf, sizeof buf, "%llu", o->seed);
    json_object_set_new(opts, "seed", json_string(buf));
    json_object_set_new(opts, "llamacpp-windows", json_string(o->llamacpp ? "on" : "off"));
    json_object_set_new(opts, "output", json_string(o->out));
    int rc = CLI_OK;
    if (mw_state_open(o->run.state_dir, "calibrate", opts, h, state, &err))
        rc = cli_error("%s", err.msg);
    json_decref(opts);
    return rc;
}

static int calibrate(struct opts *o, const char *model, const mw_textdir *td) {
    mw_err err = {{0}};
    mw_tokenizer *tok = NULL;
    mw_calib_set set = {0};
    mw_stats st = {0};
    mw_state *state = NULL;
    cli_progress p;
    mw_run_ctl ctl = {.progress = cli_progress_update, .puser = &p};
    int rc = cli_run_init(&o->run, o->out, &ctl);
    if (rc) return rc;
    mw_model *m = cli_open_model(model);
    if (!m) return CLI_FAIL;
    if (mw_model_tokenizer(m, &tok, &err)) rc = cli_error("%s", err.msg);
    mw_sample_opts so = {
        .ctx = o->ctx, .samples = o->samples, .seed = o->seed, .llamacpp = o->llamacpp};
    if (!rc) rc = cli_calib_set(td, &so, tok, &set);
    if (!rc && o->run.resume) rc = open_state(o, m, &set, &state);
    cli_progress_init(&p, "calibrate");
    /* under mpirun every rank runs its share of the windows; rank 0 writes */
    bool writer = mw_mpi_writer();
    if (!writer) ctl.progress = NULL;
    if (!rc && mw_calib_run_ctl(m, &set, NULL, NULL, &st, &ctl, state, 0, &err))
        rc = cli_run_failed(&o->run, err.msg);
    if (!rc) {
        cli_progress_done(&p);
        st.samples = o->samples;
        st.seed = o->seed;
        st.llamacpp = o->llamacpp;
    }
    for (int i = 0; i < td->n && !rc; i++) {
        char path[4096];
        mw_textdir_path(td, i, path, sizeof path);
        if (mw_stats_add_dataset(&st, path, &err)) rc = cli_error("%s", err.msg);
    }
    if (!rc && writer && mw_stats_write(&st, o->out, &err)) rc = cli_error("%s", err.msg);
    if (!rc && writer) print_summary(&st);
    if (!rc) mw_state_remove(state);
    mw_state_close(state);
    mw_stats_free(&st);
    mw_calib_set_free(&set);
    mw_tokenizer_free(tok);
    mw_model_close(m);
    return rc;
}

int cmd_calibrate(int argc, char **argv) {
    struct opts o;
    int rc = parse_opts(argc, argv, &o);
    if (rc) return rc < 0 ? CLI_OK : rc;
    if (o.threads) omp_set_num_threads((int)o.threads);
    /* under mpirun only rank 0 writes, and a merge is its alone */
    if (!mw_mpi_writer()) {
        if (o.merge) return CLI_OK;
    } else if ((rc = cli_check_writable(o.out))) {
        return rc;
    }
    if (o.merge) return merge_files(&o, argc - optind, argv + optind);
    mw_textdir td;
    if ((rc = cli_open_textdir(o.text_dir, o.langs, &td))) return rc;
    rc = calibrate(&o, argv[optind], &td);
    mw_textdir_close(&td);
    return rc;
}
