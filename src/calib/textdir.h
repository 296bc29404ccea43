/* A folder of calibration or evaluation text: one UTF-8 file per language,
 * named by its language code (de.txt, fr.txt, ...). Shared by `eval` and
 * `calibrate`. */
#ifndef MW_CALIB_TEXTDIR_H
#define MW_CALIB_TEXTDIR_H

#include "mwanda.h"

/* The languages of a folder, sorted. */
typedef struct mw_textdir {
    char *dir;
    int n;
    char **langs; /* [n] language codes */
} mw_textdir;

/* Lists the <lang>.txt files of dir. A language code is 1 to 60 characters
 * of letters, digits, '-', '_' and '@'; other files are not text of a
 * language and are left alone. only (NULL for all) is a comma-separated list
 * of codes: each must have its file (an unknown one is MW_ERR_NOT_FOUND).
 * No language at all is MW_ERR_NOT_FOUND too. */
enum mw_status mw_textdir_open(const char *dir, const char *only, mw_textdir *td, mw_err *err);
void mw_textdir_close(mw_textdir *td);

/* The path of language i's file (into buf; false if it does not fit). */
bool mw_textdir_path(const mw_textdir *td, int i, char *buf, size_t size);

/* Reads language i's text whole: *text (release with free()) holds *len
 * bytes and a NUL after them. An empty file is MW_ERR_ARG. */
enum mw_status mw_textdir_read(const mw_textdir *td, int i, char **text, size_t *len, mw_err *err);

/* Reads a whole file (any size, any bytes); *text holds *len bytes and a NUL. */
enum mw_status mw_read_file(const char *path, char **text, size_t *len, mw_err *err);

#endif
