/* Command-line pieces shared by the subcommands that read calibration text
 * or take numbers: calibrate, prune, convert. */
#ifndef MW_CLI_CLI_CALIB_H
#define MW_CLI_CLI_CALIB_H

#include "calib/calib.h"
#include "calib/textdir.h"

#include <stdint.h>

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

/* --mem, --resume and Ctrl-C, shared by calibrate and prune. */
typedef struct cli_run {
    uint64_t mem;         /* --mem (0: no limit) */
    bool resume;          /* --resume */
    char state_dir[4096]; /* OUT.mwanda-state */
    char spill_dir[4096]; /* $TMPDIR, else the output's folder */
} cli_run;

/* Exit code of a run stopped by a signal (128 + the signal: 130 for Ctrl-C). */
#define CLI_INTERRUPTED 130

/* Fills the folders from the output path and refuses, before any work, an
 * existing state without --resume. Installs the SIGINT/SIGTERM handlers
 * (the first signal asks the run to stop at its next safe point; a second
 * one kills as usual) and sets ctl's cancel and saved callbacks, the latter
 * for a test hook: with MWANDA_TEST_KILL_AFTER_BLOCK=N a resumable run sends
 * itself SIGKILL (or SIGINT, SIGTERM with MWANDA_TEST_KILL_SIGNAL=INT, TERM)
 * once N blocks' state is saved, counting every pass, so that tests stop a
 * run at a known point. */
int cli_run_init(cli_run *r, const char *out, mw_run_ctl *ctl);
/* After a failed run: when a signal stopped it, prints the one line
 * ("interrupted", and whether the state is kept for --resume) and returns
 * 128 + the signal; else prints msg and returns CLI_FAIL. */
int cli_run_failed(const cli_run *r, const char *msg);

#endif
