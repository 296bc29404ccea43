/* Tokenizer files between GGUF (tokenizer.ggml.*) and Hugging Face folders. */
#ifndef MW_IO_HF_TOKENIZER_H
#define MW_IO_HF_TOKENIZER_H

#include "mwanda.h"

typedef struct mw_hf_file {
    char name[64];
    char *data;
    size_t size;
} mw_hf_file;

enum mw_status mw_hf_tokenizer_from_gguf(const mw_gguf *g, mw_hf_file **files, size_t *n_files,
                                         mw_err *err);
void mw_hf_files_free(mw_hf_file *files, size_t n_files);
enum mw_status mw_hf_tokenizer_to_gguf(const char *dir, const char *arch, mw_gguf_writer *w,
                                       mw_err *err);
const char *mw_hf_tokenizer_kind(const char *dir);

#endif
