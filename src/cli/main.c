/* mwanda: one-shot pruning of multilingual language models. */
#include "cli/cli.h"

#include "calib/mpi.h"

#include <fcntl.h>
#include <string.h>
#include <unistd.h>

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

static int run_command(int argc, char **argv) {
    if (argc < 2) return cli_usage_error(NULL, "no command given (see mwanda --help)");
    const char *cmd = argv[1];
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
        usage(stdout);
        return CLI_OK;
    }
    if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "-V") == 0) {
        printf("mwanda %s%s\n", mw_version(), mw_mpi_built() ? " (MPI)" : "");
        return CLI_OK;
    }
    if (mw_mpi_size() > 1 && strcmp(cmd, "calibrate") != 0 && strcmp(cmd, "prune") != 0 &&
        strcmp(cmd, "eval") != 0)
        return cli_usage_error(
            NULL, "only calibrate, prune and eval run across processes, not '%s'", cmd);
    for (size_t i = 0; i < N_COMMANDS; i++)
        if (strcmp(cmd, COMMANDS[i].name) == 0) return COMMANDS[i].run(argc - 1, argv + 1);
    return cli_usage_error(NULL, "unknown command '%s' (see mwanda --help)", cmd);
}

/* Ranks other than 0 print nothing: stdout goes nowhere, stderr to a
 * temporary file whose last error line is all rank 0 needs to hear of. */
static FILE *silence(void) {
    fflush(stdout);
    fflush(stderr);
    int null = open("/dev/null", O_WRONLY);
    if (null >= 0) {
        dup2(null, STDOUT_FILENO);
        close(null);
    }
    FILE *log = tmpfile();
    dup2(log ? fileno(log) : STDOUT_FILENO, STDERR_FILENO);
    return log;
}

static void last_error(FILE *log, mw_err *e) {
    static const char PREFIX[] = "mwanda: error: ";
    char line[sizeof e->msg + sizeof PREFIX];
    fflush(stderr);
    rewind(log);
    while (fgets(line, sizeof line, log))
        if (strncmp(line, PREFIX, sizeof PREFIX - 1) == 0) {
            const char *msg = line + sizeof PREFIX - 1;
            size_t n = strcspn(msg, "\n");
            n = n < sizeof e->msg - 1 ? n : sizeof e->msg - 1;
            memcpy(e->msg, msg, n);
            e->msg[n] = '\0';
        }
}

/* Under mpirun: rank 0 speaks for all; every rank agrees on the outcome
 * (calib/mpi.h) and exits with the same code. */
static int run_mpi(int argc, char **argv) {
    FILE *log = mw_mpi_rank() > 0 ? silence() : NULL;
    int rc = run_command(argc, argv);
    mw_err e;
    snprintf(e.msg, sizeof e.msg, "exit code %d", rc);
    if (rc && log) last_error(log, &e);
    if (mw_mpi_agree(rc ? MW_ERR_ARG : MW_OK, -1, &e) && !rc) {
        if (mw_mpi_writer()) cli_error("%s", e.msg); /* for the process that failed */
        rc = CLI_FAIL;
    }
    if (log) fclose(log);
    mw_mpi_stop();
    return rc;
}

int main(int argc, char **argv) {
    bool mpi = mw_mpi_start(&argc, &argv);
    cli_signals_install(); /* after MPI_Init: its handlers, if any, give way */
    return mpi ? run_mpi(argc, argv) : run_command(argc, argv);
}
