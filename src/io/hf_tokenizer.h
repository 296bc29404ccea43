/* Tokenizers between GGUF metadata (tokenizer.ggml.*) and the tokenizer files of a
 * Hugging Face folder (tokenizer.json, tokenizer_config.json, tokenizer.model).
 *
 * GGUF -> HF. SentencePiece vocabularies ("llama") get a tokenizer.model holding every
 * piece, score and type bit for bit, and a tokenizer.json BPE model with byte fallback
 * whose merges are derived from the scores as transformers does it (every split of a
 * token into two tokens, ranked by the token's score, control and user-defined tokens
 * ranked as SentencePiece scores them: 0). Byte-level vocabularies ("gpt2") get a
 * tokenizer.json with the GGUF's merges and the pre-tokenizer llama.cpp applies for
 * tokenizer.ggml.pre. tokenizer_config.json lists control (special) and user-defined
 * tokens, the special tokens, add_bos/eos/sep, the chat template, and two keys of ours for
 * what Hugging Face files cannot hold: "mwanda.gguf.pre", "mwanda.gguf.add_space_prefix".
 *
 * HF -> GGUF follows llama.cpp's convert_hf_to_gguf.py: tokenizer.model when present,
 * else tokenizer.json (byte-level BPE -> "gpt2" with merges; BPE with byte fallback ->
 * "llama", where llama.cpp itself would write "gpt2", with scores from the merge ranks,
 * see mw_spm_scores_from_merges). tokenizer.ggml.pre is our key when present, else
 * recognised from the pre-tokenizer's regexes (Llama 3 -> llama-bpe, Qwen 2 -> qwen2,
 * GPT-2's -> gpt-2, single digits + GPT-2's -> smollm, or starcoder/refact for those
 * architectures: llama.cpp splits alike for all three), else from the architecture
 * (qwen2/qwen3 -> qwen2, llama -> llama-bpe). */
#ifndef MW_IO_HF_TOKENIZER_H
#define MW_IO_HF_TOKENIZER_H

#include "mwanda.h"

#include <jansson.h>

typedef struct mw_hf_file {
    char name[64];
    char *data;
    size_t size;
} mw_hf_file;

/* Tokenizer files for a Hugging Face folder, built from a GGUF's tokenizer.ggml.* entries:
 * tokenizer.json and tokenizer_config.json always, and tokenizer.model (SentencePiece
 * ModelProto) for SentencePiece vocabularies (tokenizer.ggml.model == "llama"). */
enum mw_status mw_hf_tokenizer_from_gguf(const mw_gguf *g, mw_hf_file **files, size_t *n_files,
                                         mw_err *err);
void mw_hf_files_free(mw_hf_file *files, size_t n_files);
/* Sets the tokenizer.ggml.* entries on w from a folder's tokenizer files, as llama.cpp's
 * convert_hf_to_gguf.py would: tokenizer.model when present (SentencePiece), else tokenizer.json;
 * special ids and add_bos/add_eos from tokenizer_config.json / tokenizer.json / config.json;
 * `arch` is the GGUF architecture name (for the pre-tokenizer default). */
enum mw_status mw_hf_tokenizer_to_gguf(const char *dir, const char *arch, mw_gguf_writer *w,
                                       mw_err *err);
/* A short description of a folder's tokenizer ("SentencePiece BPE (tokenizer.model)",
 * "byte-level BPE (tokenizer.json)", "none"). */
const char *mw_hf_tokenizer_kind(const char *dir);

/* ------------------------------------------------------------------------ */
/* Internal: the tokenizer as GGUF holds it, shared by the files below.     */
/* ------------------------------------------------------------------------ */

enum mw_tok_type {
    MW_TOK_UNDEFINED = 0,
    MW_TOK_NORMAL = 1,
    MW_TOK_UNKNOWN = 2,
    MW_TOK_CONTROL = 3,
    MW_TOK_USER_DEFINED = 4,
    MW_TOK_UNUSED = 5,
    MW_TOK_BYTE = 6,
};

/* The special tokens llama.cpp's converter carries, in its order. */
enum mw_special { MW_SP_BOS, MW_SP_EOS, MW_SP_UNK, MW_SP_SEP, MW_SP_PAD, MW_SP_MASK, MW_SP_COUNT };

/* The bounds every size read from a file is checked against. */
#define MW_TOK_MAX_TOKENS (1 << 24) /* ids fit a float exactly */
#define MW_TOK_MAX_BYTES  4096      /* one token's text */

typedef struct mw_vocab {
    bool spm;     /* tokenizer.ggml.model "llama" (else "gpt2") */
    char pre[64]; /* tokenizer.ggml.pre, "" when absent */
    int64_t n;
    char **tok;    /* [n] valid UTF-8 without NUL */
    float *score;  /* [n], SentencePiece only */
    int32_t *type; /* [n] enum mw_tok_type */
    int64_t n_merges;
    char **merges;                /* [n_merges] "left right", byte-level BPE only */
    int64_t special[MW_SP_COUNT]; /* -1 when absent */
    int8_t add_bos, add_eos, add_sep, add_space_prefix; /* -1 absent, else 0/1 */
    char *chat_template;                                /* NULL when absent */
} mw_vocab;

/* Key suffixes ("bos_token_id" ...) and HF names ("bos" ...) of the special tokens. */
extern const char *const MW_SPECIAL_GGUF[MW_SP_COUNT];
extern const char *const MW_SPECIAL_HF[MW_SP_COUNT];

void mw_vocab_init(mw_vocab *v);
void mw_vocab_free(mw_vocab *v);
/* Allocates n tokens (NULL texts, type NORMAL, scores 0 when with_scores). */
enum mw_status mw_vocab_alloc(mw_vocab *v, int64_t n, bool with_scores, mw_err *err);
/* Reads the tokenizer.ggml.* / tokenizer.chat_template entries of g. */
enum mw_status mw_vocab_from_gguf(const mw_gguf *g, mw_vocab *v, mw_err *err);
/* Writes them to w. */
enum mw_status mw_vocab_to_gguf(const mw_vocab *v, mw_gguf_writer *w, mw_err *err);
/* Whether a token text looks like a control token although marked otherwise, as
 * llama.cpp's converter decides ("<|...|>", "<unused...>", ...). */
bool mw_tok_looks_special(const char *s);
/* Copies s with every " " turned into U+2581 (or back when to_space); NULL on OOM. */
char *mw_tok_swap_space(const char *s, bool to_space);

/* SentencePiece merges for tokenizer.json: every split of each token into two tokens,
 * ranked by the merged token's score (control and user-defined tokens count as 0, the
 * score SentencePiece gives them), longer left then right parts first, then token ids.
 * texts[i] is token i as tokenizer.json spells it. Pairs of ids in *pairs. */
enum mw_status mw_spm_merges(const mw_vocab *v, char *const *texts, int64_t **pairs,
                             int64_t *n_pairs, mw_err *err);
/* Scores for a SentencePiece-style vocabulary known only by its BPE merges (pairs
 * left[r] right[r] in rank order, over texts): see hf_tokenizer_merges.c for the rule. */
enum mw_status mw_spm_scores_from_merges(mw_vocab *v, char *const *texts, char *const *left,
                                         char *const *right, int64_t n_merges, mw_err *err);

/* The pre-tokenizer llama.cpp applies for tokenizer.ggml.pre = name, as a tokenizer.json
 * pre_tokenizer (a jansson value, new reference), or NULL when not known. */
json_t *mw_pre_tokenizer_json(const char *name, bool *nfc, bool *ignore_merges);
/* The tokenizer.ggml.pre for a tokenizer.json pre_tokenizer, "" when not recognised. */
const char *mw_pre_from_json(const json_t *pre_tokenizer, const char *arch);

/* Growing byte buffer for the large JSON texts. */
typedef struct mw_buf {
    char *data;
    size_t len, cap;
    bool oom;
} mw_buf;
void mw_buf_put(mw_buf *b, const void *s, size_t n);
void mw_buf_puts(mw_buf *b, const char *s);
/* s as a JSON string literal (quotes and escapes). */
void mw_buf_json_str(mw_buf *b, const char *s);
/* A jansson value in compact form. */
void mw_buf_json(mw_buf *b, const json_t *j);

/* The three writers and readers, one per file. */
enum mw_status mw_tokenizer_json_build(const mw_vocab *v, mw_buf *out, mw_err *err);
enum mw_status mw_tokenizer_config_build(const mw_vocab *v, const mw_gguf *g, mw_buf *out,
                                         mw_err *err);
enum mw_status mw_tokenizer_json_read(const char *path, const char *arch, mw_vocab *v,
                                      json_t **tokenizer_json, mw_err *err);

/* SentencePiece ModelProto (tokenizer.model). */
typedef struct mw_spm_info {
    int32_t model_type; /* 1 unigram, 2 BPE, 3 word, 4 char */
    bool byte_fallback;
    bool add_dummy_prefix;
    int64_t unk_id, bos_id, eos_id, pad_id; /* -1 when none */
} mw_spm_info;
/* Writes v (SentencePiece types and scores as they are) as a BPE ModelProto. */
enum mw_status mw_spm_write(const mw_vocab *v, mw_buf *out, mw_err *err);
/* Parses a ModelProto: v gets the pieces with their SentencePiece types and scores. Every
 * length is checked and unknown fields are skipped. */
enum mw_status mw_spm_parse(const void *data, size_t size, mw_vocab *v, mw_spm_info *info,
                            mw_err *err);

/* Special ids, add_bos/add_eos/add_sep, chat template and our hints, from the folder's
 * parsed files (any may be NULL), as gguf-py's SpecialVocab reads them. */
enum mw_status mw_hf_read_specials(mw_vocab *v, const char *dir, const json_t *tok_json,
                                   const json_t *tconfig, const json_t *config, mw_err *err);
/* Applies added_tokens.json and tokenizer_config.json's added_tokens_decoder to the pieces
 * of a tokenizer.model, as llama.cpp's SentencePiece path does. */
enum mw_status mw_spm_apply_added(mw_vocab *v, const json_t *tconfig, const json_t *added_json,
                                  mw_err *err);

/* Loads a JSON file (duplicate keys rejected; integers too large for int64 read as reals). */
enum mw_status mw_tok_json_load(const char *path, json_t **out, mw_err *err);

#endif
