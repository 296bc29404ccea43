/* libFuzzer target for the SentencePiece ModelProto parser: any input parses or fails
 * with a message; what parses is written back and parses again to the same pieces (the
 * writer spells spaces of user-defined pieces as U+2581, as GGUF -> tokenizer.model does). */
#include "io/hf_tokenizer.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    mw_vocab v, again;
    mw_spm_info info;
    mw_err err;
    if (mw_spm_parse(data, size, &v, &info, &err) != MW_OK) {
        if (!err.msg[0]) abort();
        return 0;
    }
    mw_buf b = {0};
    if (mw_spm_write(&v, &b, &err) == MW_OK &&
        mw_spm_parse(b.data, b.len, &again, &info, &err) == MW_OK) {
        if (again.n != v.n) abort();
        for (int64_t i = 0; i < v.n; i++) {
            char *want = v.type[i] == MW_TOK_USER_DEFINED ? mw_tok_swap_space(v.tok[i], false)
                                                          : strdup(v.tok[i]);
            if (!want || strcmp(again.tok[i], want) != 0) abort();
            free(want);
        }
        mw_vocab_free(&again);
    }
    free(b.data);
    mw_vocab_free(&v);
    return 0;
}
