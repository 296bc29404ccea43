/* mw-st-tool: drives the safetensors reader and writer from the command line
 * so that Python tests can compare them with the reference implementation.
 *
 *   mw-st-tool list PATH
 *       prints JSON: {"format": ..., "tensors": [{"name", "dtype", "shape",
 *       "n_bytes", "sha256"}, ...]} with shapes in safetensors order and
 *       dtype null for a dtype without an mw_type
 *   mw-st-tool copy IN OUTDIR [--shard BYTES] [--meta KEY=VALUE]...
 *                             [--file NAME=PATH]...
 *       re-writes every tensor of IN with the writer
 *
 * Exit status: 0 on success, 1 with a message on stderr otherwise. */
#include "mwanda.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- SHA-256 (FIPS 180-4), enough to fingerprint tensor bytes ---- */

static const uint32_t K256[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

static uint32_t ror(uint32_t x, int n) {
    return (x >> n) | (x << (32 - n));
}

static void sha256_block(uint32_t h[8], const unsigned char *p) {
    uint32_t w[64], v[8];
    for (int i = 0; i < 16; i++)
        w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 |
               (uint32_t)p[4 * i + 2] << 8 | p[4 * i + 3];
    for (int i = 16; i < 64; i++) {
        uint32_t s0 = ror(w[i - 15], 7) ^ ror(w[i - 15], 18) ^ (w[i - 15] >> 3);
        uint32_t s1 = ror(w[i - 2], 17) ^ ror(w[i - 2], 19) ^ (w[i - 2] >> 10);
        w[i] = w[i - 16] + s0 + w[i - 7] + s1;
    }
    memcpy(v, h, sizeof v);
    for (int i = 0; i < 64; i++) {
        uint32_t t1 = v[7] + (ror(v[4], 6) ^ ror(v[4], 11) ^ ror(v[4], 25)) +
                      ((v[4] & v[5]) ^ (~v[4] & v[6])) + K256[i] + w[i];
        uint32_t t2 = (ror(v[0], 2) ^ ror(v[0], 13) ^ ror(v[0], 22)) +
                      ((v[0] & v[1]) ^ (v[0] & v[2]) ^ (v[1] & v[2]));
        memmove(v + 1, v, 7 * sizeof v[0]);
        v[4] += t1;
        v[0] = t1 + t2;
    }
    for (int i = 0; i < 8; i++)
        h[i] += v[i];
}

static void sha256_hex(const void *data, uint64_t n, char out[65]) {
    uint32_t h[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                     0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
    const unsigned char *p = data;
    uint64_t left = n;
    for (; left >= 64; left -= 64, p += 64)
        sha256_block(h, p);
    unsigned char tail[128] = {0};
    memcpy(tail, p, (size_t)left);
    tail[left] = 0x80;
    size_t len = left < 56 ? 64 : 128;
    for (int k = 0; k < 8; k++)
        tail[len - 1 - k] = (unsigned char)((n * 8) >> (8 * k));
    sha256_block(h, tail);
    if (len == 128) sha256_block(h, tail + 64);
    for (int i = 0; i < 8; i++)
        snprintf(out + 8 * i, 9, "%08x", h[i]);
}

/* ---- commands ---- */

static int fail(const char *what, enum mw_status s, const mw_err *err) {
    fprintf(stderr, "mw-st-tool: %s: %s: %s\n", what, mw_strerror(s), err->msg);
    return 1;
}

static json_t *tensor_json(const mw_tensor *t) {
    json_t *shape = json_array();
    for (uint32_t k = t->n_dims; k-- > 0;)
        json_array_append_new(shape, json_integer(t->ne[k]));
    char hex[65];
    sha256_hex(t->data, t->n_bytes, hex);
    const char *dtype = mw_type_name(t->type);
    return json_pack("{s:s,s:o,s:o,s:I,s:s}", "name", t->name, "dtype",
                     dtype ? json_string(dtype) : json_null(), "shape", shape, "n_bytes",
                     (json_int_t)t->n_bytes, "sha256", hex);
}

static int cmd_list(const char *path) {
    mw_err err;
    mw_st *st = NULL;
    enum mw_status s = mw_st_open(path, &st, &err);
    if (s != MW_OK) return fail(path, s, &err);
    json_t *list = json_array();
    for (int64_t i = 0; i < mw_st_n_tensors(st); i++)
        json_array_append_new(list, tensor_json(mw_st_tensor_at(st, i)));
    const char *format = mw_st_metadata(st, "format");
    json_t *root = json_pack("{s:o,s:o}", "format", format ? json_string(format) : json_null(),
                             "tensors", list);
    char *text = json_dumps(root, JSON_INDENT(1));
    puts(text);
    free(text);
    json_decref(root);
    mw_st_close(st);
    return 0;
}

static char *read_all(const char *path, size_t *size) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    char *buf = NULL;
    size_t n = 0, cap = 0, k;
    do {
        if (n == cap) buf = realloc(buf, cap = cap ? 2 * cap : 4096);
        k = fread(buf + n, 1, cap - n, f);
        n += k;
    } while (k > 0);
    fclose(f);
    *size = n;
    return buf;
}

/* Applies one --meta or --file option to the writer. */
static enum mw_status apply_option(mw_st_writer *w, const char *opt, char *arg, mw_err *err) {
    char *eq = strchr(arg, '=');
    if (!eq) {
        snprintf(err->msg, sizeof err->msg, "%s wants NAME=VALUE", opt);
        return MW_ERR_ARG;
    }
    *eq = 0;
    if (strcmp(opt, "--meta") == 0) return mw_st_writer_set_metadata(w, arg, eq + 1, err);
    size_t size = 0;
    char *data = read_all(eq + 1, &size);
    if (!data) {
        snprintf(err->msg, sizeof err->msg, "cannot read %s", eq + 1);
        return MW_ERR_IO;
    }
    enum mw_status s = mw_st_writer_add_file(w, arg, data, size, err);
    free(data);
    return s;
}

static int cmd_copy(int argc, char **argv) {
    const char *in = argv[0], *out = argv[1];
    uint64_t shard = 0;
    mw_err err;
    mw_st *st = NULL;
    mw_st_writer *w = NULL;
    for (int i = 2; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--shard") == 0) {
            shard = strtoull(argv[i + 1], NULL, 10);
        } else if (strcmp(argv[i], "--meta") != 0 && strcmp(argv[i], "--file") != 0) {
            fprintf(stderr, "mw-st-tool: unknown option %s\n", argv[i]);
            return 2;
        }
    }
    enum mw_status s = mw_st_open(in, &st, &err);
    if (s != MW_OK) return fail(in, s, &err);
    if ((s = mw_st_writer_create(out, shard, &w, &err)) != MW_OK) goto fail;
    for (int i = 2; s == MW_OK && i + 1 < argc; i += 2)
        if (strcmp(argv[i], "--meta") == 0 || strcmp(argv[i], "--file") == 0)
            s = apply_option(w, argv[i], argv[i + 1], &err);
    for (int64_t i = 0; s == MW_OK && i < mw_st_n_tensors(st); i++) {
        const mw_tensor *t = mw_st_tensor_at(st, i);
        s = mw_st_writer_add_tensor(w, t->name, t->type, t->n_dims, t->ne, &err);
    }
    for (int64_t i = 0; s == MW_OK && i < mw_st_n_tensors(st); i++) {
        const mw_tensor *t = mw_st_tensor_at(st, i);
        s = mw_st_writer_write_tensor(w, t->data, t->n_bytes, &err);
    }
    if (s != MW_OK) goto fail;
    s = mw_st_writer_finish(w, &err);
    w = NULL;
    if (s != MW_OK) goto fail;
    mw_st_close(st);
    return 0;
fail:
    mw_st_writer_free(w);
    mw_st_close(st);
    return fail(out, s, &err);
}

int main(int argc, char **argv) {
    if (argc == 3 && strcmp(argv[1], "list") == 0) return cmd_list(argv[2]);
    if (argc >= 4 && argc % 2 == 0 && strcmp(argv[1], "copy") == 0)
        return cmd_copy(argc - 2, argv + 2);
    fprintf(stderr, "usage: mw-st-tool list PATH\n"
                    "       mw-st-tool copy IN OUTDIR [--shard BYTES] [--meta K=V]... "
                    "[--file NAME=PATH]...\n");
    return 2;
}
