#include "cli/cli.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static void vprint_error(const char *fmt, va_list ap) {
    char msg[1024];
    vsnprintf(msg, sizeof msg, fmt, ap);
    for (char *c = msg; *c; c++)
        if (*c == '\n' || *c == '\r') *c = ' '; /* errors stay on one line */
    fprintf(stderr, "mwanda: error: %s\n", msg);
}

int cli_error(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vprint_error(fmt, ap);
    va_end(ap);
    return CLI_FAIL;
}

int cli_usage_error(const char *cmd, const char *fmt, ...) {
    char msg[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (cmd)
        fprintf(stderr, "mwanda: error: %s (see mwanda %s --help)\n", msg, cmd);
    else
        fprintf(stderr, "mwanda: error: %s\n", msg);
    return CLI_USAGE;
}

static const char *const ALIASES[] = {"gemma3-270m", "smollm2-135m", NULL};

const char *cli_model_path(const char *arg, char *buf, size_t size) {
    struct stat st;
    int alias = -1;
    for (int i = 0; ALIASES[i]; i++)
        if (strcmp(arg, ALIASES[i]) == 0) alias = i;
    if (alias < 0 || stat(arg, &st) == 0) return arg;
    const char *models = getenv("MWANDA_MODELS"), *cache = getenv("MWANDA_CACHE");
    const char *home = getenv("HOME");
    if (models && *models)
        snprintf(buf, size, "%s/%s.gguf", models, arg);
    else if (cache && *cache)
        snprintf(buf, size, "%s/models/%s.gguf", cache, arg);
    else
        snprintf(buf, size, "%s/.cache/mwanda/models/%s.gguf", home ? home : ".", arg);
    if (stat(buf, &st) != 0) {
        cli_error("model '%s' is not installed (looked for %s); run scripts/setup.sh --models", arg,
                  buf);
        return NULL;
    }
    return buf;
}

mw_model *cli_open_model(const char *arg) {
    char buf[4096];
    const char *path = cli_model_path(arg, buf, sizeof buf);
    if (!path) return NULL;
    mw_model *m = NULL;
    mw_err err = {{0}};
    enum mw_status s = mw_model_open(path, &m, &err);
    if (s) {
        cli_error("%s", err.msg[0] ? err.msg : mw_strerror(s));
        return NULL;
    }
    return m;
}

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void cli_progress_init(cli_progress *p, const char *task) {
    p->task = task;
    p->start = now();
    p->last_print = 0;
    p->tty = isatty(STDERR_FILENO);
}

void cli_progress_update(void *user, const char *what, int64_t done, int64_t total) {
    cli_progress *p = user;
    double t = now(), elapsed = t - p->start;
    /* a terminal gets a live line; a log gets a line every few seconds */
    double every = p->tty ? 0.1 : 5.0;
    if (done < total && t - p->last_print < every) return;
    p->last_print = t;
    double left = done > 0 ? elapsed * (double)(total - done) / (double)done : 0;
    fprintf(stderr, "%s%s: %lld/%lld (%.0f%%) %-40.40s elapsed %.0fs, left ~%.0fs%s",
            p->tty ? "\r" : "", p->task, (long long)done, (long long)total,
            total ? 100.0 * (double)done / (double)total : 100.0, what, elapsed, left,
            p->tty ? "\033[K" : "\n");
}

void cli_progress_done(cli_progress *p) {
    if (p->tty) fputc('\n', stderr);
    fprintf(stderr, "%s: done in %.1fs\n", p->task, now() - p->start);
}

int cli_write_json(const char *path, const json_t *doc) {
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp-XXXXXX", path);
    int fd = mkstemp(tmp);
    if (fd < 0) return cli_error("cannot create %s", path);
    FILE *f = fdopen(fd, "w");
    bool ok =
        f && json_dumpf(doc, f, JSON_INDENT(2) | JSON_PRESERVE_ORDER) == 0 && fputc('\n', f) != EOF;
    if (f)
        ok = fclose(f) == 0 && ok;
    else
        close(fd);
    chmod(tmp, 0644);
    if (!ok || rename(tmp, path) != 0) {
        unlink(tmp);
        return cli_error("cannot write %s", path);
    }
    return CLI_OK;
}

int cli_parse_int(const char *cmd, const char *arg, const char *opt, long long lo, long long hi,
                  long long *out) {
    char *end = NULL;
    errno = 0;
    long long v = strtoll(arg, &end, 10);
    if (!*arg || *end || errno || v < lo || v > hi)
        return cli_usage_error(cmd, "%s must be %lld to %lld, not '%s'", opt, lo, hi, arg);
    *out = v;
    return CLI_OK;
}
