/* mwanda inspect MODEL [--json] [--metadata] */
#include "cli/cli.h"

#include <getopt.h>
#include <jansson.h>
#include <math.h>
#include <string.h>

static const char USAGE[] =
    "usage: mwanda inspect MODEL [--json] [--metadata]\n"
    "\n"
    "Shows a model's architecture, hyperparameters, tokenizer, parameter counts\n"
    "and tensors (name, type, shape with the fastest-varying dimension first, as\n"
    "in GGUF). MODEL is a GGUF file, a safetensors folder with config.json, or an\n"
    "alias (gemma3-270m, smollm2-135m). Nothing is loaded into memory as f32.\n"
    "\n"
    "  --json       print the same as one JSON object\n"
    "  --metadata   also list the GGUF metadata entries\n"
    "  -h, --help   this text\n"
    "\n"
    "example:\n"
    "  mwanda inspect gemma3-270m --json | jq .parameters\n";

static void shape_text(const mw_tensor *t, char *buf, size_t size) {
    size_t n = 0;
    buf[0] = 0;
    for (uint32_t d = 0; d < t->n_dims && n < size; d++)
        n += (size_t)snprintf(buf + n, size - n, "%s%lld", d ? " x " : "", (long long)t->ne[d]);
}

static void print_hparams(const mw_hparams *hp) {
    printf("  vocabulary        %lld\n", (long long)hp->n_vocab);
    printf("  context (train)   %lld\n", (long long)hp->n_ctx_train);
    printf("  hidden            %lld\n", (long long)hp->n_embd);
    printf("  blocks            %lld\n", (long long)hp->n_layer);
    printf("  heads             %lld query, %lld key/value, head dim %lld\n", (long long)hp->n_head,
           (long long)hp->n_head_kv, (long long)hp->head_dim);
    printf("  feed-forward      %lld\n", (long long)hp->n_ff);
    printf("  norm epsilon      %g\n", hp->norm_eps);
    if (hp->sliding_window > 0) {
        printf("  rope base         %g (sliding-window blocks %g)\n", hp->rope_base,
               hp->rope_base_local);
        printf("  sliding window    %lld tokens; one block in %lld global\n",
               (long long)hp->sliding_window, (long long)hp->swa_pattern);
    } else {
        printf("  rope base         %g\n", hp->rope_base);
    }
    if (hp->rope_scale > 0 && hp->rope_scale != 1)
        printf("  rope scaling      linear x%g (global blocks)\n", hp->rope_scale);
    if (hp->attn_scale > 0) printf("  attention scale   %g\n", hp->attn_scale);
    printf("  output head       %s\n", hp->tied_output ? "tied to the token embedding" : "own");
}

static void print_value(const mw_gguf_kv *kv) {
    if (kv->type == MW_GGUF_ARRAY) {
        printf("[%s x %llu]", mw_gguf_vtype_name(kv->elem_type), (unsigned long long)kv->n);
        return;
    }
    int64_t i;
    double f;
    const char *s = mw_gguf_kv_str(kv);
    if (s)
        printf("\"%.60s%s\"", s, strlen(s) > 60 ? "..." : "");
    else if (kv->type == MW_GGUF_BOOL)
        printf("%s", *(const uint8_t *)kv->data ? "true" : "false");
    else if (kv->type == MW_GGUF_UINT64)
        printf("%llu", (unsigned long long)*(const uint64_t *)kv->data);
    else if (kv->type != MW_GGUF_FLOAT32 && kv->type != MW_GGUF_FLOAT64 && mw_gguf_kv_int(kv, &i))
        printf("%lld", (long long)i);
    else if (mw_gguf_kv_float(kv, &f))
        printf("%.9g", f);
    else
        printf("(%s)", mw_gguf_vtype_name(kv->type));
}

static void print_text(const char *path, const mw_model *m, bool metadata) {
    const mw_hparams *hp = mw_model_hparams(m);
    const mw_gguf *g = mw_model_gguf(m);
    mw_param_counts pc;
    mw_model_param_counts(m, &pc);
    if (g)
        printf("model          %s (GGUF v%u, %.1f MiB)\n", path, mw_gguf_version(g),
               (double)mw_gguf_file_size(g) / 1048576.0);
    else
        printf("model          %s (safetensors folder)\n", path);
    printf("architecture   %s\n", hp->arch);
    printf("hyperparameters\n");
    print_hparams(hp);
    printf("tokenizer      %s\n", mw_model_tokenizer_kind(m));
    printf("parameters     %.2f M total: embedding %.2f M, blocks %.2f M, other %llu\n",
           (double)pc.total / 1e6, (double)pc.embedding / 1e6, (double)pc.blocks / 1e6,
           (unsigned long long)pc.other);
    if (metadata && g) {
        printf("metadata (%lld entries)\n", (long long)mw_gguf_n_kv(g));
        for (int64_t i = 0; i < mw_gguf_n_kv(g); i++) {
            const mw_gguf_kv *kv = mw_gguf_kv_at(g, i);
            printf("  %-44s ", kv->key);
            print_value(kv);
            printf("\n");
        }
    }
    printf("tensors (%lld)\n", (long long)mw_model_n_tensors(m));
    for (int64_t i = 0; i < mw_model_n_tensors(m); i++) {
        const mw_tensor *t = mw_model_tensor_at(m, i);
        char shape[96];
        shape_text(t, shape, sizeof shape);
        printf("  %-36s %-6s %s\n", t->name, mw_type_name(t->type), shape);
    }
}

static json_t *hparams_json(const mw_hparams *hp) {
    json_t *o = json_object();
    json_object_set_new(o, "n_vocab", json_integer(hp->n_vocab));
    json_object_set_new(o, "n_ctx_train", json_integer(hp->n_ctx_train));
    json_object_set_new(o, "n_embd", json_integer(hp->n_embd));
    json_object_set_new(o, "n_layer", json_integer(hp->n_layer));
    json_object_set_new(o, "n_head", json_integer(hp->n_head));
    json_object_set_new(o, "n_head_kv", json_integer(hp->n_head_kv));
    json_object_set_new(o, "head_dim", json_integer(hp->head_dim));
    json_object_set_new(o, "n_ff", json_integer(hp->n_ff));
    json_object_set_new(o, "norm_eps", json_real(hp->norm_eps));
    json_object_set_new(o, "rope_base", json_real(hp->rope_base));
    json_object_set_new(o, "rope_base_local", json_real(hp->rope_base_local));
    json_object_set_new(o, "sliding_window", json_integer(hp->sliding_window));
    json_object_set_new(o, "swa_pattern", json_integer(hp->swa_pattern));
    json_object_set_new(o, "tied_output", json_boolean(hp->tied_output));
    json_object_set_new(o, "rope_scale", json_real(hp->rope_scale > 0 ? hp->rope_scale : 1));
    json_object_set_new(o, "attn_scale",
                        json_real(hp->attn_scale > 0 ? hp->attn_scale : 1 / sqrt(hp->head_dim)));
    return o;
}

static const char *u64_text(uint64_t v, char buf[32]) {
    snprintf(buf, 32, "%llu", (unsigned long long)v);
    return buf;
}

/* Scalars by value (a uint64 beyond a JSON integer as its decimal text);
 * arrays by element type and length. */
static json_t *metadata_json(const mw_gguf *g) {
    json_t *o = json_object();
    char buf[32];
    for (int64_t i = 0; i < mw_gguf_n_kv(g); i++) {
        const mw_gguf_kv *kv = mw_gguf_kv_at(g, i);
        int64_t iv;
        double fv;
        const char *s = mw_gguf_kv_str(kv);
        json_t *v;
        if (kv->type == MW_GGUF_ARRAY)
            v = json_pack("{s:s, s:s, s:I}", "type", "array", "elem_type",
                          mw_gguf_vtype_name(kv->elem_type), "n", (json_int_t)kv->n);
        else if (s)
            v = json_stringn(s, ((const mw_str *)kv->data)->len);
        else if (kv->type == MW_GGUF_BOOL)
            v = json_boolean(*(const uint8_t *)kv->data);
        else if (kv->type == MW_GGUF_UINT64 && !mw_gguf_kv_int(kv, &iv))
            v = json_string(u64_text(*(const uint64_t *)kv->data, buf));
        else if (kv->type != MW_GGUF_FLOAT32 && kv->type != MW_GGUF_FLOAT64 &&
                 mw_gguf_kv_int(kv, &iv))
            v = json_integer(iv);
        else if (mw_gguf_kv_float(kv, &fv))
            v = json_real(fv);
        else
            v = json_null();
        json_object_set_new(o, kv->key, v ? v : json_null());
    }
    return o;
}

static json_t *tensors_json(const mw_model *m) {
    json_t *a = json_array();
    for (int64_t i = 0; i < mw_model_n_tensors(m); i++) {
        const mw_tensor *t = mw_model_tensor_at(m, i);
        json_t *shape = json_array();
        for (uint32_t d = 0; d < t->n_dims; d++)
            json_array_append_new(shape, json_integer(t->ne[d]));
        json_array_append_new(a, json_pack("{s:s, s:s, s:o, s:I}", "name", t->name, "type",
                                           mw_type_name(t->type), "shape", shape, "bytes",
                                           (json_int_t)t->n_bytes));
    }
    return a;
}

static int print_json(const char *path, const mw_model *m, bool metadata) {
    const mw_gguf *g = mw_model_gguf(m);
    mw_param_counts pc;
    mw_model_param_counts(m, &pc);
    json_t *o = json_object();
    json_object_set_new(o, "path", json_string(path));
    json_object_set_new(o, "format", json_string(g ? "gguf" : "safetensors"));
    if (g) json_object_set_new(o, "gguf_version", json_integer(mw_gguf_version(g)));
    json_object_set_new(o, "architecture", json_string(mw_model_hparams(m)->arch));
    json_object_set_new(o, "hparams", hparams_json(mw_model_hparams(m)));
    json_object_set_new(o, "tokenizer", json_string(mw_model_tokenizer_kind(m)));
    json_object_set_new(o, "parameters",
                        json_pack("{s:I, s:I, s:I, s:I}", "embedding", (json_int_t)pc.embedding,
                                  "blocks", (json_int_t)pc.blocks, "other", (json_int_t)pc.other,
                                  "total", (json_int_t)pc.total));
    if (metadata && g) json_object_set_new(o, "metadata", metadata_json(g));
    json_object_set_new(o, "tensors", tensors_json(m));
    int rc = json_dumpf(o, stdout, JSON_INDENT(1) | JSON_PRESERVE_ORDER) == 0 ? CLI_OK : CLI_FAIL;
    printf("\n");
    json_decref(o);
    return rc;
}

int cmd_inspect(int argc, char **argv) {
    static const struct option OPTS[] = {{"json", no_argument, NULL, 'j'},
                                         {"metadata", no_argument, NULL, 'm'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    bool json = false, metadata = false;
    int c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "h", OPTS, NULL)) != -1) {
        switch (c) {
        case 'j':
            json = true;
            break;
        case 'm':
            metadata = true;
            break;
        case 'h':
            fputs(USAGE, stdout);
            return CLI_OK;
        default:
            return cli_usage_error("inspect", "unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind != argc - 1) return cli_usage_error("inspect", "expected one MODEL");
    mw_model *m = cli_open_model(argv[optind]);
    if (!m) return CLI_FAIL;
    int rc = CLI_OK;
    if (json)
        rc = print_json(argv[optind], m, metadata);
    else
        print_text(argv[optind], m, metadata);
    mw_model_close(m);
    if (fflush(stdout) != 0) rc = cli_error("cannot write the output");
    return rc;
}
