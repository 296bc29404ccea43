/* Command-line pieces shared by the subcommands that read calibration text
 * or take numbers: calibrate, prune, convert. */
#ifndef MW_CLI_CLI_CALIB_H
#define MW_CLI_CLI_CALIB_H

#include "calib/calib.h"

#include <stdint.h>

/* Integer option: prints a usage error naming `opt` unless lo <= v <= hi. */
int cli_parse_int(const char *cmd, const char *arg, const char *opt, long long lo, long long hi,
                  long long *out);
/* "5G", "500M", "123" -> bytes (powers of 1000, as Hugging Face counts). */
bool cli_parse_size(const char *s, uint64_t *out);

/* Fails early (before hours of work) when `path` cannot be created. */
int cli_check_writable(const char *path);

/* The shipped calibration text: $MWANDA_DATA/corpus/calib, else the source
 * tree's data/corpus/calib; NULL when neither is known. */
const char *cli_default_text_dir(char *buf, size_t size);

/* Windows of every language of `dir` (NULL: the default) or of the
 * languages listed in `langs`, tokenized with tok. */
int cli_calib_set(const char *dir, const char *langs, const mw_sample_opts *so,
                  const mw_tokenizer *tok, mw_calib_set *set);

#endif
