/* Command-line pieces shared by calibrate, prune and convert. */
#include "cli/cli_calib.h"

#include "calib/textdir.h"
#include "cli/cli.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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
