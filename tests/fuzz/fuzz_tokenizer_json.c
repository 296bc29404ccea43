/* libFuzzer target: the tokenizer.json of a user's model folder. The reader
 * takes a path, so the bytes go to a file first. A rejected file gets a
 * one-line message; an accepted one encodes a few texts (plain, with
 * special tokens, several scripts) to ids inside the vocabulary, and decodes
 * them again without error. */
#include "mwanda.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const TEXTS[] = {
    "Hello world, it's 2025!\n\tIndented  twice.",
    " leading space <bos><eos>[UNK]",
    "Все люди рождаются свободными.",
    "人人生而自由，在尊严和权利上一律平等。",
    "ሁሉም፡ሰዎች emoji 🙂 and \xe2\x80\x8b zero width",
};

static void check(const mw_tokenizer *t, const char *text, unsigned flags) {
    mw_tokens ids = {0};
    mw_err err;
    err.msg[0] = 0;
    if (mw_tokenize(t, text, strlen(text), flags, &ids, &err) != MW_OK) {
        if (!err.msg[0] || strchr(err.msg, '\n')) __builtin_trap();
        mw_tokens_free(&ids);
        return;
    }
    int64_t n_vocab = mw_tokenizer_n_vocab(t);
    for (size_t i = 0; i < ids.n; i++)
        if (ids.ids[i] < 0 || ids.ids[i] >= n_vocab) __builtin_trap();
    char *back = NULL;
    size_t len = 0;
    if (mw_detokenize(t, ids.ids, ids.n, flags, &back, &len, &err) != MW_OK || strlen(back) > len)
        __builtin_trap();
    free(back);
    mw_tokens_free(&ids);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static char path[256];
    if (!path[0]) {
        const char *dir = getenv("TMPDIR");
        snprintf(path, sizeof path, "%s/mw-fuzz-%d-tokenizer.json", dir && *dir ? dir : "/tmp",
                 (int)getpid());
    }
    FILE *f = fopen(path, "wb");
    if (!f) return 0;
    bool ok = fwrite(data, 1, size, f) == size;
    if (fclose(f) != 0 || !ok) return 0;
    mw_tokenizer *t = NULL;
    mw_err err;
    err.msg[0] = 0;
    enum mw_status s = mw_tokenizer_open(path, &t, &err);
    unlink(path);
    if (s != MW_OK) {
        if (!err.msg[0] || strchr(err.msg, '\n')) __builtin_trap();
        return 0;
    }
    for (size_t i = 0; i < sizeof TEXTS / sizeof TEXTS[0]; i++) {
        check(t, TEXTS[i], 0);
        check(t, TEXTS[i], MW_TOK_ADD_SPECIAL | MW_TOK_SPECIAL);
    }
    mw_tokenizer_free(t);
    return 0;
}
