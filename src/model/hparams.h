/* Hyperparameters to and from GGUF metadata and Hugging Face config.json. */
#ifndef MW_MODEL_HPARAMS_H
#define MW_MODEL_HPARAMS_H

#include "model/arch.h"

#include <jansson.h>

/* Reads <arch>.* keys. n_vocab comes from the tokenizer or the embedding. */
enum mw_status mw_hparams_from_gguf(const mw_gguf *g, mw_hparams *hp, const mw_arch **arch,
                                    mw_err *err);
/* Writes the <arch>.* keys llama.cpp reads for this family. */
enum mw_status mw_hparams_to_gguf(const mw_hparams *hp, mw_gguf_writer *w, mw_err *err);

/* Reads a parsed config.json. */
enum mw_status mw_hparams_from_config(const json_t *config, mw_hparams *hp, const mw_arch **arch,
                                      mw_err *err);
/* Builds config.json for this family (torch_dtype from `type`); the token ids
 * are -1 when unknown. Returns a new reference. */
json_t *mw_hparams_to_config(const mw_hparams *hp, enum mw_type type, int64_t bos_id,
                             int64_t eos_id);

/* Loads and parses a JSON file with a clear one-line error. */
enum mw_status mw_json_load_file(const char *path, json_t **out, mw_err *err);

#endif
