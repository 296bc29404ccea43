/* Multiple-choice tasks scored by log-likelihood, as lm-evaluation-harness
 * scores them: reading the JSONL items (tasks.c), turning them into token
 * sequences (tasks_encode.c), running the sequences through the model
 * (tasks_score.c) and summarizing accuracy per task and language. The format
 * and the rules are in docs/tasks.md. */
#ifndef MW_EVAL_TASKS_H
#define MW_EVAL_TASKS_H

#include "mwanda.h"

#define MW_TASK_NAME_MAX    64 /* bytes of a lang or task name, NUL included */
#define MW_TASK_CHOICES_MAX 1000

/* One JSONL line. */
typedef struct mw_task_item {
    const char *file;            /* name given to mw_tasks_parse (borrowed) */
    int64_t line;                /* 1-based line of the file */
    char lang[MW_TASK_NAME_MAX]; /* [A-Za-z0-9_.-]+ */
    char task[MW_TASK_NAME_MAX]; /* "" when the line has no "task" */
    char *id;                    /* NULL when the line has no "id" */
    char *context;               /* UTF-8, NUL-terminated, may be "" */
    size_t context_len;          /* bytes */
    int32_t n_choices;           /* 2 .. MW_TASK_CHOICES_MAX */
    char **choices;              /* [n_choices], each non-empty UTF-8 */
    size_t *choice_len;          /* [n_choices] bytes */
    int32_t label;               /* index of the right choice */
} mw_task_item;

typedef struct mw_task_set {
    mw_task_item *items; /* [n] */
    int64_t n, cap;
} mw_task_set;

/* Parses JSONL bytes (one item per line; blank lines are skipped) and
 * appends the items to set; `name` prefixes error messages ("FILE:LINE: ...")
 * and must outlive the set.
 * default_task (or NULL) names the task of lines without a "task". At least
 * one item is required. On failure set is left as it was. */
enum mw_status mw_tasks_parse(const char *data, size_t len, const char *name,
                              const char *default_task, mw_task_set *set, mw_err *err);
/* Reads and parses a file. */
enum mw_status mw_tasks_read(const char *path, const char *default_task, mw_task_set *set,
                             mw_err *err);
void mw_task_set_free(mw_task_set *set);
/* Releases what one item holds (mw_task_set_free does it for all). */
void mw_task_item_free(mw_task_item *it);

/* The token sequence of one choice: ids[0 .. n) is the prefix (BOS), the
 * context and the choice; the last n_cont tokens are the choice's and are
 * scored. The model sees ids[start .. n-1): the last max_len tokens before
 * the final one (left truncation, as lm-evaluation-harness does). */
typedef struct mw_task_seq {
    int32_t *ids;   /* into mw_task_seqs.pool */
    int32_t n;      /* tokens in ids */
    int32_t n_cont; /* scored tokens at the end */
    int32_t n_ctx;  /* context tokens (prefix included) before the split */
    int32_t start;  /* first token the model sees */
} mw_task_seq;

typedef struct mw_task_seqs {
    int64_t n_items;
    int64_t *first;   /* [n_items + 1]: item i's choices are seqs[first[i] .. first[i+1]) */
    mw_task_seq *seq; /* [first[n_items]] */
    int32_t *pool;    /* every id */
    int64_t max_len;
    int64_t truncated; /* sequences cut on the left */
} mw_task_seqs;

/* Tokenizes every item: context and context+choice without special tokens,
 * the trailing whitespace of the context moved to the choice, the choice's
 * tokens being those of the whole past the context's count; BOS first when
 * the tokenizer adds one (BOS or else EOS when the context is empty and it
 * does not). max_len >= 2 is the model's window. */
enum mw_status mw_tasks_encode(const mw_tokenizer *tok, const mw_task_set *set, int64_t max_len,
                               mw_task_seqs *out, mw_err *err);
void mw_task_seqs_free(mw_task_seqs *s);

/* Runs every sequence through the model (batched, layer by layer) and
 * writes ll[k] = sum of log P of the scored tokens of sequence k (nats). */
enum mw_status mw_tasks_loglik(const mw_model *m, const mw_task_seqs *s, mw_progress_fn progress,
                               void *user, double *ll, mw_err *err);

/* Part `part` of n_parts of that work: the sequences of a contiguous share
 * of the batches one process would run, computed as it computes them (so the
 * same bits); ll of the other sequences is 0. */
enum mw_status mw_tasks_loglik_part(const mw_model *m, const mw_task_seqs *s, int part, int n_parts,
                                    mw_progress_fn progress, void *user, double *ll, mw_err *err);
/* mw_tasks_loglik under mpirun (calib/mpi.h): each process computes a part,
 * rank 0 gets every ll (the others their part's); one process: the same as
 * mw_tasks_loglik. Every process must call it. */
enum mw_status mw_tasks_loglik_shared(const mw_model *m, const mw_task_seqs *s,
                                      mw_progress_fn progress, void *user, double *ll, mw_err *err);

/* Index of the largest value (the first of equal ones, as numpy.argmax). */
int32_t mw_argmax(const double *v, int32_t n);

/* 95% Wilson score interval of a proportion k/n (z = 1.959964). */
void mw_wilson95(int64_t k, int64_t n, double *lo, double *hi);

/* Accuracy of one (task, language) group. */
typedef struct mw_task_group {
    char task[MW_TASK_NAME_MAX], lang[MW_TASK_NAME_MAX];
    int64_t n, correct, correct_norm;
    double acc, acc_norm;
    double ci_lo, ci_hi;           /* Wilson 95% of acc */
    double ci_norm_lo, ci_norm_hi; /* Wilson 95% of acc_norm */
    double chance;                 /* mean of 1 / n_choices */
} mw_task_group;

/* Predictions (argmax of ll; of ll / bytes of the choice for pred_norm) and
 * the groups, sorted by task then language. *groups is malloc'ed. */
enum mw_status mw_tasks_summarize(const mw_task_set *set, const mw_task_seqs *s, const double *ll,
                                  int32_t *pred, int32_t *pred_norm, mw_task_group **groups,
                                  int64_t *n_groups, mw_err *err);

#endif
