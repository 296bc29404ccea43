/* Byte buffer for the large JSON texts (a 262144-token vocabulary with half a million
 * merges is written directly, not as a jansson tree) and JSON loading. */
#include "core/err.h"
#include "io/hf_tokenizer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool reserve(mw_buf *b, size_t extra) {
    if (b->oom) return false;
    if (extra > SIZE_MAX / 2 - b->len) {
        b->oom = true;
        return false;
    }
    size_t need = b->len + extra + 1;
    if (need <= b->cap) return true;
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < need)
        cap *= 2;
    char *d = realloc(b->data, cap);
    if (!d) {
        b->oom = true;
        return false;
    }
    b->data = d;
    b->cap = cap;
    return true;
}

void mw_buf_put(mw_buf *b, const void *s, size_t n) {
    if (!reserve(b, n)) return;
    memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len] = 0;
}

void mw_buf_puts(mw_buf *b, const char *s) {
    mw_buf_put(b, s, strlen(s));
}

void mw_buf_json_str(mw_buf *b, const char *s) {
    mw_buf_put(b, "\"", 1);
    const char *run = s;
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c >= 0x20 && c != '"' && c != '\\') continue;
        mw_buf_put(b, run, (size_t)(s - run));
        char esc[8];
        switch (c) {
        case '"':
            mw_buf_put(b, "\\\"", 2);
            break;
        case '\\':
            mw_buf_put(b, "\\\\", 2);
            break;
        case '\n':
            mw_buf_put(b, "\\n", 2);
            break;
        case '\t':
            mw_buf_put(b, "\\t", 2);
            break;
        case '\r':
            mw_buf_put(b, "\\r", 2);
            break;
        default:
            snprintf(esc, sizeof esc, "\\u%04x", c);
            mw_buf_put(b, esc, 6);
        }
        run = s + 1;
    }
    mw_buf_put(b, run, (size_t)(s - run));
    mw_buf_put(b, "\"", 1);
}

void mw_buf_json(mw_buf *b, const json_t *j) {
    char *s = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);
    if (!s) {
        b->oom = true;
        return;
    }
    mw_buf_puts(b, s);
    free(s);
}

enum mw_status mw_tok_json_load(const char *path, json_t **out, mw_err *err) {
    json_error_t je;
    *out = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
    /* Some configs hold integers past int64 (model_max_length = 1e30): read those files
     * again with every number as a real; the values used here are checked either way. */
    if (!*out && json_error_code(&je) == json_error_numeric_overflow)
        *out = json_load_file(path, JSON_REJECT_DUPLICATES | JSON_DECODE_INT_AS_REAL, &je);
    if (*out) return MW_OK;
    if (json_error_code(&je) == json_error_cannot_open_file)
        return mw_fail(err, MW_ERR_IO, "cannot read %s: %s", path, je.text);
    if (json_error_code(&je) == json_error_out_of_memory)
        return mw_fail(err, MW_ERR_NOMEM, "out of memory reading %s", path);
    return mw_fail(err, MW_ERR_FORMAT, "%s is not valid JSON (line %d: %s)", path, je.line,
                   je.text);
}
