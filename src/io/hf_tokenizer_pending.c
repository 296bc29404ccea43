/* Placeholder until the tokenizer converter lands (being written). */
#include "core/err.h"
#include "io/hf_tokenizer.h"

#include <stdlib.h>

enum mw_status mw_hf_tokenizer_from_gguf(const mw_gguf *g, mw_hf_file **files, size_t *n_files,
                                         mw_err *err) {
    *files = NULL;
    *n_files = 0;
    return MW_OK;
}

void mw_hf_files_free(mw_hf_file *files, size_t n_files) {
    for (size_t i = 0; i < n_files; i++)
        free(files[i].data);
    free(files);
}

enum mw_status mw_hf_tokenizer_to_gguf(const char *dir, const char *arch, mw_gguf_writer *w,
                                       mw_err *err) {
    return MW_OK;
}

const char *mw_hf_tokenizer_kind(const char *dir) {
    return "none";
}
