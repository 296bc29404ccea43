/* Command-line pieces shared by calibrate, prune and convert. */
#include "cli/cli_calib.h"

#include "calib/textdir.h"
#include "cli/cli.h"

#include <ctype.h>
#include <signal.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* "5G", "500M", "123" -> bytes (powers of 1000, as Hugging Face counts) */
bool cli_parse_size(const char *s, uint64_t *out) {
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || !(v >= 0) || errno) return false; /* NaN too */
    double mult = 1;
    switch (toupper((unsigned char)*end)) {
    case 0:
        break;
    case 'K':
        mult = 1e3;
        end++;
        break;
    case 'M':
        mult = 1e6;
        end++;
        break;
    case 'G':
        mult = 1e9;
        end++;
        break;
    case 'T':
        mult = 1e12;
        end++;
        break;
    default:
        return false;
    }
    if (toupper((unsigned char)*end) == 'B') end++;
    if (*end || v * mult > 1e18) return false;
    *out = (uint64_t)(v * mult);
    return true;
}

int cli_check_writable(const char *path) {
    struct stat sb;
    if (stat(path, &sb) == 0 && S_ISDIR(sb.st_mode))
        return cli_error("cannot write %s: it is a folder", path);
    char tmp[4096];
    if ((size_t)snprintf(tmp, sizeof tmp, "%s.tmp-XXXXXX", path) >= sizeof tmp)
        return cli_error("cannot write %s: path too long", path);
    int fd = mkstemp(tmp);
    if (fd < 0) return cli_error("cannot write %s: %s", path, strerror(errno));
    close(fd);
    unlink(tmp);
    return CLI_OK;
}

const char *cli_default_text_dir(char *buf, size_t size) {
    const char *data = getenv("MWANDA_DATA");
    if (data && *data) {
        snprintf(buf, size, "%s/corpus/calib", data);
        return buf;
    }
#ifdef MW_DATA_DIR
    snprintf(buf, size, "%s/corpus/calib", MW_DATA_DIR);
    return buf;
#else
    return NULL;
#endif
}

int cli_open_textdir(const char *dir, const char *langs, mw_textdir *td) {
    char buf[4096];
    if (!dir && !(dir = cli_default_text_dir(buf, sizeof buf)))
        return cli_error("give the calibration text folder with --text DIR");
    mw_err err = {{0}};
    if (mw_textdir_open(dir, langs, td, &err)) return cli_error("%s", err.msg);
    return CLI_OK;
}

int cli_calib_set(const mw_textdir *td, const mw_sample_opts *so, const mw_tokenizer *tok,
                  mw_calib_set *set) {
    mw_err err = {{0}};
    if (mw_calib_set_create(set, so->ctx, &err)) return cli_error("%s", err.msg);
    for (int i = 0; i < td->n; i++) {
        char *text = NULL;
        size_t len = 0;
        enum mw_status s = mw_textdir_read(td, i, &text, &len, &err);
        if (!s) s = mw_calib_set_add_text(set, tok, td->langs[i], text, len, so, &err);
        free(text);
        if (s) return cli_error("%s", err.msg);
    }
    return CLI_OK;
}

/* ---- --mem, --resume, signals ------------------------------------------- */

static bool interrupted(void *user) {
    (void)user;
    return cli_signal_received() != 0;
}

/* The test hook: after N saved blocks, the signal of MWANDA_TEST_KILL_SIGNAL
 * (INT, TERM; default KILL) to itself. */
static long long g_kill_after;
static int g_kill_signal = SIGKILL;

static void test_kill(void *user, int pass, int64_t block) {
    (void)user;
    (void)pass;
    (void)block;
    static long long saved;
    if (g_kill_after > 0 && ++saved == g_kill_after) raise(g_kill_signal);
}

/* The folder holding path (a folder output's parent). */
static void parent_dir(const char *path, char *buf, size_t size) {
    snprintf(buf, size, "%s", path);
    size_t n = strlen(buf);
    while (n > 1 && buf[n - 1] == '/')
        buf[--n] = 0;
    char *slash = strrchr(buf, '/');
    if (!slash)
        snprintf(buf, size, ".");
    else if (slash == buf)
        buf[1] = 0;
    else
        *slash = 0;
}

int cli_run_init(cli_run *r, const char *out, mw_run_ctl *ctl) {
    const char *k = getenv("MWANDA_TEST_KILL_AFTER_BLOCK");
    const char *sig = getenv("MWANDA_TEST_KILL_SIGNAL");
    g_kill_after = k && *k ? strtoll(k, NULL, 10) : 0;
    if (sig && strcmp(sig, "INT") == 0) g_kill_signal = SIGINT;
    if (sig && strcmp(sig, "TERM") == 0) g_kill_signal = SIGTERM;
    size_t n = strlen(out);
    while (n > 1 && out[n - 1] == '/')
        n--;
    if ((size_t)snprintf(r->state_dir, sizeof r->state_dir, "%.*s.mwanda-state", (int)n, out) >=
        sizeof r->state_dir)
        return cli_error("output path too long: %s", out);
    const char *tmp = getenv("TMPDIR");
    if (tmp && *tmp)
        snprintf(r->spill_dir, sizeof r->spill_dir, "%s", tmp);
    else
        parent_dir(out, r->spill_dir, sizeof r->spill_dir);
    struct stat sb;
    if (!r->resume && stat(r->state_dir, &sb) == 0)
        return cli_error("%s holds the state of an interrupted run: add --resume to continue it, "
                         "or remove the folder",
                         r->state_dir);
    cli_signals_polite();
    ctl->mem = r->mem;
    ctl->spill_dir = r->spill_dir;
    ctl->state_dir = r->resume ? r->state_dir : NULL;
    ctl->cancel = interrupted;
    ctl->saved = g_kill_after > 0 ? test_kill : NULL;
    return CLI_OK;
}

int cli_run_failed(const cli_run *r, const char *msg) {
    int sig = cli_signal_received();
    if (!sig) return cli_error("%s", msg);
    struct stat sb;
    if (r->resume && stat(r->state_dir, &sb) == 0)
        fprintf(stderr, "mwanda: interrupted; %s is kept: the same command continues it\n",
                r->state_dir);
    else
        fprintf(stderr, "mwanda: interrupted\n");
    return 128 + sig;
}
