/*
 * mwanda — one-shot pruning of multilingual language models.
 *
 * The one public header of libmwanda. Conventions:
 *  - every function that can fail returns enum mw_status (0 = MW_OK) and, when
 *    given a non-NULL mw_err, leaves a one-line message in it;
 *  - every *_open / *_create has its *_close / *_free, which accept NULL;
 *  - the caller owns every buffer it passes in; pointers returned by accessors
 *    stay valid until the object they came from is closed;
 *  - the library never prints and never exits.
 */
#ifndef MWANDA_H
#define MWANDA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define MW_VERSION "0.1.0"

const char *mw_version(void);

/* ------------------------------------------------------------------------ */
/* Status codes and error messages                                          */
/* ------------------------------------------------------------------------ */

enum mw_status {
    MW_OK = 0,
    MW_ERR_IO,            /* a file could not be opened, read, written or renamed */
    MW_ERR_FORMAT,        /* a file's bytes break the rules of its format */
    MW_ERR_UNSUPPORTED,   /* well-formed, but not handled (version, type, architecture) */
    MW_ERR_NOMEM,         /* an allocation failed */
    MW_ERR_ARG,           /* an impossible argument or option */
    MW_ERR_NOT_FOUND,     /* a key, tensor or file that is needed is missing */
    MW_ERR_SHAPE,         /* a tensor's shape does not fit its use */
    MW_ERR_NOT_AVAILABLE, /* a feature that this version does not provide yet */
    MW_ERR_INTERRUPTED,   /* stopped on request (a signal) at a safe point */
};

const char *mw_strerror(enum mw_status status);

/* A one-line message describing the last failure (never ends in a newline). */
typedef struct mw_err {
    char msg[512];
} mw_err;

/* Removes the temporary files and folders of the outputs being written
 * (they appear under their own names only once complete); the writes in
 * progress then fail. Async-signal-safe: for a SIGINT or SIGTERM handler, so
 * that an interrupted run leaves nothing behind. */
void mw_remove_partial_outputs(void);

/* ------------------------------------------------------------------------ */
/* Tensor element types (ids are ggml's, as stored in GGUF files)           */
/* ------------------------------------------------------------------------ */

enum mw_type {
    MW_TYPE_F32 = 0,
    MW_TYPE_F16 = 1,
    MW_TYPE_Q4_0 = 2,
    MW_TYPE_Q4_1 = 3,
    MW_TYPE_Q5_0 = 6,
    MW_TYPE_Q5_1 = 7,
    MW_TYPE_Q8_0 = 8,
    MW_TYPE_Q8_1 = 9,
    MW_TYPE_Q2_K = 10,
    MW_TYPE_Q3_K = 11,
    MW_TYPE_Q4_K = 12,
    MW_TYPE_Q5_K = 13,
    MW_TYPE_Q6_K = 14,
    MW_TYPE_Q8_K = 15,
    MW_TYPE_IQ2_XXS = 16,
    MW_TYPE_IQ2_XS = 17,
    MW_TYPE_IQ3_XXS = 18,
    MW_TYPE_IQ1_S = 19,
    MW_TYPE_IQ4_NL = 20,
    MW_TYPE_IQ3_S = 21,
    MW_TYPE_IQ2_S = 22,
    MW_TYPE_IQ4_XS = 23,
    MW_TYPE_I8 = 24,
    MW_TYPE_I16 = 25,
    MW_TYPE_I32 = 26,
    MW_TYPE_I64 = 27,
    MW_TYPE_F64 = 28,
    MW_TYPE_IQ1_M = 29,
    MW_TYPE_BF16 = 30,
    MW_TYPE_TQ1_0 = 34,
    MW_TYPE_TQ2_0 = 35,
    MW_TYPE_MXFP4 = 39,
    MW_TYPE_COUNT = 40, /* one past the largest id this library knows */
};

/* Name as llama.cpp prints it ("Q4_K"), or NULL for an id that is not a type. */
const char *mw_type_name(uint32_t type);
/* Parses "f32", "F16", "bf16", ... (case-insensitive); false if unknown. */
bool mw_type_from_name(const char *name, enum mw_type *out);
/* Elements per block and bytes per block; 0 for an id that is not a type. */
uint32_t mw_type_block_elems(uint32_t type);
uint32_t mw_type_block_bytes(uint32_t type);
/* Bytes taken by n elements; false if n is not a whole number of blocks or
 * the size overflows. */
bool mw_type_row_bytes(uint32_t type, uint64_t n, uint64_t *bytes);
/* Whether mw_dequantize handles this type. */
bool mw_type_can_dequantize(uint32_t type);

/* Converts n elements (a whole number of blocks) of `type` at src to f32. */
enum mw_status mw_dequantize(enum mw_type type, const void *src, float *dst, uint64_t n,
                             mw_err *err);
/* Converts n f32 values to F32, F16 (round to nearest even) or BF16 (round to
 * nearest even, NaN kept NaN) at dst. */
enum mw_status mw_quantize(enum mw_type type, const float *src, void *dst, uint64_t n, mw_err *err);

float mw_f16_to_f32(uint16_t h);
uint16_t mw_f32_to_f16(float f);
float mw_bf16_to_f32(uint16_t h);
uint16_t mw_f32_to_bf16(float f);

/* ------------------------------------------------------------------------ */
/* Tensors as stored in a file                                              */
/* ------------------------------------------------------------------------ */

#define MW_MAX_DIMS 4

/* One tensor of a model file. Dimensions are in GGUF order: ne[0] is the
 * fastest-varying (a row of a [out, in] matrix has ne[0] = in elements). */
typedef struct mw_tensor {
    const char *name;
    enum mw_type type;
    uint32_t n_dims;
    int64_t ne[MW_MAX_DIMS]; /* unused dimensions are 1 */
    uint64_t n_elems;
    uint64_t n_bytes;
    const void *data; /* into the read-only mapping of the file */
} mw_tensor;

/* ------------------------------------------------------------------------ */
/* GGUF files (version 2 and 3)                                             */
/* ------------------------------------------------------------------------ */

enum mw_gguf_vtype {
    MW_GGUF_UINT8 = 0,
    MW_GGUF_INT8 = 1,
    MW_GGUF_UINT16 = 2,
    MW_GGUF_INT16 = 3,
    MW_GGUF_UINT32 = 4,
    MW_GGUF_INT32 = 5,
    MW_GGUF_FLOAT32 = 6,
    MW_GGUF_BOOL = 7,
    MW_GGUF_STRING = 8,
    MW_GGUF_ARRAY = 9,
    MW_GGUF_UINT64 = 10,
    MW_GGUF_INT64 = 11,
    MW_GGUF_FLOAT64 = 12,
    MW_GGUF_VTYPE_COUNT = 13,
};

/* "uint32", "string", ... or NULL. */
const char *mw_gguf_vtype_name(uint32_t vtype);
/* Bytes of one element of a fixed-size type; 0 for STRING, ARRAY, unknown. */
size_t mw_gguf_vtype_size(uint32_t vtype);

/* A string with its length; s is also NUL-terminated (it may hold NULs). */
typedef struct mw_str {
    const char *s;
    uint64_t len;
} mw_str;

/* One metadata entry. A scalar is an array of one element with
 * type == elem_type. Elements are in host byte order: numbers as their C
 * type (bool as uint8_t), strings as mw_str. Arrays never nest. */
typedef struct mw_gguf_kv {
    const char *key;
    enum mw_gguf_vtype type;      /* scalar type, or MW_GGUF_ARRAY */
    enum mw_gguf_vtype elem_type; /* element type (== type for a scalar) */
    uint64_t n;                   /* number of elements (1 for a scalar) */
    const void *data;
} mw_gguf_kv;

/* Integer value of a scalar integer or bool entry; false otherwise or if it
 * does not fit. */
bool mw_gguf_kv_int(const mw_gguf_kv *kv, int64_t *out);
/* Value of any scalar numeric entry as a double. */
bool mw_gguf_kv_float(const mw_gguf_kv *kv, double *out);
/* Value of a scalar string entry, NULL otherwise. */
const char *mw_gguf_kv_str(const mw_gguf_kv *kv);

typedef struct mw_gguf mw_gguf;

/* Opens and validates a GGUF file; its data is mapped read-only, nothing is
 * converted until asked. */
enum mw_status mw_gguf_open(const char *path, mw_gguf **out, mw_err *err);
/* Same on bytes in memory (they must outlive the handle); for fuzzing. */
enum mw_status mw_gguf_open_memory(const void *data, size_t size, mw_gguf **out, mw_err *err);
void mw_gguf_close(mw_gguf *g);

uint32_t mw_gguf_version(const mw_gguf *g);
uint64_t mw_gguf_alignment(const mw_gguf *g);
uint64_t mw_gguf_data_offset(const mw_gguf *g);
uint64_t mw_gguf_file_size(const mw_gguf *g);
int64_t mw_gguf_n_kv(const mw_gguf *g);
const mw_gguf_kv *mw_gguf_kv_at(const mw_gguf *g, int64_t i);
const mw_gguf_kv *mw_gguf_find_kv(const mw_gguf *g, const char *key);
int64_t mw_gguf_n_tensors(const mw_gguf *g);
const mw_tensor *mw_gguf_tensor_at(const mw_gguf *g, int64_t i);
const mw_tensor *mw_gguf_find_tensor(const mw_gguf *g, const char *name);
/* Offset of a tensor's data from the start of the data section. */
uint64_t mw_gguf_tensor_offset(const mw_gguf *g, int64_t i);

/* GGUF writer. Metadata and tensor infos are set first; then the data of each
 * tensor is written in the order the infos were added. The file is written
 * under a temporary name next to `path` and renamed by mw_gguf_writer_finish;
 * mw_gguf_writer_free without finish removes it. */
typedef struct mw_gguf_writer mw_gguf_writer;

enum mw_status mw_gguf_writer_create(const char *path, mw_gguf_writer **out, mw_err *err);
void mw_gguf_writer_free(mw_gguf_writer *w);
/* Adds or replaces one entry (the value is copied). */
enum mw_status mw_gguf_writer_set_kv(mw_gguf_writer *w, const mw_gguf_kv *kv, mw_err *err);
enum mw_status mw_gguf_writer_set_str(mw_gguf_writer *w, const char *key, const char *value,
                                      mw_err *err);
enum mw_status mw_gguf_writer_set_u32(mw_gguf_writer *w, const char *key, uint32_t value,
                                      mw_err *err);
enum mw_status mw_gguf_writer_set_i32(mw_gguf_writer *w, const char *key, int32_t value,
                                      mw_err *err);
enum mw_status mw_gguf_writer_set_f32(mw_gguf_writer *w, const char *key, float value, mw_err *err);
enum mw_status mw_gguf_writer_set_bool(mw_gguf_writer *w, const char *key, bool value, mw_err *err);
/* elem_type is any fixed-size type, or STRING with data pointing at mw_str. */
enum mw_status mw_gguf_writer_set_array(mw_gguf_writer *w, const char *key,
                                        enum mw_gguf_vtype elem_type, uint64_t n, const void *data,
                                        mw_err *err);
bool mw_gguf_writer_remove_kv(mw_gguf_writer *w, const char *key);
enum mw_status mw_gguf_writer_add_tensor(mw_gguf_writer *w, const char *name, enum mw_type type,
                                         uint32_t n_dims, const int64_t *ne, mw_err *err);
/* Writes the next tensor's data: exactly its n_bytes. */
enum mw_status mw_gguf_writer_write_tensor(mw_gguf_writer *w, const void *data, uint64_t n_bytes,
                                           mw_err *err);
/* Streams a tensor in parts: the next n_bytes of the current tensor, which is
 * complete (and the next one due) once all its bytes are written. */
enum mw_status mw_gguf_writer_write_tensor_part(mw_gguf_writer *w, const void *data,
                                                uint64_t n_bytes, mw_err *err);
/* Checks every tensor was written, flushes, renames into place, frees w. */
enum mw_status mw_gguf_writer_finish(mw_gguf_writer *w, mw_err *err);

/* ------------------------------------------------------------------------ */
/* safetensors files and folders                                            */
/* ------------------------------------------------------------------------ */

typedef struct mw_st mw_st;

/* Opens a .safetensors file, or a folder holding model.safetensors or shards
 * listed by model.safetensors.index.json. Tensors are listed in GGUF
 * dimension order (ne[0] fastest) under their file names; only F32, F16 and
 * BF16 tensors get an mw_type (others are reported as unsupported).
 * Conventions:
 *  - dtypes F64, I8, I16, I32, I64 get the mw_type of the same name (no
 *    conversion handles them); the other dtypes of the format (BOOL, U8..U64,
 *    F8_*, F6_*, F4, C64) are listed with type MW_TYPE_COUNT, n_bytes and data
 *    still right; an unknown dtype string is MW_ERR_FORMAT;
 *  - a scalar (shape []) has n_dims 0, n_elems 1; more than 4 dims is
 *    MW_ERR_UNSUPPORTED;
 *  - as in the reference implementation, the tensors of a file must tile its
 *    data buffer exactly: no overlaps, holes or trailing bytes;
 *  - order: file order, i.e. by data offset (for shards: the shards sorted by
 *    file name, then by offset); data is only as aligned as the file makes it;
 *  - a folder with both model.safetensors and an index is read from the
 *    former; tensors a shard holds beyond its weight_map are listed too. */
enum mw_status mw_st_open(const char *path, mw_st **out, mw_err *err);
/* One safetensors file in memory (for fuzzing). */
enum mw_status mw_st_open_memory(const void *data, size_t size, mw_st **out, mw_err *err);
void mw_st_close(mw_st *st);
int64_t mw_st_n_tensors(const mw_st *st);
const mw_tensor *mw_st_tensor_at(const mw_st *st, int64_t i);
const mw_tensor *mw_st_find_tensor(const mw_st *st, const char *name);
/* Entry of the header's __metadata__ (from the first shard), or NULL. */
const char *mw_st_metadata(const mw_st *st, const char *key);

/* safetensors writer: tensors are declared first (shape in GGUF order), then
 * their data written in that order. Files go to a temporary folder renamed to
 * `dir` by finish; `dir` must not exist or be empty. Shards of at most
 * max_shard_bytes (0 = one file) are named model-00001-of-0000N.safetensors
 * with an index, as Hugging Face does. Extra files (config.json, ...) are
 * added with mw_st_writer_add_file.
 * Types: F32, F16, BF16 (and F64, I8, I16, I32, I64 as raw bytes); n_dims 0
 * writes a scalar. Shard sizes count tensor data bytes, not headers; a tensor
 * larger than max_shard_bytes gets a shard of its own. __metadata__ always
 * has "format": "pt" unless set otherwise. finish frees w whatever happens;
 * free without finish removes every file written. */
typedef struct mw_st_writer mw_st_writer;

enum mw_status mw_st_writer_create(const char *dir, uint64_t max_shard_bytes, mw_st_writer **out,
                                   mw_err *err);
void mw_st_writer_free(mw_st_writer *w);
enum mw_status mw_st_writer_set_metadata(mw_st_writer *w, const char *key, const char *value,
                                         mw_err *err);
enum mw_status mw_st_writer_add_tensor(mw_st_writer *w, const char *name, enum mw_type type,
                                       uint32_t n_dims, const int64_t *ne, mw_err *err);
enum mw_status mw_st_writer_write_tensor(mw_st_writer *w, const void *data, uint64_t n_bytes,
                                         mw_err *err);
/* The next n_bytes of the current tensor (streaming, as for GGUF). */
enum mw_status mw_st_writer_write_tensor_part(mw_st_writer *w, const void *data, uint64_t n_bytes,
                                              mw_err *err);
enum mw_status mw_st_writer_add_file(mw_st_writer *w, const char *name, const void *data,
                                     size_t size, mw_err *err);
enum mw_status mw_st_writer_finish(mw_st_writer *w, mw_err *err);

/* ------------------------------------------------------------------------ */
/* Models: a GGUF file or a Hugging Face safetensors folder                 */
/* ------------------------------------------------------------------------ */

enum mw_model_format {
    MW_FORMAT_GGUF = 0,
    MW_FORMAT_SAFETENSORS = 1,
};

/* Hyperparameters of a decoder-only text model, whatever file it came from. */
typedef struct mw_hparams {
    char arch[32];          /* "llama", "qwen2", "qwen3", "gemma3" */
    int64_t n_vocab;        /* tokens in the vocabulary */
    int64_t n_ctx_train;    /* context length the model was trained for */
    int64_t n_embd;         /* hidden size */
    int64_t n_layer;        /* decoder blocks */
    int64_t n_head;         /* query heads */
    int64_t n_head_kv;      /* key/value heads (GQA) */
    int64_t head_dim;       /* dimension of one head */
    int64_t n_ff;           /* feed-forward inner size */
    double norm_eps;        /* RMSNorm epsilon */
    double rope_base;       /* RoPE base of global-attention blocks */
    double rope_base_local; /* RoPE base of sliding-window blocks (0 = same) */
    int64_t sliding_window; /* window of local blocks, 0 = none */
    int64_t swa_pattern;    /* every swa_pattern-th block is global (0 = none) */
    bool tied_output;       /* output head shares the token embedding */
    double attn_scale;      /* factor of q.k before the softmax; 0 = 1/sqrt(head_dim)
                               (Gemma: query_pre_attn_scalar^-1/2) */
    double rope_scale;      /* linear RoPE scaling of the global blocks: positions are
                               divided by it (Gemma 3 >= 4B: 8); 0 or 1 = none */
} mw_hparams;

typedef struct mw_model mw_model;

/* Opens a GGUF file or a safetensors folder with config.json. */
enum mw_status mw_model_open(const char *path, mw_model **out, mw_err *err);
void mw_model_close(mw_model *m);

enum mw_model_format mw_model_format(const mw_model *m);
const mw_hparams *mw_model_hparams(const mw_model *m);
/* "llama (SentencePiece)", "gpt2 (byte-level BPE)", ... or "none". */
const char *mw_model_tokenizer_kind(const mw_model *m);
/* The GGUF handle behind a GGUF model, NULL for a safetensors folder. */
const mw_gguf *mw_model_gguf(const mw_model *m);
/* The safetensors handle behind a folder, NULL for GGUF. */
const mw_st *mw_model_st(const mw_model *m);

/* Tensors under their GGUF names (blk.N.attn_q.weight, ...) and in GGUF
 * layout, whichever file they came from. */
int64_t mw_model_n_tensors(const mw_model *m);
const mw_tensor *mw_model_tensor_at(const mw_model *m, int64_t i);
const mw_tensor *mw_model_find_tensor(const mw_model *m, const char *name);
/* Converts tensor i to f32 in GGUF layout (undoing layout differences of
 * the source, such as the llama Q/K row order of Hugging Face files). dst
 * holds n_elems floats. */
enum mw_status mw_model_tensor_f32(const mw_model *m, int64_t i, float *dst, mw_err *err);
/* The same for rows [first, first + n) only (a row = ne[0] values), so that a
 * large tensor can be streamed. For tensors whose rows are reordered within
 * heads, first and n must be multiples of the head dimension
 * (mw_model_row_align). */
enum mw_status mw_model_tensor_rows_f32(const mw_model *m, int64_t i, int64_t first, int64_t n,
                                        float *dst, mw_err *err);
int64_t mw_model_row_align(const mw_model *m, int64_t i);

/* Parameter counts: token embedding (and an untied output head) vs blocks. */
typedef struct mw_param_counts {
    uint64_t embedding; /* token embedding and untied output head */
    uint64_t blocks;    /* every tensor of the decoder blocks */
    uint64_t other;     /* final norm and anything else */
    uint64_t total;
} mw_param_counts;
void mw_model_param_counts(const mw_model *m, mw_param_counts *out);

/* Writes a model to `out_path` as GGUF (a path ending in .gguf) or as a
 * safetensors folder (any other path, in shards of at most max_shard_bytes, 0
 * for one file), every matrix in `type` (F32, F16, BF16; vectors stay F32),
 * carrying the metadata the other side needs. Progress is reported per
 * tensor. */
typedef void (*mw_progress_fn)(void *user, const char *what, int64_t done, int64_t total);
enum mw_status mw_model_convert(const mw_model *m, const char *out_path, enum mw_type type,
                                uint64_t max_shard_bytes, mw_progress_fn progress, void *user,
                                mw_err *err);

/* ------------------------------------------------------------------------ */
/* Tokenizers                                                               */
/* ------------------------------------------------------------------------ */

/* A tokenizer encodes and decodes as the reference of its file does: a GGUF
 * vocabulary as llama.cpp does (SentencePiece merges by score for
 * tokenizer.ggml.model "llama", byte-level BPE with llama.cpp's regexes for
 * tokenizer.ggml.pre for "gpt2"), a tokenizer.json as Hugging Face tokenizers
 * does (added tokens, normalizer, pre-tokenizer, BPE, post-processor,
 * decoder). Once open it is read-only: any number of threads may encode and
 * decode with it at the same time. */
typedef struct mw_tokenizer mw_tokenizer;

/* Token ids, grown by mw_tokenize; start from {0} and release with
 * mw_tokens_free. */
typedef struct mw_tokens {
    int32_t *ids;
    size_t n;
    size_t cap;
} mw_tokens;
void mw_tokens_free(mw_tokens *t);

enum mw_tok_flags {
    /* encode: add what the model adds around a text (BOS and/or EOS as the
     * GGUF's add_bos_token/add_eos_token say, llama.cpp's defaults when
     * absent; a tokenizer.json's post-processor template). */
    MW_TOK_ADD_SPECIAL = 1u << 0,
    /* encode: the text of a special (control) token, "<bos>" say, becomes
     * that token; without it such text is tokenized as text. Added tokens
     * that are not special (user-defined) are always matched, as both
     * references do. decode: write the text of special tokens, which are
     * otherwise left out. */
    MW_TOK_SPECIAL = 1u << 1,
};

/* Opens the tokenizer of a GGUF file, of a tokenizer.json, or of a folder
 * holding a tokenizer.json. */
enum mw_status mw_tokenizer_open(const char *path, mw_tokenizer **out, mw_err *err);
/* The tokenizer of an open model: its GGUF metadata, or its folder's
 * tokenizer.json. Independent of the model once made. */
enum mw_status mw_model_tokenizer(const mw_model *m, mw_tokenizer **out, mw_err *err);
void mw_tokenizer_free(mw_tokenizer *t);

/* Number of ids (one past the largest). */
int64_t mw_tokenizer_n_vocab(const mw_tokenizer *t);
/* Beginning- and end-of-sequence ids, -1 when the vocabulary has none. */
int32_t mw_tokenizer_bos(const mw_tokenizer *t);
int32_t mw_tokenizer_eos(const mw_tokenizer *t);
/* Whether MW_TOK_ADD_SPECIAL puts a BOS first / an EOS last. */
bool mw_tokenizer_adds_bos(const mw_tokenizer *t);
bool mw_tokenizer_adds_eos(const mw_tokenizer *t);
/* A token's text as the vocabulary stores it ("\u2581the", "<0x0A>",
 * "\u0120the"), NULL for an id out of range or unassigned. */
const char *mw_tokenizer_token(const mw_tokenizer *t, int32_t id);
/* Whether a token is special (control or unknown): see MW_TOK_SPECIAL. */
bool mw_tokenizer_is_special(const mw_tokenizer *t, int32_t id);

/* Encodes len bytes of UTF-8 text (NUL bytes are text too) and appends the
 * ids to out; flags are MW_TOK_*. Text that is not valid UTF-8 (overlongs,
 * surrogates, truncated sequences) is MW_ERR_ARG, out unchanged. */
enum mw_status mw_tokenize(const mw_tokenizer *t, const char *text, size_t len, unsigned flags,
                           mw_tokens *out, mw_err *err);
/* Decodes n ids to the text they stand for, as the reference does: *text
 * gets a NUL-terminated buffer (release with free()) and *len its length.
 * Decoding the ids of a text gives the text back (after the normalizer, for
 * a tokenizer.json that has one). Byte tokens that make no UTF-8 are written
 * as the raw bytes for a GGUF (llama.cpp), as U+FFFD for a tokenizer.json
 * (Hugging Face). llama.cpp's optional clean-up of spaces is not applied. An
 * id out of range is MW_ERR_ARG. */
enum mw_status mw_detokenize(const mw_tokenizer *t, const int32_t *ids, size_t n, unsigned flags,
                             char **text, size_t *len, mw_err *err);

#ifdef __cplusplus
}
#endif

#endif /* MWANDA_H */
