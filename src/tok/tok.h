/* Tokenizers: text to token ids and back, exactly as the reference implementation of each
 * file format does it. A GGUF vocabulary is encoded as llama.cpp encodes it (SentencePiece
 * merges by score for "llama", byte-level BPE by merge rank with the regexes llama.cpp uses
 * for tokenizer.ggml.pre for "gpt2"); a tokenizer.json as Hugging Face tokenizers does
 * (added tokens, normalizer, pre-tokenizer, BPE model, post-processor, decoder).
 *
 * A tokenizer is read-only once open: every encode and decode keeps its state on its own,
 * so one tokenizer serves any number of threads. */
#ifndef MW_TOK_TOK_H
#define MW_TOK_TOK_H

#include "io/hf_tokenizer.h"
#include "mwanda.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

/* What a token is, as far as encoding and decoding care. */
enum tok_kind {
    TK_NORMAL = 0,
    TK_CONTROL, /* special: matched in text only on request, not decoded unless asked */
    TK_USER,    /* user-defined / added, not special: always matched in raw text */
    TK_UNKNOWN, /* the unknown token (handled like a control token) */
    TK_BYTE,    /* <0xXX> */
    TK_UNUSED,
};

/* ---- growable arrays ---------------------------------------------------- */

/* Bytes under construction (false from the adders when out of memory). */
typedef struct tok_str {
    char *s;
    size_t n, cap;
} tok_str;
bool tok_str_put(tok_str *b, const void *s, size_t n);
void tok_str_free(tok_str *b);

/* Spans of a buffer: the pieces a text is cut into. */
typedef struct tok_span {
    size_t off, len;
} tok_span;
typedef struct tok_spans {
    tok_span *v;
    size_t n, cap;
} tok_spans;
bool tok_spans_add(tok_spans *s, size_t off, size_t len);
void tok_spans_free(tok_spans *s);

/* First occurrence of needle[0..m) in hay[0..n), NULL. */
const char *tok_find(const char *hay, size_t n, const char *needle, size_t m);

/* Output ids (mw_tokens of the public API). */
bool tok_push(mw_tokens *out, int32_t id);

/* ---- hash maps ---------------------------------------------------------- */

/* Token text -> id over byte spans; the texts are the tokenizer's own. A text put twice
 * keeps the later id, as llama.cpp's map does. */
typedef struct tok_slot {
    uint32_t fp; /* high half of the text's hash */
    int32_t id;  /* -1 = empty */
} tok_slot;
typedef struct tok_map {
    tok_slot *slot;
    uint64_t mask;
    const char *const *text;
    const uint32_t *len;
} tok_map;
bool tok_map_init(tok_map *m, int64_t n_expected, const char *const *text, const uint32_t *len);
void tok_map_free(tok_map *m);
void tok_map_put(tok_map *m, int32_t id);
int32_t tok_map_get(const tok_map *m, const char *s, size_t n);

/* A merge: the pair (left id, right id) -> rank and merged id. */
typedef struct pair_map {
    uint64_t *key; /* 0 = empty, else (left << 32 | right) + 1 */
    int32_t *rank, *id;
    uint64_t mask;
} pair_map;
bool pair_map_init(pair_map *m, int64_t n_expected);
void pair_map_free(pair_map *m);
/* Keeps the first (lowest) rank of a pair given twice. */
void pair_map_put(pair_map *m, int32_t left, int32_t right, int32_t rank, int32_t id);
bool pair_map_get(const pair_map *m, int32_t left, int32_t right, int32_t *rank, int32_t *id);

/* A byte trie of the texts of added / special tokens. */
typedef struct tok_trie {
    uint64_t *ekey; /* edges: (node << 8 | byte) + 1, 0 = empty */
    int32_t *echild;
    uint64_t emask;
    int32_t *term; /* [node] pattern index ending here, -1 */
    int32_t n_nodes, cap_nodes;
} tok_trie;
/* Sized for patterns of total_bytes bytes. */
bool tok_trie_init(tok_trie *t, size_t total_bytes);
void tok_trie_free(tok_trie *t);
/* Adds a pattern; a text added twice keeps its first index. */
void tok_trie_add(tok_trie *t, const char *s, size_t n, int32_t index);
/* The child of node by byte, -1. Node 0 is the root. */
int32_t tok_trie_next(const tok_trie *t, int32_t node, unsigned char byte);

/* ---- Unicode helpers ---------------------------------------------------- */

/* Bytes of the UTF-8 sequence starting with this byte (1 for a stray one). */
static inline size_t tok_utf8_len(unsigned char c) {
    return c < 0xc0 ? 1 : c < 0xe0 ? 2 : c < 0xf0 ? 3 : 4;
}
/* Offset of the first byte that is not well-formed UTF-8, SIZE_MAX when all is. */
size_t tok_utf8_check(const char *s, size_t n);
/* Decodes one code point of valid UTF-8. */
uint32_t tok_utf8_decode(const char *s, size_t *len);
size_t tok_utf8_encode(uint32_t cp, char *out);
/* Unicode White_Space, the set llama.cpp and the Rust/Oniguruma regexes call \s. */
bool tok_is_space(uint32_t cp);
/* GPT-2's byte <-> printable character mapping (byte-level BPE). */
const char *tok_byte_char(unsigned char b, size_t *len);
/* The byte a mapped character stands for, -1 when it is not one. */
int tok_char_byte(const char *s, size_t n);

/* ---- pieces of the pipeline ---------------------------------------------- */

/* A compiled regex, shared by every thread. */
typedef struct tok_regex {
    pcre2_code *code;
} tok_regex;
enum mw_status tok_regex_compile(tok_regex *r, const char *pattern, bool literal, mw_err *err);
void tok_regex_free(tok_regex *r);
/* Per-call match state. */
typedef struct tok_matcher {
    pcre2_match_data *md;
    pcre2_match_context *mc;
    pcre2_jit_stack *stack;
} tok_matcher;
bool tok_matcher_init(tok_matcher *m);
void tok_matcher_free(tok_matcher *m);
/* Next match in s[0..n) at or after *start: its span; false when none (or *failed). */
bool tok_regex_next(const tok_regex *r, tok_matcher *m, const char *s, size_t n, size_t start,
                    size_t *mstart, size_t *mend, bool *failed);

/* Normalizer steps (tokenizer.json "normalizer"). */
typedef struct tok_norm tok_norm;
enum mw_status tok_norm_from_json(const json_t *j, tok_norm **out, mw_err *err);
void tok_norm_free(tok_norm *n);
/* Normalizes s[0..n) into out (replacing its contents). */
enum mw_status tok_norm_apply(const tok_norm *norm, const char *s, size_t n, tok_str *out,
                              mw_err *err);

/* Pre-tokenizer steps: a text cut into words, mapped to byte-level characters on the way
 * when the model works on those. */
typedef struct tok_pretok tok_pretok;
/* llama.cpp's regexes for tokenizer.ggml.pre, then the byte-level mapping. */
enum mw_status tok_pretok_from_gguf(const char *pre, tok_pretok **out, mw_err *err);
/* Whether llama.cpp treats pre as Llama 3's (ignore_merges, BOS added by default). */
bool tok_gguf_pre_is_llama3(const char *pre);
enum mw_status tok_pretok_from_json(const json_t *j, tok_pretok **out, mw_err *err);
void tok_pretok_free(tok_pretok *p);
/* Building one step by step. behavior: Hugging Face's Split behavior name. */
tok_pretok *tok_pretok_new(void);
enum mw_status tok_pretok_split(tok_pretok *p, const char *pattern, bool literal,
                                const char *behavior, bool invert, mw_err *err);
/* replace: every space becomes text; else text is put before a piece not starting with it
 * (first_only: only at the start of the input). */
enum mw_status tok_pretok_text_step(tok_pretok *p, bool replace, const char *text, bool first_only,
                                    mw_err *err);
/* Bytes to GPT-2's characters. */
enum mw_status tok_pretok_bytes(tok_pretok *p, mw_err *err);
/* Cuts s[0..n) into words: *buf holds the text, *words the spans. at_start: the text is
 * the beginning of the input (for Metaspace's prepend_scheme "first"). */
enum mw_status tok_pretok_run(const tok_pretok *p, const char *s, size_t n, bool at_start,
                              tok_str *buf, tok_spans *words, mw_err *err);

/* Decoder steps (tokenizer.json "decoder"). */
typedef struct tok_decoder tok_decoder;
enum mw_status tok_decoder_from_json(const json_t *j, tok_decoder **out, mw_err *err);
void tok_decoder_free(tok_decoder *d);

/* ---- the tokenizer ------------------------------------------------------ */

/* How added / special tokens are found in raw text. */
enum tok_split_rule {
    SPLIT_LONGEST_FIRST, /* llama.cpp: longer tokens claim their matches first */
    SPLIT_LEFTMOST,      /* Hugging Face: leftmost match, the longest there */
};

/* One added / special token as matched in text. */
typedef struct tok_added {
    int32_t id;
    bool special; /* matched only when parsing special tokens */
    bool lstrip, rstrip, single_word, normalized;
} tok_added;

struct mw_tokenizer {
    mw_vocab v;            /* ids, types, special ids and flags as GGUF holds them */
    json_t *json;          /* tokenizer.json (owns the texts below for such a tokenizer) */
    bool hf;               /* Hugging Face semantics (a tokenizer.json) */
    bool spm;              /* llama.cpp SentencePiece merges by score */
    int64_t n;             /* ids */
    const char **text;     /* [n] text of each id as the model sees it, NULL for a gap */
    uint32_t *tlen;        /* [n] */
    uint8_t *kind;         /* [n] enum tok_kind */
    tok_map vocab;         /* the model's text -> id */
    pair_map merges;       /* BPE */
    int32_t byte_tok[256]; /* <0xXX> token of each byte (byte fallback), -1 */
    /* BPE model options */
    bool byte_fallback, fuse_unk, ignore_merges;
    int32_t unk;           /* unknown token of a tokenizer.json BPE, -1 */
    bool add_space_prefix; /* SentencePiece: a space before the text */
    tok_norm *norm;
    tok_pretok *pre;
    tok_decoder *dec;
    /* added / special tokens */
    enum tok_split_rule split_rule;
    tok_added *added; /* sorted: longest text first (llama.cpp's order) */
    int32_t n_added;
    tok_trie trie;      /* texts of added tokens matched in raw text -> index in added */
    tok_trie trie_norm; /* added tokens matched after normalization (tokenizer.json) */
    tok_str norm_texts; /* their normalized texts */
    tok_spans norm_spans;
    /* what MW_TOK_ADD_SPECIAL puts around the ids */
    int32_t prefix[4], suffix[4];
    int n_prefix, n_suffix;
    int32_t bos, eos;
};

/* Builds the maps, byte tokens and added-token matcher once texts and kinds are set. */
enum mw_status tok_finish(mw_tokenizer *t, mw_err *err);
/* A tokenizer.json at path (already loaded into t->v and t->json) to the fields above. */
enum mw_status tok_setup_json(mw_tokenizer *t, const char *path, mw_err *err);

/* Raw text (no added tokens in it) to ids by SentencePiece scores, appended to out; prefix:
 * a space before it. */
enum mw_status tok_spm_encode(const mw_tokenizer *t, const char *s, size_t n, bool prefix,
                              mw_tokens *out, mw_err *err);
/* One pre-tokenized word to ids by merge rank. */
enum mw_status tok_bpe_word(const mw_tokenizer *t, const char *s, size_t n, mw_tokens *out,
                            mw_err *err);

/* Splits text into raw fragments and added-token ids: frags get (off, len) for raw text
 * and (id, TOK_TOKEN_LEN) for a token. */
#define TOK_TOKEN_LEN SIZE_MAX
enum mw_status tok_split_added(const mw_tokenizer *t, const tok_trie *trie, const char *s, size_t n,
                               bool parse_special, tok_spans *frags, mw_err *err);

/* ids -> bytes. */
enum mw_status tok_decode(const mw_tokenizer *t, const int32_t *ids, size_t n, unsigned flags,
                          tok_str *out, mw_err *err);

#endif
