/* SentencePiece ModelProto (tokenizer.model), written and parsed by hand: the protobuf
 * wire format is varints and length-delimited fields, and writing it ourselves keeps
 * every score and type bit for bit. The parser trusts nothing: every length is checked
 * against what is left, unknown fields are skipped, groups are refused. */
#include "core/err.h"
#include "core/utf8.h"
#include "io/hf_tokenizer.h"

#include <stdlib.h>
#include <string.h>

enum { WT_VARINT = 0, WT_I64 = 1, WT_LEN = 2, WT_I32 = 5 };

/* ---- writing ---------------------------------------------------------- */

static void put_varint(mw_buf *b, uint64_t v) {
    unsigned char tmp[10];
    size_t n = 0;
    do {
        tmp[n] = (unsigned char)(v & 0x7f);
        v >>= 7;
        if (v) tmp[n] |= 0x80;
        n++;
    } while (v);
    mw_buf_put(b, tmp, n);
}

static void put_tag(mw_buf *b, uint32_t field, int wire) {
    put_varint(b, (uint64_t)field << 3 | (uint64_t)wire);
}

static void put_bytes(mw_buf *b, uint32_t field, const void *s, size_t n) {
    put_tag(b, field, WT_LEN);
    put_varint(b, n);
    mw_buf_put(b, s, n);
}

/* int32 fields are sign-extended to 64 bits on the wire, as protobuf does. */
static void put_int(mw_buf *b, uint32_t field, int64_t v) {
    put_tag(b, field, WT_VARINT);
    put_varint(b, (uint64_t)v);
}

static void put_float(mw_buf *b, uint32_t field, float f) {
    uint32_t u;
    unsigned char le[4];
    memcpy(&u, &f, 4);
    for (int i = 0; i < 4; i++)
        le[i] = (unsigned char)(u >> (8 * i));
    put_tag(b, field, WT_I32);
    mw_buf_put(b, le, 4);
}

/* A nested message: its bytes are built in `inner`, then copied with their length. */
static void put_message(mw_buf *b, uint32_t field, mw_buf *inner) {
    put_bytes(b, field, inner->data ? inner->data : "", inner->len);
    if (inner->oom) b->oom = true;
    inner->len = 0;
}

enum mw_status mw_spm_write(const mw_vocab *v, mw_buf *out, mw_err *err) {
    mw_buf inner = {0};
    bool has_bytes = false;
    for (int64_t i = 0; i < v->n; i++) {
        char *text =
            v->type[i] == MW_TOK_USER_DEFINED ? mw_tok_swap_space(v->tok[i], false) : v->tok[i];
        if (!text) {
            out->oom = true;
            break;
        }
        int type = v->type[i];
        /* SentencePiece needs its unknown piece typed UNKNOWN; llama.cpp's converter turns
         * it into a control token when tokenizer_config.json lists it as special. */
        if (i == v->special[MW_SP_UNK] && type == MW_TOK_CONTROL) type = MW_TOK_UNKNOWN;
        has_bytes |= type == MW_TOK_BYTE;
        put_bytes(&inner, 1, text, strlen(text));
        put_float(&inner, 2, v->score ? v->score[i] : 0.0f);
        put_int(&inner, 3, type);
        put_message(out, 1, &inner);
        if (text != v->tok[i]) free(text);
    }
    put_int(&inner, 3, 2); /* model_type = BPE */
    put_int(&inner, 4, v->n);
    put_int(&inner, 35, has_bytes);
    put_int(&inner, 40, v->special[MW_SP_UNK]);
    put_int(&inner, 41, v->special[MW_SP_BOS]);
    put_int(&inner, 42, v->special[MW_SP_EOS]);
    put_int(&inner, 43, v->special[MW_SP_PAD]);
    put_message(out, 2, &inner);
    put_bytes(&inner, 1, "identity", 8);
    put_int(&inner, 3, v->add_space_prefix != 0); /* absent means on, as in llama.cpp */
    put_int(&inner, 4, 0);                        /* remove_extra_whitespaces */
    put_int(&inner, 5, 1);                        /* escape_whitespaces */
    put_message(out, 3, &inner);
    free(inner.data);
    if (out->oom || inner.oom) return mw_fail(err, MW_ERR_NOMEM, "out of memory");
    return MW_OK;
}

/* ---- parsing ---------------------------------------------------------- */

typedef struct reader {
    const unsigned char *p, *end;
} reader;

/* One field: its number, wire type, and value (a varint, fixed bits, or a byte range). */
typedef struct field {
    uint32_t num;
    int wire;
    uint64_t u;
    const unsigned char *data;
    size_t len;
} field;

static bool get_varint(reader *r, uint64_t *out) {
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        if (r->p >= r->end) return false;
        unsigned char c = *r->p++;
        v |= (uint64_t)(c & 0x7f) << shift;
        if (!(c & 0x80)) {
            *out = v;
            return true;
        }
    }
    return false; /* more than 10 bytes */
}

/* Reads the next field; false with *bad set on malformed input. */
static bool next_field(reader *r, field *f, const char **bad) {
    uint64_t tag;
    *bad = NULL;
    if (r->p >= r->end) return false;
    if (!get_varint(r, &tag) || (tag >> 3) == 0 || (tag >> 3) > UINT32_MAX) {
        *bad = "a bad field tag";
        return false;
    }
    f->num = (uint32_t)(tag >> 3);
    f->wire = (int)(tag & 7);
    size_t left = (size_t)(r->end - r->p);
    switch (f->wire) {
    case WT_VARINT:
        if (!get_varint(r, &f->u)) *bad = "a truncated varint";
        break;
    case WT_I64:
    case WT_I32: {
        size_t n = f->wire == WT_I64 ? 8 : 4;
        if (left < n) {
            *bad = "a truncated fixed-size value";
            break;
        }
        f->u = 0;
        for (size_t i = 0; i < n; i++)
            f->u |= (uint64_t)r->p[i] << (8 * i);
        r->p += n;
        break;
    }
    case WT_LEN:
        if (!get_varint(r, &f->u) || f->u > (uint64_t)(r->end - r->p)) {
            *bad = "a length past the end of the data";
            break;
        }
        f->data = r->p;
        f->len = (size_t)f->u;
        r->p += f->len;
        break;
    default:
        *bad = "an unsupported wire type";
    }
    return *bad == NULL;
}

/* Checks that a known field has the wire type its declaration gives it. */
static enum mw_status want(const field *f, int wire, const char *what, mw_err *err) {
    if (f->wire == wire) return MW_OK;
    return mw_fail(err, MW_ERR_FORMAT, "tokenizer.model: %s has the wrong wire type", what);
}

typedef struct piece {
    const unsigned char *text;
    size_t len;
    float score;
    int type;
} piece;

static enum mw_status parse_piece(const unsigned char *d, size_t n, piece *pc, mw_err *err) {
    reader r = {d, d + n};
    field f = {0};
    const char *bad;
    enum mw_status s = MW_OK;
    *pc = (piece){NULL, 0, 0.0f, MW_TOK_NORMAL};
    while (!s && next_field(&r, &f, &bad)) {
        if (f.num == 1 && !(s = want(&f, WT_LEN, "a piece's text", err))) {
            pc->text = f.data;
            pc->len = f.len;
        } else if (f.num == 2 && !(s = want(&f, WT_I32, "a piece's score", err))) {
            uint32_t u = (uint32_t)f.u;
            memcpy(&pc->score, &u, 4);
        } else if (f.num == 3 && !(s = want(&f, WT_VARINT, "a piece's type", err))) {
            if (f.u < MW_TOK_NORMAL || f.u > MW_TOK_BYTE)
                return mw_fail(err, MW_ERR_FORMAT, "tokenizer.model: a piece has type %llu",
                               (unsigned long long)f.u);
            pc->type = (int)f.u;
        }
    }
    if (s) return s;
    if (bad) return mw_fail(err, MW_ERR_FORMAT, "tokenizer.model: a piece has %s", bad);
    if (!pc->text || pc->len == 0 || pc->len > MW_TOK_MAX_BYTES || memchr(pc->text, 0, pc->len) ||
        !mw_utf8_valid((const char *)pc->text, pc->len))
        return mw_fail(err, MW_ERR_FORMAT,
                       "tokenizer.model: a piece's text is empty, too long or not UTF-8");
    return MW_OK;
}

static int64_t as_int32(uint64_t u) {
    return (int64_t)(int32_t)(uint32_t)u;
}

static enum mw_status parse_spec(const field *outer, mw_spm_info *info, mw_err *err) {
    reader r = {outer->data, outer->data + outer->len};
    field f = {0};
    const char *bad;
    enum mw_status s;
    bool trainer = outer->num == 2;
    while (next_field(&r, &f, &bad)) {
        int64_t *ids[4] = {&info->unk_id, &info->bos_id, &info->eos_id, &info->pad_id};
        if (trainer && (f.num == 3 || f.num == 35 || (f.num >= 40 && f.num <= 43))) {
            if ((s = want(&f, WT_VARINT, "a trainer_spec field", err))) return s;
            if (f.num == 3)
                info->model_type = (int32_t)as_int32(f.u);
            else if (f.num == 35)
                info->byte_fallback = f.u != 0;
            else
                *ids[f.num - 40] = as_int32(f.u);
        } else if (!trainer && f.num == 3) {
            if ((s = want(&f, WT_VARINT, "normalizer_spec.add_dummy_prefix", err))) return s;
            info->add_dummy_prefix = f.u != 0;
        }
    }
    if (bad)
        return mw_fail(err, MW_ERR_FORMAT, "tokenizer.model: %s has %s",
                       trainer ? "trainer_spec" : "normalizer_spec", bad);
    return MW_OK;
}

/* First pass: counts the pieces and reads the specs. */
static enum mw_status scan(const void *data, size_t size, int64_t *n_pieces, mw_spm_info *info,
                           mw_err *err) {
    reader r = {data, (const unsigned char *)data + size};
    field f = {0};
    const char *bad;
    enum mw_status s;
    *n_pieces = 0;
    while (next_field(&r, &f, &bad)) {
        if (f.num >= 1 && f.num <= 3 && (s = want(&f, WT_LEN, "a ModelProto field", err))) return s;
        if (f.num == 1 && ++*n_pieces > MW_TOK_MAX_TOKENS)
            return mw_fail(err, MW_ERR_FORMAT, "tokenizer.model has too many pieces");
        if ((f.num == 2 || f.num == 3) && (s = parse_spec(&f, info, err))) return s;
    }
    if (bad) return mw_fail(err, MW_ERR_FORMAT, "tokenizer.model is malformed: %s", bad);
    if (*n_pieces == 0) return mw_fail(err, MW_ERR_FORMAT, "tokenizer.model has no pieces");
    return MW_OK;
}

enum mw_status mw_spm_parse(const void *data, size_t size, mw_vocab *v, mw_spm_info *info,
                            mw_err *err) {
    *info = (mw_spm_info){.model_type = 1,
                          .add_dummy_prefix = true,
                          .unk_id = 0,
                          .bos_id = 1,
                          .eos_id = 2,
                          .pad_id = -1};
    mw_vocab_init(v);
    v->spm = true;
    int64_t n;
    enum mw_status s = scan(data, size, &n, info, err);
    if (s || (s = mw_vocab_alloc(v, n, true, err))) goto fail;
    reader r = {data, (const unsigned char *)data + size};
    field f = {0};
    const char *bad;
    for (int64_t i = 0; i < n && next_field(&r, &f, &bad);) {
        if (f.num != 1) continue;
        piece pc = {0};
        if ((s = parse_piece(f.data, f.len, &pc, err))) goto fail;
        if (!(v->tok[i] = malloc(pc.len + 1))) {
            s = mw_fail(err, MW_ERR_NOMEM, "out of memory");
            goto fail;
        }
        memcpy(v->tok[i], pc.text, pc.len);
        v->tok[i][pc.len] = 0;
        v->score[i] = pc.score;
        v->type[i] = pc.type;
        i++;
    }
    return MW_OK;
fail:
    mw_vocab_free(v);
    return s;
}
