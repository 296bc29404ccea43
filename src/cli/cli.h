/* The mwanda command line: one file per subcommand. */
#ifndef MW_CLI_CLI_H
#define MW_CLI_CLI_H

#include "mwanda.h"

#include <jansson.h>
#include <stdio.h>

/* Exit codes */
enum { CLI_OK = 0, CLI_FAIL = 1, CLI_USAGE = 2 };

/* Prints "mwanda: error: <message>" on one line and returns CLI_FAIL. */
int cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Same for a wrong command line; returns CLI_USAGE. */
int cli_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Integer option: prints a usage error naming `opt` unless lo <= v <= hi. */
int cli_parse_int(const char *cmd, const char *arg, const char *opt, long long lo, long long hi,
                  long long *out);

/* Turns a model alias (gemma3-270m, smollm2-135m) into the installed file;
 * other arguments are returned unchanged. NULL (with a message printed) when
 * an alias is not installed. */
const char *cli_model_path(const char *arg, char *buf, size_t size);
/* Opens a model given on the command line; prints the error. */
mw_model *cli_open_model(const char *arg);

/* Writes a JSON document to path, complete or not at all (temporary file,
 * then rename); prints the error. */
int cli_write_json(const char *path, const json_t *doc);

/* Signal handlers for the whole run (signals.c): outputs being written are
 * removed, then the process dies of the signal. */
void cli_signals_install(void);
/* From now on the first signal is a request to stop at a safe point. */
void cli_signals_polite(void);
/* The signal that asked to stop, or 0. */
int cli_signal_received(void);

/* Progress on stderr: what, how far, time left. */
typedef struct cli_progress {
    const char *task;
    double start;
    double last_print;
    bool tty;
} cli_progress;
void cli_progress_init(cli_progress *p, const char *task);
void cli_progress_update(void *p, const char *what, int64_t done, int64_t total);
void cli_progress_done(cli_progress *p);

int cmd_inspect(int argc, char **argv);
int cmd_convert(int argc, char **argv);
int cmd_tokenize(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_eval_tasks(int argc, char **argv);
int cmd_calibrate(int argc, char **argv);
int cmd_prune(int argc, char **argv);
int cmd_report(int argc, char **argv);

#endif
