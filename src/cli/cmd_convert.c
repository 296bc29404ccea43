/* mwanda convert IN OUT [--type f32|f16|bf16] [--shard-size SIZE] */
#include "cli/cli.h"
#include "cli/cli_calib.h"

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

static const char USAGE[] =
    "usage: mwanda convert IN OUT [--type f32|f16|bf16] [--shard-size SIZE]\n"
    "\n"
    "Converts a model between GGUF and Hugging Face safetensors folders, in both\n"
    "directions and within one format. OUT ending in .gguf is written as GGUF;\n"
    "any other OUT is written as a folder (config.json, tokenizer files,\n"
    "safetensors shards). Matrices are written in --type (default f32, lossless\n"
    "from any quantized type); norms and biases stay f32. The llama q/k row\n"
    "order and Gemma's norm offset are converted between the two layouts. The\n"
    "output appears only when complete; a folder OUT must not exist or be empty.\n"
    "\n"
    "  --type T          f32 (default), f16 or bf16\n"
    "  --shard-size SIZE largest safetensors file, e.g. 2G, 500M (default 5G; 0 = one file)\n"
    "  -h, --help        this text\n"
    "\n"
    "examples:\n"
    "  mwanda convert gemma3-270m gemma3-270m-f32.gguf\n"
    "  mwanda convert gemma3-270m gemma3-hf --type bf16\n"
    "  mwanda convert gemma3-hf back.gguf\n";

int cmd_convert(int argc, char **argv) {
    static const struct option OPTS[] = {{"type", required_argument, NULL, 't'},
                                         {"shard-size", required_argument, NULL, 's'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    enum mw_type type = MW_TYPE_F32;
    uint64_t shard = 5000000000ull;
    int c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "ht:", OPTS, NULL)) != -1) {
        switch (c) {
        case 't':
            if (!mw_type_from_name(optarg, &type) ||
                (type != MW_TYPE_F32 && type != MW_TYPE_F16 && type != MW_TYPE_BF16))
                return cli_usage_error("convert", "--type must be f32, f16 or bf16, not '%s'",
                                       optarg);
            break;
        case 's':
            if (!cli_parse_size(optarg, &shard))
                return cli_usage_error("convert", "--shard-size '%s' is not a size", optarg);
            break;
        case 'h':
            fputs(USAGE, stdout);
            return CLI_OK;
        case '?':
            /* getopt sets optopt for a missing value and for an unknown
             * short option alike */
            if (optopt == 't' || optopt == 's')
                return cli_usage_error("convert", "option --%s needs a value",
                                       optopt == 't' ? "type" : "shard-size");
            if (optopt) return cli_usage_error("convert", "unknown option '-%c'", optopt);
            return cli_usage_error("convert", "unknown option '%s'", argv[optind - 1]);
        default:
            return cli_usage_error("convert", "unknown option");
        }
    }
    if (optind != argc - 2) return cli_usage_error("convert", "expected IN and OUT");
    const char *out = argv[optind + 1];
    mw_model *m = cli_open_model(argv[optind]);
    if (!m) return CLI_FAIL;
    cli_progress p;
    cli_progress_init(&p, "convert");
    mw_err err = {{0}};
    enum mw_status s = mw_model_convert(m, out, type, shard, cli_progress_update, &p, &err);
    mw_model_close(m);
    if (s) return cli_error("%s", err.msg[0] ? err.msg : mw_strerror(s));
    cli_progress_done(&p);
    printf("%s\n", out);
    return CLI_OK;
}
