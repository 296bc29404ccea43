/* The ends of the network: token embedding in, log-likelihoods out. */
#ifndef MW_MODEL_HEAD_H
#define MW_MODEL_HEAD_H

#include "model/model.h"

/* x[i] = embedding row of tokens[i] in f32 (times sqrt(n_embd) where the
 * family scales it). Token ids are checked against the vocabulary. */
enum mw_status mw_embed(const mw_model *m, const int32_t *tokens, int64_t n, float *x, mw_err *err);

/* For n final hidden states x ([n][n_embd], not yet normed; overwritten),
 * nll[i] = -log softmax(logits_i)[targets[i]] in nats, computed over the
 * vocabulary in chunks so the [n][n_vocab] logits never exist at once. */
enum mw_status mw_head_nll(const mw_model *m, float *x, int64_t n, const int32_t *targets,
                           double *nll, mw_err *err);

#endif
