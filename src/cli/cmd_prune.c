/* mwanda prune MODEL --method M --sparsity S [--pattern P] [calibration] -o OUT */
#include "cli/cli.h"

#include "calib/mpi.h"
#include "cli/cli_calib.h"
#include "prune/driver.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

static const char USAGE[] =
    "usage: mwanda prune MODEL --method magnitude|wanda|owl|mwanda [--sparsity S]\n"
    "                    [--pattern unstructured|2:4|4:8|N:M]\n"
    "                    [--text DIR] [--langs de,fr,...] [--samples N|all] [--ctx T]\n"
    "                    [--seed S] [--llamacpp-windows] | [--stats FILE]\n"
    "                    [--type f32|f16|bf16] [--shard-size SIZE] [--threads N]\n"
    "                    [--mem SIZE] [--resume] [--json FILE] -o OUT\n"
    "\n"
    "Prunes every linear layer of the decoder blocks in one shot and writes the\n"
    "model as GGUF (OUT ending in .gguf) or as a Hugging Face folder. Pruned\n"
    "weights are stored as zeros in a dense model (GGUF has no sparse type).\n"
    "Embeddings, the output head and norms are never pruned.\n"
    "\n"
    "Methods:\n"
    "  magnitude  |W|, one threshold per matrix (per group for N:M)\n"
    "  wanda      |W| * ||X||, lowest scores of each row\n"
    "  owl        Wanda with a sparsity per block from its share of outlier scores\n"
    "  mwanda     M-Wanda: Wanda's score with optional language-balanced\n"
    "             activations, their cross-lingual spread and activation\n"
    "             probability, and a sparsity per block from cross-lingual\n"
    "             correlation (CWL); defaults from docs/ablation.md: CWL on\n"
    "             (1-r, 0.02), the score terms off\n"
    "With calibration text the statistics of each block are taken after the\n"
    "earlier blocks were pruned (Wanda's sequential procedure); with --stats\n"
    "(a file of `mwanda calibrate`) the weights are pruned in one pass.\n"
    "\n"
    "  --method M            magnitude, wanda, owl or mwanda\n"
    "  --sparsity S          share of each block's weights to zero, 0 <= S < 1\n"
    "                        (default 0.5; N:M patterns set it to N/M)\n"
    "  --pattern P           unstructured (default), 2:4, 4:8 or any N:M\n"
    "  --text DIR, --langs LIST, --samples N|all, --ctx T, --seed S,\n"
    "  --llamacpp-windows    calibration windows, as for `mwanda calibrate`\n"
    "                        (default: the shipped corpus, 16 windows of 256)\n"
    "  --stats FILE          statistics of `mwanda calibrate` instead of text\n"
    "  --lambda X            M-Wanda: weight of the cross-lingual spread (default 0)\n"
    "  --gamma X             M-Wanda: exponent of the activation probability (0: off)\n"
    "  --prob mean|max       M-Wanda: how the languages' probabilities combine (mean)\n"
    "  --balance             M-Wanda: language-balanced activations (default: pooled;\n"
    "                        --no-balance says so explicitly)\n"
    "  --cwl on|off          M-Wanda: sparsity per block from correlation (on)\n"
    "  --cwl-dir 1-r|r       which blocks CWL spares: where languages differ (1-r)\n"
    "                        or where they agree (r)\n"
    "  --cwl-lambda X        CWL: largest deviation from the target (default 0.02)\n"
    "  --owl-m X             OWL: outlier threshold in means (default 5)\n"
    "  --owl-lambda X        OWL: largest deviation from the target (default 0.08)\n"
    "  --type T              f32 (default), f16 or bf16\n"
    "  --shard-size SIZE     largest safetensors file of a folder (default 5G)\n"
    "  --threads N           threads (default: all cores)\n"
    "  --mem SIZE            memory for calibration activations (4G = 4e9 bytes;\n"
    "                        default: no limit); the windows beyond it go to a\n"
    "                        temporary file in $TMPDIR, else beside OUT. One block\n"
    "                        of weights in f32 and its scratch come on top\n"
    "  --resume              keep the run's state in OUT.mwanda-state/ after every\n"
    "                        block and, when it is there, continue from it; the\n"
    "                        result is the same bytes as an uninterrupted run.\n"
    "                        Without --resume an existing state is refused\n"
    "  --json FILE           what was done, per block and tensor\n"
    "  -o, --output OUT      the pruned model\n"
    "  -h, --help            this text\n"
    "\n"
    "examples:\n"
    "  mwanda prune gemma3-270m --method wanda --sparsity 0.5 -o wanda50.gguf\n"
    "  mwanda prune gemma3-270m --method mwanda --langs de,fr,sw,hi -o mw50.gguf\n"
    "  mwanda calibrate gemma3-270m -o stats.gguf\n"
    "  mwanda prune gemma3-270m --method wanda --pattern 2:4 --stats stats.gguf -o w24\n"
    "  mwanda prune llama-3b/ --method wanda --mem 4G --resume -o wanda50.gguf\n"
    "\n"
    "Ctrl-C stops at the next block or group of windows, removes the partial\n"
    "output (keeping the state with --resume) and exits with 130.\n";

struct opts {
    const char *text_dir, *langs, *out, *stats, *json;
    bool llamacpp, sparsity_given;
    long long samples, ctx, threads;
    unsigned long long seed;
    mw_prune_opts p;
    bool method_given;
    cli_run run;
};

static int bad(const char *fmt, const char *a, const char *b) {
    return cli_usage_error("prune", fmt, a, b);
}

static int parse_real(const char *arg, const char *opt, double lo, double hi, double *out) {
    char *end = NULL;
    errno = 0;
    double v = strtod(arg, &end);
    if (!*arg || *end || errno || !(v >= lo && v <= hi))
        return cli_usage_error("prune", "%s must be a number from %g to %g, not '%s'", opt, lo, hi,
                               arg);
    *out = v;
    return CLI_OK;
}

enum {
    O_TEXT = 256,
    O_LANGS,
    O_SAMPLES,
    O_CTX,
    O_SEED,
    O_LLAMACPP,
    O_STATS,
    O_LAMBDA,
    O_GAMMA,
    O_PROB,
    O_NO_BALANCE,
    O_BALANCE,
    O_CWL,
    O_CWL_DIR,
    O_CWL_LAMBDA,
    O_OWL_M,
    O_OWL_LAMBDA,
    O_TYPE,
    O_SHARD,
    O_THREADS,
    O_JSON,
    O_METHOD,
    O_SPARSITY,
    O_PATTERN,
    O_MEM,
    O_RESUME,
};

static int parse_option(int c, struct opts *o, char **argv) {
    mw_err err = {{0}};
    long long v;
    switch (c) {
    case O_TEXT:
        o->text_dir = optarg;
        return CLI_OK;
    case O_LANGS:
        o->langs = optarg;
        return CLI_OK;
    case O_STATS:
        o->stats = optarg;
        return CLI_OK;
    case O_JSON:
        o->json = optarg;
        return CLI_OK;
    case 'o':
        o->out = optarg;
        return CLI_OK;
    case O_LLAMACPP:
        o->llamacpp = true;
        return CLI_OK;
    case O_RESUME:
        o->run.resume = true;
        return CLI_OK;
    case O_MEM:
        if (!cli_parse_size(optarg, &o->run.mem) || o->run.mem == 0)
            return bad("--mem '%s' is not a size%s", optarg, "");
        return CLI_OK;
    case O_NO_BALANCE:
        o->p.score.balance = false;
        return CLI_OK;
    case O_BALANCE:
        o->p.score.balance = true;
        return CLI_OK;
    case O_SAMPLES:
        if (strcmp(optarg, "all") == 0) {
            o->samples = -1;
            return CLI_OK;
        }
        return cli_parse_int("prune", optarg, "--samples", 1, 1000000000, &o->samples);
    case O_CTX:
        return cli_parse_int("prune", optarg, "--ctx", 2, 1 << 20, &o->ctx);
    case O_THREADS:
        return cli_parse_int("prune", optarg, "--threads", 1, 1024, &o->threads);
    case O_SEED:
        if (cli_parse_int("prune", optarg, "--seed", 0, INT64_MAX, &v)) return CLI_USAGE;
        o->seed = (unsigned long long)v;
        return CLI_OK;
    case O_METHOD: {
        enum mw_method m;
        if (!mw_method_parse(optarg, &m))
            return bad("unknown method '%s'%s (magnitude, wanda, owl, mwanda)", optarg, "");
        /* the method's defaults first; the other options refine them */
        mw_prune_opts_init(&o->p, m);
        o->method_given = true;
        return CLI_OK;
    }
    case O_SPARSITY:
        o->sparsity_given = true;
        return parse_real(optarg, "--sparsity", 0, 0.999999, &o->p.sparsity);
    case O_PATTERN:
        if (mw_pattern_parse(optarg, &o->p.pattern, &err))
            return cli_usage_error("prune", "--pattern: %s", err.msg);
        return CLI_OK;
    case O_LAMBDA:
        return parse_real(optarg, "--lambda", 0, 1e6, &o->p.score.lambda);
    case O_GAMMA:
        return parse_real(optarg, "--gamma", 0, 1e6, &o->p.score.gamma);
    case O_CWL_LAMBDA:
        return parse_real(optarg, "--cwl-lambda", 0, 0.5, &o->p.cwl_lambda);
    case O_OWL_M:
        return parse_real(optarg, "--owl-m", 1e-6, 1e6, &o->p.owl_m);
    case O_OWL_LAMBDA:
        return parse_real(optarg, "--owl-lambda", 0, 0.5, &o->p.owl_lambda);
    case O_PROB:
        if (strcmp(optarg, "mean") == 0)
            o->p.score.prob_agg = MW_PROB_MEAN;
        else if (strcmp(optarg, "max") == 0)
            o->p.score.prob_agg = MW_PROB_MAX;
        else
            return bad("--prob must be mean or max, not '%s'%s", optarg, "");
        return CLI_OK;
    case O_CWL:
        if (strcmp(optarg, "on") == 0)
            o->p.cwl = true;
        else if (strcmp(optarg, "off") == 0)
            o->p.cwl = false;
        else
            return bad("--cwl must be on or off, not '%s'%s", optarg, "");
        return CLI_OK;
    case O_CWL_DIR:
        if (strcmp(optarg, "1-r") == 0)
            o->p.cwl_dir = MW_CWL_ONE_MINUS_R;
        else if (strcmp(optarg, "r") == 0)
            o->p.cwl_dir = MW_CWL_R;
        else
            return bad("--cwl-dir must be 1-r or r, not '%s'%s", optarg, "");
        return CLI_OK;
    case O_TYPE:
        if (strcmp(optarg, "f32") == 0)
            o->p.type = MW_TYPE_F32;
        else if (strcmp(optarg, "f16") == 0)
            o->p.type = MW_TYPE_F16;
        else if (strcmp(optarg, "bf16") == 0)
            o->p.type = MW_TYPE_BF16;
        else
            return bad("--type must be f32, f16 or bf16, not '%s'%s", optarg, "");
        return CLI_OK;
    case O_SHARD:
        if (!cli_parse_size(optarg, &o->p.max_shard_bytes))
            return bad("--shard-size '%s' is not a size%s", optarg, "");
        return CLI_OK;
    case ':':
        return bad("option %s needs a value%s", argv[optind - 1], "");
    default:
        return bad("unknown option '%s'%s", argv[optind - 1], "");
    }
}

/* Options that only some methods read: the method must come first so that
 * its defaults do not overwrite them, hence two passes over argv. */
static int parse_opts(int argc, char **argv, struct opts *o) {
    static const struct option OPTS[] = {{"method", required_argument, NULL, O_METHOD},
                                         {"sparsity", required_argument, NULL, O_SPARSITY},
                                         {"pattern", required_argument, NULL, O_PATTERN},
                                         {"text", required_argument, NULL, O_TEXT},
                                         {"langs", required_argument, NULL, O_LANGS},
                                         {"samples", required_argument, NULL, O_SAMPLES},
                                         {"ctx", required_argument, NULL, O_CTX},
                                         {"seed", required_argument, NULL, O_SEED},
                                         {"llamacpp-windows", no_argument, NULL, O_LLAMACPP},
                                         {"stats", required_argument, NULL, O_STATS},
                                         {"lambda", required_argument, NULL, O_LAMBDA},
                                         {"gamma", required_argument, NULL, O_GAMMA},
                                         {"prob", required_argument, NULL, O_PROB},
                                         {"no-balance", no_argument, NULL, O_NO_BALANCE},
                                         {"balance", no_argument, NULL, O_BALANCE},
                                         {"cwl", required_argument, NULL, O_CWL},
                                         {"cwl-dir", required_argument, NULL, O_CWL_DIR},
                                         {"cwl-lambda", required_argument, NULL, O_CWL_LAMBDA},
                                         {"owl-m", required_argument, NULL, O_OWL_M},
                                         {"owl-lambda", required_argument, NULL, O_OWL_LAMBDA},
                                         {"type", required_argument, NULL, O_TYPE},
                                         {"shard-size", required_argument, NULL, O_SHARD},
                                         {"threads", required_argument, NULL, O_THREADS},
                                         {"json", required_argument, NULL, O_JSON},
                                         {"mem", required_argument, NULL, O_MEM},
                                         {"resume", no_argument, NULL, O_RESUME},
                                         {"output", required_argument, NULL, 'o'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    memset(o, 0, sizeof *o);
    o->samples = 16;
    o->ctx = 256;
    o->p.max_shard_bytes = 5000000000ull;
    opterr = 0;
    for (int pass = 0; pass < 2; pass++) {
        int c;
        optind = 1;
        while ((c = getopt_long(argc, argv, ":ho:", OPTS, NULL)) != -1) {
            if (c == 'h') {
                fputs(USAGE, stdout);
                return -1;
            }
            if ((pass == 0) != (c == O_METHOD || c == ':' || c == '?')) continue;
            int rc = parse_option(c, o, argv);
            if (rc) return rc;
        }
        if (pass == 0 && !o->method_given)
            return cli_usage_error("prune", "give the method with --method");
    }
    if (!o->out) return cli_usage_error("prune", "give the output with -o OUT");
    if (optind != argc - 1) return cli_usage_error("prune", "expected one MODEL");
    if (o->stats && (o->text_dir || o->langs || o->llamacpp))
        return cli_usage_error("prune", "--stats replaces calibration text: give one or the other");
    if (o->p.pattern.m > 0 && o->sparsity_given)
        return cli_usage_error("prune", "an N:M pattern sets the sparsity: leave out --sparsity");
    return CLI_OK;
}

static json_t *report_json(const struct opts *o, const char *model, const mw_prune_report *r,
                           const mw_calib_set *set, const mw_stats *st) {
    const mw_prune_opts *p = &o->p;
    char pattern[32];
    mw_pattern_format(p->pattern, pattern, sizeof pattern);
    json_t *doc = json_object();
    json_object_set_new(doc, "model", json_string(model));
    json_object_set_new(doc, "output", json_string(o->out));
    json_object_set_new(doc, "method", json_string(mw_method_name(p->method)));
    json_object_set_new(doc, "pattern", json_string(pattern));
    json_object_set_new(doc, "target", json_real(r->target));
    json_object_set_new(doc, "achieved", json_real(r->achieved));
    json_t *opt = json_object();
    if (p->method == MW_METHOD_MWANDA) {
        json_object_set_new(opt, "balance", json_boolean(p->score.balance));
        json_object_set_new(opt, "lambda", json_real(p->score.lambda));
        json_object_set_new(opt, "gamma", json_real(p->score.gamma));
        json_object_set_new(opt, "prob",
                            json_string(p->score.prob_agg == MW_PROB_MAX ? "max" : "mean"));
        json_object_set_new(opt, "cwl", json_boolean(p->cwl));
        if (p->cwl) {
            json_object_set_new(opt, "cwl_dir", json_string(p->cwl_dir == MW_CWL_R ? "r" : "1-r"));
            json_object_set_new(opt, "cwl_lambda", json_real(p->cwl_lambda));
        }
    }
    if (p->method == MW_METHOD_OWL) {
        json_object_set_new(opt, "owl_m", json_real(p->owl_m));
        json_object_set_new(opt, "owl_lambda", json_real(p->owl_lambda));
    }
    json_object_set_new(doc, "options", opt);
    json_object_set_new(doc, "clamped_blocks", json_integer(r->n_clamped));
    if (set || st) {
        json_t *cal = json_object(), *langs = json_array();
        int n = set ? set->n_lang : st->n_lang;
        for (int l = 0; l < n; l++)
            json_array_append_new(langs, json_string(set ? set->langs[l] : st->langs[l]));
        json_object_set_new(cal, "languages", langs);
        long long samples = set ? o->samples : st->samples;
        json_object_set_new(cal, "samples",
                            samples < 0 ? json_string("all") : json_integer(samples));
        json_object_set_new(cal, "ctx", json_integer(set ? o->ctx : st->ctx));
        json_object_set_new(cal, "seed", json_integer((json_int_t)(set ? o->seed : st->seed)));
        json_object_set_new(cal, "windows", json_integer(set ? set->n_win : 0));
        json_object_set_new(cal, "llamacpp_windows",
                            json_boolean(set ? o->llamacpp : st->llamacpp));
        if (o->stats) json_object_set_new(cal, "stats", json_string(o->stats));
        json_object_set_new(cal, "procedure", json_string(set ? "sequential" : "one pass"));
        json_object_set_new(doc, "calibration", cal);
    } else {
        json_object_set_new(doc, "calibration", json_null());
    }
    json_t *blocks = json_array();
    for (int64_t b = 0; b < r->n_layer; b++) {
        json_t *e = json_object();
        json_object_set_new(e, "index", json_integer(b));
        json_object_set_new(e, "target", json_real(r->block_target[b]));
        json_object_set_new(e, "achieved", json_real(r->block_achieved[b]));
        json_object_set_new(e, "score",
                            isnan(r->block_score[b]) ? json_null() : json_real(r->block_score[b]));
        json_array_append_new(blocks, e);
    }
    json_object_set_new(doc, "blocks", blocks);
    json_t *tensors = json_object();
    for (int64_t k = 0; k < r->n_tensors; k++) {
        json_t *e = json_object();
        json_object_set_new(e, "zeros", json_integer(r->tensors[k].zeros));
        json_object_set_new(e, "total", json_integer(r->tensors[k].total));
        json_object_set_new(tensors, r->tensors[k].name, e);
    }
    json_object_set_new(doc, "tensors", tensors);
    return doc;
}

static void print_summary(const struct opts *o, const mw_prune_report *r) {
    printf("| block | target | achieved |\n|---:|---:|---:|\n");
    for (int64_t b = 0; b < r->n_layer; b++)
        printf("| %lld | %.4f | %.4f |\n", (long long)b, r->block_target[b], r->block_achieved[b]);
    printf("\n%s: %s, target %.4f, achieved %.4f of the prunable weights -> %s\n", "prune",
           mw_method_name(o->p.method), r->target, r->achieved, o->out);
}

static int run(struct opts *o, const char *model_arg) {
    mw_err err = {{0}};
    mw_tokenizer *tok = NULL;
    mw_calib_set set = {0};
    mw_stats st = {0};
    bool use_set = false, use_stats = false;
    cli_progress p;
    mw_run_ctl ctl = {.progress = cli_progress_update, .puser = &p};
    int rc = cli_run_init(&o->run, o->out, &ctl);
    if (rc) return rc;
    mw_model *m = cli_open_model(model_arg);
    if (!m) return CLI_FAIL;
    if (o->stats) {
        if (mw_stats_read(o->stats, &st, &err)) rc = cli_error("%s", err.msg);
        use_stats = !rc;
    } else if (o->p.method != MW_METHOD_MAGNITUDE) {
        mw_sample_opts so = {
            .ctx = o->ctx, .samples = o->samples, .seed = o->seed, .llamacpp = o->llamacpp};
        if (mw_model_tokenizer(m, &tok, &err)) rc = cli_error("%s", err.msg);
        mw_textdir td;
        if (!rc && !(rc = cli_open_textdir(o->text_dir, o->langs, &td))) {
            rc = cli_calib_set(&td, &so, tok, &set);
            mw_textdir_close(&td);
        }
        use_set = !rc;
    }
    mw_prune_report rep = {0};
    cli_progress_init(&p, "prune");
    /* under mpirun every rank runs its share of the windows and prunes
     * alike, rank 0 writes (the library sees to it); without windows the
     * others have nothing to do */
    bool writer = mw_mpi_writer();
    if (!writer) ctl.progress = NULL;
    if (!rc && (writer || use_set) &&
        mw_prune_model_ctl(m, use_set ? &set : NULL, use_stats ? &st : NULL, &o->p, o->out, &rep,
                           &ctl, &err))
        rc = cli_run_failed(&o->run, err.msg);
    if (!rc && writer) {
        cli_progress_done(&p);
        if (o->json) {
            json_t *doc =
                report_json(o, model_arg, &rep, use_set ? &set : NULL, use_stats ? &st : NULL);
            rc = cli_write_json(o->json, doc);
            json_decref(doc);
        }
        print_summary(o, &rep);
    }
    mw_prune_report_free(&rep);
    mw_stats_free(&st);
    mw_calib_set_free(&set);
    mw_tokenizer_free(tok);
    mw_model_close(m);
    return rc;
}

int cmd_prune(int argc, char **argv) {
    struct opts o;
    int rc = parse_opts(argc, argv, &o);
    if (rc) return rc < 0 ? CLI_OK : rc;
    if (o.threads) omp_set_num_threads((int)o.threads);
    size_t n = strlen(o.out);
    bool writer = mw_mpi_writer(); /* rank 0 under mpirun */
    /* a folder is checked by its writer; a file before any work starts */
    if (writer && n > 5 && strcmp(o.out + n - 5, ".gguf") == 0 && (rc = cli_check_writable(o.out)))
        return rc;
    if (writer && o.json && (rc = cli_check_writable(o.json))) return rc;
    return run(&o, argv[optind]);
}
