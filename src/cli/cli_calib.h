/* Command-line pieces shared by the subcommands that read calibration text
 * or take numbers: calibrate, prune, convert. */
#ifndef MW_CLI_CLI_CALIB_H
#define MW_CLI_CLI_CALIB_H

#include "calib/calib.h"
#include "calib/textdir.h"

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

/* Opens the text folder `dir` (NULL: the shipped corpus), keeping the
 * languages listed in `langs` (NULL: all); prints the error. */
int cli_open_textdir(const char *dir, const char *langs, mw_textdir *td);

/* The calibration windows of every language of td, tokenized with tok. */
int cli_calib_set(const mw_textdir *td, const mw_sample_opts *so, const mw_tokenizer *tok,
                  mw_calib_set *set);

#endif
