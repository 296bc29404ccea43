/* Pruning on plain arrays (DESIGN.md §1): per-channel score factors (Wanda,
 * M-Wanda), masks (per row, N:M, whole matrix), and layerwise sparsity (OWL
 * outlier shares, CWL correlations, the allocation both share). Nothing here
 * knows files or models; src/prune/driver.c glues it to calibration.
 *
 * Arithmetic is specified to the operation, in double, without contraction
 * (the project builds with -ffp-contract=off), so that scripts/ref_prune.py
 * reproduces factors, scores and masks bit for bit. Sums run in the order
 * written (language 0 first, column 0 first), starting from +0.0.
 *
 * Weights: a weight that is selected and not already zero becomes +0.0; a
 * weight that is already zero (+0.0 or -0.0) is never written, and kept
 * weights keep their exact bits. Non-finite weights or factors are refused
 * with MW_ERR_ARG ("holds non-finite values at row R column C") before any
 * weight is written, so the caller can prefix the tensor's name.
 *
 * Threads: mask and OWL functions use omp_get_max_threads() threads (one when
 * called inside a parallel region); results never depend on the count. */
#ifndef MW_PRUNE_PRUNE_H
#define MW_PRUNE_PRUNE_H

#include "mwanda.h"

/* ------------------------------------------------------------------------ */
/* Patterns                                                                 */
/* ------------------------------------------------------------------------ */

/* Unstructured (n = m = 0) or N:M: n of every m consecutive inputs zeroed. */
typedef struct mw_pattern {
    int n, m;
} mw_pattern;

#define MW_PATTERN_MAX_M 4096 /* larger groups are not a pattern anyone uses */

/* Parses "unstructured", "2:4", "4:8", "N:M" (0 < N < M <= MW_PATTERN_MAX_M,
 * decimal digits only). */
enum mw_status mw_pattern_parse(const char *text, mw_pattern *out, mw_err *err);
/* "unstructured" or "N:M" into buf (at least 24 bytes). */
void mw_pattern_format(mw_pattern p, char *buf, size_t size);
/* The share of weights an N:M pattern zeroes, 0 for unstructured. */
double mw_pattern_sparsity(mw_pattern p);

/* ------------------------------------------------------------------------ */
/* Per-channel factors: score[i][j] = (double)|W[i][j]| * c[j]              */
/* ------------------------------------------------------------------------ */

/* Statistics of one linear input, per calibration language. */
typedef struct mw_lang_stats {
    int n_lang;           /* L >= 1 */
    int64_t n_in;         /* input channels */
    const double *sum2;   /* [n_lang][n_in] sum over tokens of x^2 */
    const double *pos;    /* [n_lang][n_in] count of tokens with x > 0; may be
                             NULL where no probability term is asked for */
    const double *tokens; /* [n_lang] token count T_l */
} mw_lang_stats;

/* Wanda: c[j] = sqrt(sum_l sum2[l][j]), the pooled ||X_j||_2. Only sum2 is
 * read (finite, >= 0). c is [n_in]. */
enum mw_status mw_wanda_factor(const mw_lang_stats *st, double *c, mw_err *err);

enum mw_prob_agg {
    MW_PROB_MEAN, /* g = (sum_l p_l) / L */
    MW_PROB_MAX,  /* g = max_l p_l */
};

/* M-Wanda's switches (DESIGN.md §1.2). All off (balance false, lambda 0,
 * gamma 0) is Wanda. */
typedef struct mw_mwanda_opts {
    bool balance; /* mu = mean over languages of a_l (else the pooled RMS) */
    double lambda;
    double gamma;
    enum mw_prob_agg prob_agg;
} mw_mwanda_opts;

/* M-Wanda: with a_l = sqrt(sum2_l / T_l) and p_l = pos_l / T_l,
 *   mu    = (sum_l a_l) / L                 (balance on)
 *         = sqrt((sum_l sum2_l) / (sum_l T_l))   (balance off: pooled RMS)
 *   sigma = sqrt((sum_l (a_l - (sum_l a_l) / L)^2) / L)  (population std)
 *   c     = (mu + lambda * sigma) * pow(g, gamma)
 * with the term lambda*sigma left out when lambda == 0 and pow(g, gamma) = 1
 * when gamma == 0 (0^0 = 1 included). With balance off, lambda 0 and gamma 0
 * the factor is defined to be Wanda's c, not the 1/sqrt(sum T) multiple of
 * it, so that the masks are Wanda's bit for bit (a common scale does not
 * change a ranking in exact arithmetic, but rounding could).
 * Needs tokens > 0 for every language (MW_ERR_ARG otherwise: a language with
 * no text), pos when gamma != 0 (0 <= pos <= T_l), lambda and gamma finite
 * and >= 0. */
enum mw_status mw_mwanda_factor(const mw_lang_stats *st, const mw_mwanda_opts *o, double *c,
                                mw_err *err);

/* ------------------------------------------------------------------------ */
/* Masks, applied in place to w [rows][cols]                                */
/* ------------------------------------------------------------------------ */

/* The number of zeros a selection of n weights at sparsity s asks for:
 * floor((double)n * s). */
int64_t mw_prune_count(int64_t n, double s);

/* Per row, the k = mw_prune_count(cols, s) lowest keys (score, w != 0, j)
 * are zeroed: among equal scores, zero weights first, then the lower column.
 * A row already holding more than k zeros keeps them all. c [cols] is the
 * factor (NULL: score |W|, magnitude per row). s in [0, 1). *zeros (may be
 * NULL) receives the zeros of the result, whatever their origin. */
enum mw_status mw_prune_rows(float *w, int64_t rows, int64_t cols, const double *c, double s,
                             int64_t *zeros, mw_err *err);

/* N:M: in every group of m consecutive columns of a row, the n lowest keys
 * as above. cols % m must be 0 (MW_ERR_SHAPE otherwise). c as above. */
enum mw_status mw_prune_nm(float *w, int64_t rows, int64_t cols, const double *c, mw_pattern p,
                           int64_t *zeros, mw_err *err);

/* Magnitude over the whole matrix: the k = mw_prune_count(rows*cols, s)
 * lowest keys (|w|, w != 0, flat index). No scratch of the matrix's size:
 * a radix selection on the bits of |w|. */
enum mw_status mw_prune_global(float *w, int64_t rows, int64_t cols, double s, int64_t *zeros,
                               mw_err *err);

/* ------------------------------------------------------------------------ */
/* OWL: the share of a block's scores above m times their mean              */
/* ------------------------------------------------------------------------ */

/* Fed one layer at a time, in two passes over the block's layers:
 *   mw_owl_init; mw_owl_add_sum for each layer; mw_owl_set_threshold;
 *   mw_owl_add_above for each layer (same layers, same factors); mw_owl_share.
 * The sum runs row by row (each row's scores summed from column 0, the row
 * sums added in row order, layer after layer), so it never depends on the
 * thread count. Scores are those of mw_prune_rows (c NULL: |W|). */
typedef struct mw_owl {
    double sum;       /* sum of the scores seen in the first pass */
    int64_t count;    /* how many */
    double threshold; /* m * (sum / count), set between the passes */
    int64_t above;    /* scores > threshold in the second pass */
    int64_t seen;     /* weights seen in the second pass */
} mw_owl;

void mw_owl_init(mw_owl *o);
enum mw_status mw_owl_add_sum(mw_owl *o, const float *w, int64_t rows, int64_t cols,
                              const double *c, mw_err *err);
/* m > 0; needs count > 0. */
enum mw_status mw_owl_set_threshold(mw_owl *o, double m, mw_err *err);
enum mw_status mw_owl_add_above(mw_owl *o, const float *w, int64_t rows, int64_t cols,
                                const double *c, mw_err *err);
/* D = above / count; MW_ERR_ARG if the second pass did not see as many
 * weights as the first. */
enum mw_status mw_owl_share(const mw_owl *o, double *share, mw_err *err);

/* ------------------------------------------------------------------------ */
/* CWL: cross-lingual correlation of a block                                */
/* ------------------------------------------------------------------------ */

/* r = mean over language pairs (l < m, in order) of the Pearson correlation
 * of a_l and a_m, a_l = sqrt(sum2_l / T_l) concatenated over the block's
 * distinct inputs (in[0..n_inputs), same n_lang each). One language, a
 * constant a_l (zero variance) or T_l <= 0 are MW_ERR_ARG: r is undefined. */
enum mw_status mw_cwl_correlation(const mw_lang_stats *in, int n_inputs, double *r, mw_err *err);

enum mw_cwl_dir {
    MW_CWL_ONE_MINUS_R, /* importance 1 - r: blocks where languages differ are pruned less */
    MW_CWL_R,           /* importance r: blocks where languages agree are pruned less */
};

/* imp[b] = 1 - r[b] or r[b]. */
void mw_cwl_importance(enum mw_cwl_dir dir, const double *r, int n, double *imp);

/* ------------------------------------------------------------------------ */
/* Layerwise allocation (OWL and CWL)                                       */
/* ------------------------------------------------------------------------ */

/* From importance imp[n] (finite), target s in [0, 1) and lam >= 0:
 *   I'_b = ((imp_b - min) / (max - min)) * (2 * lam)   (all 0 if max == min)
 *   s_b  = s - (I'_b - (sum_b I'_b) / n)
 * so the mean stays s and more important blocks get lower sparsity. An s_b
 * outside [0, 1) is clamped (to 0 or to the largest double below 1) and
 * counted in *n_clamped (may be NULL); the mean then differs from s. */
enum mw_status mw_allocate_sparsity(const double *imp, int n, double s, double lam, double *s_b,
                                    int *n_clamped, mw_err *err);

#endif
