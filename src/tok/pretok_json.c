/* A tokenizer.json "pre_tokenizer" as the steps of pretok.c, with the defaults Hugging Face
 * tokenizers gives missing fields. */
#include "core/err.h"
#include "tok/tok.h"

#include <stdlib.h>
#include <string.h>

/* GPT-2's regex, which ByteLevel applies when use_regex is set. */
#define RE_GPT2 "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+"

static bool flag(const json_t *j, const char *key, bool dflt) {
    const json_t *v = json_object_get(j, key);
    return json_is_boolean(v) ? json_is_true(v) : dflt;
}

static const char *str(const json_t *j, const char *key, const char *dflt) {
    const char *s = json_string_value(json_object_get(j, key));
    return s ? s : dflt;
}

/* A "pattern": {"String": ...} or {"Regex": ...}. */
static bool pattern_of(const json_t *j, const char **pattern, bool *literal) {
    const json_t *p = json_object_get(j, "pattern");
    *literal = json_is_string(json_object_get(p, "String"));
    *pattern = json_string_value(json_object_get(p, *literal ? "String" : "Regex"));
    return *pattern != NULL;
}

static enum mw_status byte_level(tok_pretok *p, const json_t *j, mw_err *err) {
    enum mw_status s = MW_OK;
    if (flag(j, "add_prefix_space", true)) s = tok_pretok_text_step(p, false, " ", false, err);
    if (!s && flag(j, "use_regex", true))
        s = tok_pretok_split(p, RE_GPT2, false, "Isolated", false, err);
    return s ? s : tok_pretok_bytes(p, err);
}

static enum mw_status metaspace(tok_pretok *p, const json_t *j, mw_err *err) {
    const char *rep = str(j, "replacement", "\xe2\x96\x81");
    const char *scheme = str(j, "prepend_scheme", NULL);
    /* older files say add_prefix_space instead of prepend_scheme */
    if (!scheme) scheme = flag(j, "add_prefix_space", true) ? "always" : "never";
    enum mw_status s = tok_pretok_text_step(p, true, rep, false, err);
    if (!s && strcmp(scheme, "never") != 0) {
        if (strcmp(scheme, "always") != 0 && strcmp(scheme, "first") != 0)
            return mw_fail(err, MW_ERR_UNSUPPORTED, "Metaspace prepend_scheme '%.20s'", scheme);
        s = tok_pretok_text_step(p, false, rep, strcmp(scheme, "first") == 0, err);
    }
    if (!s && flag(j, "split", true))
        s = tok_pretok_split(p, rep, true, "MergedWithNext", false, err);
    return s;
}

static enum mw_status add_json(tok_pretok *p, const json_t *j, int depth, mw_err *err) {
    const char *type = str(j, "type", "");
    const char *pattern;
    bool literal;
    if (depth > 8) return mw_fail(err, MW_ERR_FORMAT, "pre_tokenizer nests too deeply");
    if (strcmp(type, "Sequence") == 0) {
        const json_t *e;
        size_t i;
        json_array_foreach(json_object_get(j, "pretokenizers"), i, e) {
            enum mw_status s = add_json(p, e, depth + 1, err);
            if (s) return s;
        }
        return MW_OK;
    }
    if (strcmp(type, "Split") == 0) {
        if (!pattern_of(j, &pattern, &literal))
            return mw_fail(err, MW_ERR_FORMAT, "pre_tokenizer Split without a pattern");
        return tok_pretok_split(p, pattern, literal, str(j, "behavior", ""),
                                flag(j, "invert", false), err);
    }
    if (strcmp(type, "ByteLevel") == 0) return byte_level(p, j, err);
    if (strcmp(type, "Metaspace") == 0) return metaspace(p, j, err);
    if (strcmp(type, "Digits") == 0)
        return tok_pretok_split(p, flag(j, "individual_digits", false) ? "\\p{N}" : "\\p{N}+",
                                false, "Isolated", false, err);
    if (strcmp(type, "WhitespaceSplit") == 0)
        return tok_pretok_split(p, "\\s+", false, "Removed", false, err);
    if (strcmp(type, "Whitespace") == 0)
        return tok_pretok_split(p, "\\w+|[^\\w\\s]+", false, "Removed", true, err);
    if (strcmp(type, "Punctuation") == 0)
        return tok_pretok_split(p, "[\\p{P}$+<=>^`|~]", false, str(j, "behavior", "Isolated"),
                                false, err);
    return mw_fail(err, MW_ERR_UNSUPPORTED, "pre_tokenizer type '%.40s' is not supported", type);
}

enum mw_status tok_pretok_from_json(const json_t *j, tok_pretok **out, mw_err *err) {
    *out = NULL;
    if (!j || json_is_null(j)) return MW_OK;
    tok_pretok *p = tok_pretok_new();
    if (!p) return mw_fail(err, MW_ERR_NOMEM, "out of memory");
    enum mw_status s = add_json(p, j, 0, err);
    if (s) {
        tok_pretok_free(p);
        return mw_fail_context(err, s, "tokenizer.json pre_tokenizer");
    }
    *out = p;
    return MW_OK;
}
