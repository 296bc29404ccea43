/* Byte-level BPE pre-tokenizers: llama.cpp names them (tokenizer.ggml.pre) and keeps the
 * regexes in its source; tokenizer.json spells the regexes out. llama.cpp finds the name
 * by hashing a test tokenization, which needs the model's own tokenizer; here the
 * tokenizer.json form is matched against the few regex sets llama.cpp uses. */
#include "io/hf_tokenizer.h"

#include <string.h>

#define RE_GPT2        "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)"
#define RE_LLAMA3_HEAD "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|"
#define RE_LLAMA3_TAIL " ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"
/* Llama 3 groups digits by three, Qwen 2 splits every digit. */
#define RE_LLAMA3 RE_LLAMA3_HEAD "\\p{N}{1,3}|" RE_LLAMA3_TAIL
#define RE_QWEN2  RE_LLAMA3_HEAD "\\p{N}|" RE_LLAMA3_TAIL

enum pre_kind { PRE_GPT2, PRE_DIGITS_GPT2, PRE_LLAMA3, PRE_QWEN2, PRE_DEFAULT };

static const struct {
    const char *name;
    enum pre_kind kind;
} PRES[] = {
    {"gpt-2", PRE_GPT2},
    {"gpt2", PRE_GPT2},
    {"phi-2", PRE_GPT2},
    {"mpt", PRE_GPT2},
    {"olmo", PRE_GPT2},
    {"jais", PRE_GPT2},
    {"smollm", PRE_DIGITS_GPT2},
    {"starcoder", PRE_DIGITS_GPT2},
    {"refact", PRE_DIGITS_GPT2},
    {"command-r", PRE_DIGITS_GPT2},
    {"codeshell", PRE_DIGITS_GPT2},
    {"exaone", PRE_DIGITS_GPT2},
    {"llama-bpe", PRE_LLAMA3},
    {"llama3", PRE_LLAMA3},
    {"llama-v3", PRE_LLAMA3},
    {"falcon3", PRE_LLAMA3},
    {"dbrx", PRE_LLAMA3},
    {"smaug-bpe", PRE_LLAMA3},
    {"qwen2", PRE_QWEN2},
    {"deepseek-r1-qwen", PRE_QWEN2},
    {"default", PRE_DEFAULT},
};

static json_t *byte_level(bool use_regex) {
    return json_pack("{s:s, s:b, s:b, s:b}", "type", "ByteLevel", "add_prefix_space", 0,
                     "trim_offsets", 1, "use_regex", use_regex);
}

static json_t *split(const char *regex) {
    return json_pack("{s:s, s:{s:s}, s:s, s:b}", "type", "Split", "pattern", "Regex", regex,
                     "behavior", "Isolated", "invert", 0);
}

static json_t *sequence(json_t *a, json_t *b) {
    return json_pack("{s:s, s:[o, o]}", "type", "Sequence", "pretokenizers", a, b);
}

/* llama.cpp's default set of regexes, applied one after the other as Split does. */
static json_t *default_pre(void) {
    return json_pack("{s:s, s:[o, o, o, o, o]}", "type", "Sequence", "pretokenizers",
                     split("[\\p{P}\\$\\+<=>\\^~\\|]+"), split(RE_GPT2), split("\\p{N}+"),
                     split("[0-9][0-9][0-9]"), byte_level(false));
}

json_t *mw_pre_tokenizer_json(const char *name, bool *nfc, bool *ignore_merges) {
    *nfc = *ignore_merges = false;
    for (size_t i = 0; i < sizeof PRES / sizeof *PRES; i++) {
        if (strcmp(name, PRES[i].name) != 0) continue;
        switch (PRES[i].kind) {
        case PRE_GPT2:
            return byte_level(true);
        case PRE_DIGITS_GPT2:
            return sequence(json_pack("{s:s, s:b}", "type", "Digits", "individual_digits", 1),
                            byte_level(true));
        case PRE_LLAMA3:
            *ignore_merges = true; /* llama.cpp does so for this pre-tokenizer */
            return sequence(split(RE_LLAMA3), byte_level(false));
        case PRE_QWEN2:
            *nfc = true; /* Qwen's own tokenizer.json normalizes to NFC */
            return sequence(split(RE_QWEN2), byte_level(false));
        case PRE_DEFAULT:
            return default_pre();
        }
    }
    return NULL;
}

static bool is_type(const json_t *j, const char *type) {
    const char *t = json_string_value(json_object_get(j, "type"));
    return t && strcmp(t, type) == 0;
}

/* A ByteLevel pre-tokenizer; use_regex defaults to true as in tokenizers. */
static bool is_byte_level(const json_t *j, bool use_regex) {
    if (!is_type(j, "ByteLevel")) return false;
    const json_t *u = json_object_get(j, "use_regex");
    return (u ? json_is_true(u) : true) == use_regex;
}

static const char *split_regex(const json_t *j) {
    if (!is_type(j, "Split")) return NULL;
    const char *b = json_string_value(json_object_get(j, "behavior"));
    if (!b || strcmp(b, "Isolated") != 0 || json_is_true(json_object_get(j, "invert"))) return NULL;
    return json_string_value(json_object_get(json_object_get(j, "pattern"), "Regex"));
}

const char *mw_pre_from_json(const json_t *pre, const char *arch) {
    if (is_byte_level(pre, true)) return "gpt-2";
    json_t *def = default_pre();
    bool is_default = json_equal(def, (json_t *)pre);
    json_decref(def);
    if (is_default) return "default";
    const json_t *list = json_object_get(pre, "pretokenizers");
    if (!is_type(pre, "Sequence") || json_array_size(list) != 2) return "";
    const json_t *a = json_array_get(list, 0), *b = json_array_get(list, 1);
    if (is_type(a, "Digits") && json_is_true(json_object_get(a, "individual_digits")) &&
        is_byte_level(b, true)) {
        /* llama.cpp splits the same way for these; only the name differs */
        if (strncmp(arch, "starcoder", 9) == 0) return "starcoder";
        if (strcmp(arch, "refact") == 0) return "refact";
        return "smollm";
    }
    const char *re = split_regex(a);
    if (!re || !is_byte_level(b, false)) return "";
    if (strcmp(re, RE_LLAMA3) == 0) return "llama-bpe";
    if (strcmp(re, RE_QWEN2) == 0) return "qwen2";
    return "";
}
