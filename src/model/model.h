/* Internal parts of the model module shared by its files. */
#ifndef MW_MODEL_MODEL_H
#define MW_MODEL_MODEL_H

#include "model/arch.h"
#include "model/hparams.h"

const mw_arch *mw_model_arch(const mw_model *m);
/* The folder and parsed config.json of a safetensors model, else NULL. */
const char *mw_model_dir(const mw_model *m);
const json_t *mw_model_config(const mw_model *m);

/* Checks that every tensor the family needs is there with the shape the
 * hyperparameters give. */
enum mw_status mw_model_check_shapes(const mw_model *m, mw_err *err);

/* Layout differences between the two worlds, applied in place to rows
 * [first, first + n_rows) of one tensor in f32 (t names the GGUF tensor; data
 * is in GGUF dimension order). Reordered q/k rows must come in whole heads:
 * first and n_rows multiples of mw_layout_row_align. */
enum mw_status mw_layout_hf_to_gguf(const mw_arch *a, const mw_hparams *hp, const mw_tensor *t,
                                    int64_t first, int64_t n_rows, float *data, mw_err *err);
enum mw_status mw_layout_gguf_to_hf(const mw_arch *a, const mw_hparams *hp, const mw_tensor *t,
                                    int64_t first, int64_t n_rows, float *data, mw_err *err);
int64_t mw_layout_row_align(const mw_arch *a, const mw_hparams *hp, const mw_tensor *t);

#endif
