/* GGUF metadata entries as JSON, so that a Hugging Face folder can carry the
 * GGUF keys it has no place for and a conversion back restores them. */
#ifndef MW_MODEL_KV_JSON_H
#define MW_MODEL_KV_JSON_H

#include "mwanda.h"

#include <jansson.h>

/* {"type": "uint32", "value": 5}; arrays {"type": "array", "elem_type": ...,
 * "value": [...]}. NULL if the entry cannot be represented (a string that is
 * not UTF-8). */
json_t *mw_kv_to_json(const mw_gguf_kv *kv);
/* Sets the entry described by mw_kv_to_json's output on w. */
enum mw_status mw_kv_from_json(const char *key, const json_t *v, mw_gguf_writer *w, mw_err *err);

#endif
