/* mwanda: one-shot pruning of multilingual language models. */
#include "cli/cli.h"

#include <string.h>

struct command {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
};

static const struct command COMMANDS[] = {
    {"inspect", cmd_inspect, "show a model's architecture, tensors and parameter counts"},
    {"convert", cmd_convert, "convert between GGUF and safetensors folders, f32/f16/bf16"},
    {"tokenize", cmd_tokenize, "text to token ids and back, as llama.cpp or Hugging Face do"},
    {"eval", cmd_eval, "per-language perplexity and bits per byte"},
    {"calibrate", cmd_calibrate, "per-language activation statistics (an imatrix GGUF)"},
    {"prune", cmd_prune, "prune with magnitude, Wanda, OWL or M-Wanda"},
    {"report", cmd_report, "Markdown report with SVG charts from prune and eval runs"},
};
#define N_COMMANDS (sizeof COMMANDS / sizeof COMMANDS[0])

static void usage(FILE *f) {
    fprintf(f, "usage: mwanda [--version] [--help] COMMAND [ARGS]\n\ncommands:\n");
    for (size_t i = 0; i < N_COMMANDS; i++)
        fprintf(f, "  %-10s %s\n", COMMANDS[i].name, COMMANDS[i].summary);
    fprintf(f, "\nMODEL is a GGUF file, a Hugging Face safetensors folder, or one of the\n"
               "installed aliases gemma3-270m, smollm2-135m.\n"
               "Run 'mwanda COMMAND --help' for a command's options.\n");
}

int main(int argc, char **argv) {
    if (argc < 2) return cli_usage_error(NULL, "no command given (see mwanda --help)");
    const char *cmd = argv[1];
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
        usage(stdout);
        return CLI_OK;
    }
    if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "-V") == 0) {
        printf("mwanda %s\n", mw_version());
        return CLI_OK;
    }
    for (size_t i = 0; i < N_COMMANDS; i++)
        if (strcmp(cmd, COMMANDS[i].name) == 0) return COMMANDS[i].run(argc - 1, argv + 1);
    return cli_usage_error(NULL, "unknown command '%s' (see mwanda --help)", cmd);
}
