/* mwanda tokenize MODEL_OR_TOKENIZER_JSON [--special] [--decode] [--jsonl] */
#include "cli/cli.h"
#include "core/utf8.h"

#include <getopt.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

static const char USAGE[] =
    "usage: mwanda tokenize MODEL_OR_TOKENIZER_JSON [--special] [--decode] [--jsonl]\n"
    "\n"
    "Reads UTF-8 text on standard input and prints its token ids as one JSON\n"
    "array. A GGUF model is tokenized as llama.cpp does it, a tokenizer.json (or a\n"
    "safetensors folder holding one) as Hugging Face tokenizers does. MODEL may be\n"
    "an alias (gemma3-270m, smollm2-135m).\n"
    "\n"
    "  --special   add BOS/EOS as the model does, and read the text of special\n"
    "              tokens (\"<bos>\", \"<|im_start|>\") as those tokens; with --decode,\n"
    "              write special tokens out (they are left out otherwise)\n"
    "  --decode    read a JSON array of ids on standard input and print the text\n"
    "              they stand for (no newline added)\n"
    "  --jsonl     many texts at once: each input line is a JSON string (with\n"
    "              --decode: a JSON array of ids), each output line its ids (the\n"
    "              text as a JSON string)\n"
    "  -h, --help  this text\n"
    "\n"
    "examples:\n"
    "  printf 'Hello, world!' | mwanda tokenize gemma3-270m\n"
    "  echo '[9259, 236764, 1902, 236888]' | mwanda tokenize gemma3-270m --decode\n"
    "  printf '\"one\"\\n\"two\"\\n' | mwanda tokenize smollm2-135m --jsonl\n";

/* All of standard input; NULL (with the error printed) on failure. */
static char *read_stdin(size_t *len) {
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap + 1);
    while (buf) {
        if (n == cap) {
            char *b = cap > SIZE_MAX / 4 ? NULL : realloc(buf, 2 * cap + 1);
            if (!b) break;
            buf = b;
            cap *= 2;
        }
        size_t got = fread(buf + n, 1, cap - n, stdin);
        n += got;
        if (got == 0) {
            if (ferror(stdin)) {
                free(buf);
                cli_error("cannot read standard input");
                return NULL;
            }
            buf[n] = 0;
            *len = n;
            return buf;
        }
    }
    free(buf);
    cli_error("out of memory reading standard input");
    return NULL;
}

/* What one text or one list of ids becomes. */
typedef struct job {
    const mw_tokenizer *t;
    bool special, decode, jsonl;
    size_t line; /* 1-based line of --jsonl input, 0 otherwise */
} job;

static int job_error(const job *j, const char *fmt, const char *msg) {
    if (j->line) return cli_error("line %zu: %s", j->line, msg);
    return cli_error(fmt, msg);
}

static int encode(const job *j, const char *text, size_t len) {
    mw_tokens ids = {0};
    mw_err err = {{0}};
    unsigned flags = j->special ? MW_TOK_ADD_SPECIAL | MW_TOK_SPECIAL : 0;
    enum mw_status s = mw_tokenize(j->t, text, len, flags, &ids, &err);
    if (s) return job_error(j, "standard input: %s", err.msg[0] ? err.msg : mw_strerror(s));
    putchar('[');
    for (size_t i = 0; i < ids.n; i++)
        printf(i ? ", %ld" : "%ld", (long)ids.ids[i]);
    puts("]");
    mw_tokens_free(&ids);
    return CLI_OK;
}

/* The ids of a JSON array, checked against the vocabulary. */
static int parse_ids(const job *j, const json_t *a, int32_t **out, size_t *n) {
    char msg[160];
    if (!json_is_array(a)) return job_error(j, "%s", "the input is not a JSON array of token ids");
    *n = json_array_size(a);
    *out = malloc((*n ? *n : 1) * sizeof **out);
    if (!*out) return job_error(j, "%s", "out of memory");
    int64_t vocab = mw_tokenizer_n_vocab(j->t);
    for (size_t i = 0; i < *n; i++) {
        const json_t *e = json_array_get(a, i);
        json_int_t id = json_integer_value(e);
        if (!json_is_integer(e))
            snprintf(msg, sizeof msg, "element %zu is not an integer token id", i);
        else if (id < 0 || id >= vocab)
            snprintf(msg, sizeof msg, "token id %lld is out of range (the vocabulary has %lld)",
                     (long long)id, (long long)vocab);
        else {
            (*out)[i] = (int32_t)id;
            continue;
        }
        free(*out);
        return job_error(j, "%s", msg);
    }
    return CLI_OK;
}

/* text as a JSON string; bytes that are not UTF-8 (from byte tokens) become U+FFFD, one
 * per byte. */
static void print_json_string(const char *s, size_t n) {
    char *clean = malloc(3 * n + 1);
    size_t m = 0;
    for (size_t i = 0; clean && i < n;) {
        size_t len = 1;
        while (len <= 4 && i + len <= n && !mw_utf8_valid(s + i, len))
            len++;
        if (len > 4 || i + len > n) {
            memcpy(clean + m, "\xef\xbf\xbd", 3);
            m += 3, i++;
        } else {
            memcpy(clean + m, s + i, len);
            m += len, i += len;
        }
    }
    json_t *str = clean ? json_stringn(clean, m) : NULL;
    char *out = str ? json_dumps(str, JSON_ENCODE_ANY) : NULL;
    if (out) fputs(out, stdout);
    free(out);
    json_decref(str);
    free(clean);
}

static int decode(const job *j, const char *text, size_t len) {
    json_error_t jerr;
    json_t *a = json_loadb(text, len, JSON_DECODE_ANY, &jerr);
    int32_t *ids = NULL;
    size_t n = 0;
    int rc = parse_ids(j, a, &ids, &n);
    json_decref(a);
    if (rc) return rc;
    char *out = NULL;
    size_t out_len = 0;
    mw_err err = {{0}};
    unsigned flags = j->special ? MW_TOK_SPECIAL : 0;
    enum mw_status s = mw_detokenize(j->t, ids, n, flags, &out, &out_len, &err);
    free(ids);
    if (s) return job_error(j, "%s", err.msg[0] ? err.msg : mw_strerror(s));
    if (j->jsonl) {
        print_json_string(out, out_len);
        putchar('\n');
    } else {
        fwrite(out, 1, out_len, stdout);
    }
    free(out);
    return CLI_OK;
}

/* --jsonl: one job per line. */
static int each_line(job *j, const char *in, size_t len) {
    int rc = CLI_OK;
    for (size_t pos = 0; rc == CLI_OK && pos < len;) {
        const char *nl = memchr(in + pos, '\n', len - pos);
        size_t end = nl ? (size_t)(nl - in) : len;
        j->line++;
        if (j->decode) {
            rc = decode(j, in + pos, end - pos);
        } else {
            json_error_t jerr;
            json_t *str = json_loadb(in + pos, end - pos, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
            if (!json_is_string(str))
                rc = job_error(j, "%s", "the line is not a JSON string");
            else
                rc = encode(j, json_string_value(str), json_string_length(str));
            json_decref(str);
        }
        pos = end + 1;
    }
    return rc;
}

/* A model (GGUF, or a folder with config.json) gives its tokenizer; anything else, or a
 * file that opens as no model (a vocabulary-only GGUF), is opened as a tokenizer. */
static mw_tokenizer *open_tokenizer(const char *arg) {
    char buf[4096], cfg[4200];
    const char *path = cli_model_path(arg, buf, sizeof buf);
    if (!path) return NULL;
    mw_tokenizer *t = NULL;
    mw_model *m = NULL;
    mw_err err = {{0}};
    size_t n = strlen(path);
    snprintf(cfg, sizeof cfg, "%s/config.json", path);
    FILE *f = fopen(cfg, "rb");
    bool model = f || (n > 5 && strcmp(path + n - 5, ".gguf") == 0);
    if (f) fclose(f);
    if (model && mw_model_open(path, &m, &err) == MW_OK) {
        enum mw_status s = mw_model_tokenizer(m, &t, &err);
        mw_model_close(m);
        if (s) cli_error("%s", err.msg[0] ? err.msg : mw_strerror(s));
        return t;
    }
    enum mw_status s = mw_tokenizer_open(path, &t, &err);
    if (s) cli_error("%s", err.msg[0] ? err.msg : mw_strerror(s));
    return t;
}

int cmd_tokenize(int argc, char **argv) {
    static const struct option OPTS[] = {{"special", no_argument, NULL, 's'},
                                         {"decode", no_argument, NULL, 'd'},
                                         {"jsonl", no_argument, NULL, 'l'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    job j = {0};
    int c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "h", OPTS, NULL)) != -1) {
        if (c == 's')
            j.special = true;
        else if (c == 'd')
            j.decode = true;
        else if (c == 'l')
            j.jsonl = true;
        else if (c == 'h')
            return fputs(USAGE, stdout), CLI_OK;
        else
            return cli_usage_error("tokenize", "unknown option '%s'", argv[optind - 1]);
    }
    if (optind != argc - 1)
        return cli_usage_error("tokenize", "expected one MODEL or tokenizer.json");
    mw_tokenizer *t = open_tokenizer(argv[optind]);
    if (!t) return CLI_FAIL;
    j.t = t;
    size_t len = 0;
    char *in = read_stdin(&len);
    int rc = CLI_FAIL;
    if (in && j.jsonl)
        rc = each_line(&j, in, len);
    else if (in)
        rc = j.decode ? decode(&j, in, len) : encode(&j, in, len);
    free(in);
    mw_tokenizer_free(t);
    if (fflush(stdout) != 0 || ferror(stdout)) rc = cli_error("cannot write the output");
    return rc;
}
