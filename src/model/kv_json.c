#include "model/kv_json.h"

#include "core/err.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static json_t *elem_to_json(enum mw_gguf_vtype t, const void *data, uint64_t i) {
    switch (t) {
    case MW_GGUF_UINT8:
        return json_integer(((const uint8_t *)data)[i]);
    case MW_GGUF_INT8:
        return json_integer(((const int8_t *)data)[i]);
    case MW_GGUF_UINT16:
        return json_integer(((const uint16_t *)data)[i]);
    case MW_GGUF_INT16:
        return json_integer(((const int16_t *)data)[i]);
    case MW_GGUF_UINT32:
        return json_integer(((const uint32_t *)data)[i]);
    case MW_GGUF_INT32:
        return json_integer(((const int32_t *)data)[i]);
    case MW_GGUF_INT64:
        return json_integer(((const int64_t *)data)[i]);
    case MW_GGUF_UINT64: {
        /* JSON integers here are signed 64-bit: keep large values as text */
        char buf[32];
        snprintf(buf, sizeof buf, "%" PRIu64, ((const uint64_t *)data)[i]);
        return json_string(buf);
    }
    case MW_GGUF_FLOAT32:
        return json_real(((const float *)data)[i]);
    case MW_GGUF_FLOAT64:
        return json_real(((const double *)data)[i]);
    case MW_GGUF_BOOL:
        return json_boolean(((const uint8_t *)data)[i]);
    case MW_GGUF_STRING: {
        const mw_str *s = &((const mw_str *)data)[i];
        return json_stringn(s->s, s->len);
    }
    default:
        return NULL;
    }
}

json_t *mw_kv_to_json(const mw_gguf_kv *kv) {
    json_t *o = json_object();
    json_object_set_new(o, "type", json_string(mw_gguf_vtype_name(kv->type)));
    json_t *value;
    if (kv->type == MW_GGUF_ARRAY) {
        json_object_set_new(o, "elem_type", json_string(mw_gguf_vtype_name(kv->elem_type)));
        value = json_array();
        for (uint64_t i = 0; i < kv->n; i++) {
            json_t *e = elem_to_json(kv->elem_type, kv->data, i);
            if (!e) {
                json_decref(value);
                value = NULL;
                break;
            }
            json_array_append_new(value, e);
        }
    } else {
        value = elem_to_json(kv->type, kv->data, 0);
    }
    if (!value) {
        json_decref(o);
        return NULL;
    }
    json_object_set_new(o, "value", value);
    return o;
}

static enum mw_gguf_vtype vtype_from_name(const char *name) {
    for (uint32_t t = 0; name && t < MW_GGUF_VTYPE_COUNT; t++)
        if (strcmp(mw_gguf_vtype_name(t), name) == 0) return (enum mw_gguf_vtype)t;
    return MW_GGUF_VTYPE_COUNT;
}

/* Stores one JSON element into slot i of a typed buffer. */
static bool elem_from_json(enum mw_gguf_vtype t, const json_t *v, void *buf, uint64_t i) {
    json_int_t x = json_integer_value(v);
    bool is_int = json_is_integer(v);
    switch (t) {
    case MW_GGUF_UINT8:
        ((uint8_t *)buf)[i] = (uint8_t)x;
        return is_int && x >= 0 && x <= 255;
    case MW_GGUF_INT8:
        ((int8_t *)buf)[i] = (int8_t)x;
        return is_int && x >= -128 && x <= 127;
    case MW_GGUF_UINT16:
        ((uint16_t *)buf)[i] = (uint16_t)x;
        return is_int && x >= 0 && x <= 65535;
    case MW_GGUF_INT16:
        ((int16_t *)buf)[i] = (int16_t)x;
        return is_int && x >= -32768 && x <= 32767;
    case MW_GGUF_UINT32:
        ((uint32_t *)buf)[i] = (uint32_t)x;
        return is_int && x >= 0 && x <= UINT32_MAX;
    case MW_GGUF_INT32:
        ((int32_t *)buf)[i] = (int32_t)x;
        return is_int && x >= INT32_MIN && x <= INT32_MAX;
    case MW_GGUF_INT64:
        ((int64_t *)buf)[i] = x;
        return is_int;
    case MW_GGUF_UINT64: {
        const char *s = json_string_value(v);
        if (is_int)
            ((uint64_t *)buf)[i] = (uint64_t)x;
        else if (s)
            ((uint64_t *)buf)[i] = strtoull(s, NULL, 10);
        return (is_int && x >= 0) || s;
    }
    case MW_GGUF_FLOAT32:
        ((float *)buf)[i] = (float)json_number_value(v);
        return json_is_number(v);
    case MW_GGUF_FLOAT64:
        ((double *)buf)[i] = json_number_value(v);
        return json_is_number(v);
    case MW_GGUF_BOOL:
        ((uint8_t *)buf)[i] = json_is_true(v);
        return json_is_boolean(v);
    case MW_GGUF_STRING: {
        const char *s = json_string_value(v);
        ((mw_str *)buf)[i] = (mw_str){s, s ? json_string_length(v) : 0};
        return s != NULL;
    }
    default:
        return false;
    }
}

enum mw_status mw_kv_from_json(const char *key, const json_t *v, mw_gguf_writer *w, mw_err *err) {
    enum mw_gguf_vtype type = vtype_from_name(json_string_value(json_object_get(v, "type")));
    const json_t *value = json_object_get(v, "value");
    bool is_array = type == MW_GGUF_ARRAY;
    enum mw_gguf_vtype elem =
        is_array ? vtype_from_name(json_string_value(json_object_get(v, "elem_type"))) : type;
    if (elem >= MW_GGUF_VTYPE_COUNT || elem == MW_GGUF_ARRAY || !value ||
        (is_array && !json_is_array(value)))
        return mw_fail(err, MW_ERR_FORMAT, "saved GGUF entry '%s' is malformed", key);
    uint64_t n = is_array ? json_array_size(value) : 1;
    size_t es = elem == MW_GGUF_STRING ? sizeof(mw_str) : mw_gguf_vtype_size(elem);
    void *buf = calloc(n ? n : 1, es);
    if (!buf) return mw_fail(err, MW_ERR_NOMEM, "out of memory");
    enum mw_status s = MW_OK;
    for (uint64_t i = 0; i < n && !s; i++)
        if (!elem_from_json(elem, is_array ? json_array_get(value, i) : value, buf, i))
            s = mw_fail(err, MW_ERR_FORMAT, "saved GGUF entry '%s' has a wrong value", key);
    mw_gguf_kv kv = {.key = key, .type = type, .elem_type = elem, .n = n, .data = buf};
    if (!s) s = mw_gguf_writer_set_kv(w, &kv, err);
    free(buf);
    return s;
}
