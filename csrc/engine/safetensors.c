/* Reading a safetensors file (an 8-byte little-endian header length, a JSON header naming
 * each tensor's dtype, shape and byte range, then the data) into aligned copies. Everything
 * the header says is checked against the file: ranges inside the data, sizes that match the
 * shape, no overlaps, no unknown dtype. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fre.h"

#define FRE_MAX_TENSOR_FILE ((size_t)4 << 30)

static const struct {
    const char *name;
    fre_dtype dtype;
    int size;
} FRE_DTYPES[] = {
    {"F16", FRE_F16, 2}, {"F32", FRE_F32, 4}, {"F64", FRE_F64, 8}, {"I8", FRE_I8, 1},
    {"U8", FRE_U8, 1},   {"I16", FRE_I16, 2}, {"U16", FRE_U16, 2}, {"I32", FRE_I32, 4},
    {"U32", FRE_U32, 4}, {"I64", FRE_I64, 8}, {"U64", FRE_U64, 8},
};

static int fre_dtype_size(fre_dtype d)
{
    for (size_t i = 0; i < sizeof FRE_DTYPES / sizeof FRE_DTYPES[0]; i++)
        if (FRE_DTYPES[i].dtype == d)
            return FRE_DTYPES[i].size;
    return 0;
}

static const char *fre_dtype_name(fre_dtype d)
{
    for (size_t i = 0; i < sizeof FRE_DTYPES / sizeof FRE_DTYPES[0]; i++)
        if (FRE_DTYPES[i].dtype == d)
            return FRE_DTYPES[i].name;
    return "?";
}

void fre_tensors_free(fre_tensors *t)
{
    if (!t)
        return;
    for (int i = 0; i < t->n; i++)
        free(t->items[i].data);
    free(t->items);
    t->items = NULL;
    t->n = 0;
}

int fre_tensors_load(const char *path, fre_tensors *out, fastroute_error *err)
{
    memset(out, 0, sizeof *out);
    snprintf(out->path, sizeof out->path, "%s", path);
    char *data;
    size_t len;
    int rc = fre_read_file(path, FRE_MAX_TENSOR_FILE, &data, &len, err);
    if (rc != FASTROUTE_OK)
        return rc;
    if (len < 8) {
        free(data);
        return fre_fail(err, FASTROUTE_E_BUNDLE, "%s: too short for a safetensors file", path);
    }
    uint64_t hlen = 0;
    for (int k = 7; k >= 0; k--)
        hlen = (hlen << 8) | (unsigned char)data[k];
    if (hlen > len - 8 || hlen > ((uint64_t)100 << 20)) {
        free(data);
        return fre_fail(err, FASTROUTE_E_BUNDLE, "%s: header length %llu does not fit the file", path,
                        (unsigned long long)hlen);
    }
    json_error_t je;
    json_t *header = json_loadb(data + 8, (size_t)hlen, JSON_REJECT_DUPLICATES, &je);
    if (!header || !json_is_object(header)) {
        json_decref(header);
        free(data);
        return fre_fail(err, FASTROUTE_E_BUNDLE, "%s: the header is not a JSON object", path);
    }
    const char *base = data + 8 + hlen;
    const uint64_t body = len - 8 - hlen;
    const size_t n = json_object_size(header);
    out->items = calloc(n ? n : 1, sizeof *out->items);
    if (!out->items) {
        json_decref(header);
        free(data);
        return fre_fail(err, FASTROUTE_E_NOMEM, "%s: out of memory", path);
    }
    const char *key;
    json_t *spec;
    rc = FASTROUTE_OK;
    json_object_foreach(header, key, spec) {
        if (strcmp(key, "__metadata__") == 0)
            continue;
        fre_tensor *t = &out->items[out->n];
        if (strlen(key) >= sizeof t->name) {
            rc = fre_fail(err, FASTROUTE_E_BUNDLE, "%s: tensor name too long", path);
            break;
        }
        json_t *dt = json_object_get(spec, "dtype"), *shape = json_object_get(spec, "shape"),
               *offs = json_object_get(spec, "data_offsets");
        int found = 0;
        for (size_t i = 0; dt && json_is_string(dt) && i < sizeof FRE_DTYPES / sizeof FRE_DTYPES[0]; i++)
            if (strcmp(json_string_value(dt), FRE_DTYPES[i].name) == 0)
                t->dtype = FRE_DTYPES[i].dtype, found = 1;
        if (!found || !json_is_array(shape) || json_array_size(shape) > 4 || !json_is_array(offs) ||
            json_array_size(offs) != 2) {
            rc = fre_fail(err, FASTROUTE_E_BUNDLE, "%s: tensor '%s' has a bad dtype, shape or data_offsets", path, key);
            break;
        }
        int64_t count = 1;
        t->ndim = (int)json_array_size(shape);
        for (int d = 0; d < t->ndim; d++) {
            json_t *s = json_array_get(shape, (size_t)d);
            const json_int_t v = json_is_integer(s) ? json_integer_value(s) : -1;
            if (v < 0 || v > ((json_int_t)1 << 40) || (v && count > ((int64_t)1 << 40) / v)) {
                count = -1;
                break;
            }
            t->shape[d] = v;
            count *= v;
        }
        const json_t *o0 = json_array_get(offs, 0), *o1 = json_array_get(offs, 1);
        const json_int_t b0 = json_is_integer(o0) ? json_integer_value(o0) : -1;
        const json_int_t b1 = json_is_integer(o1) ? json_integer_value(o1) : -1;
        const int size = fre_dtype_size(t->dtype);
        if (count < 0 || b0 < 0 || b1 < b0 || (uint64_t)b1 > body || (b1 - b0) != count * size) {
            rc = fre_fail(err, FASTROUTE_E_BUNDLE, "%s: tensor '%s' does not match its byte range", path, key);
            break;
        }
        t->count = count;
        memcpy(t->name, key, strlen(key) + 1);
        t->data = aligned_alloc(64, ((size_t)(count * size) + 63) & ~(size_t)63);
        if (!t->data && count) {
            rc = fre_fail(err, FASTROUTE_E_NOMEM, "%s: out of memory for tensor '%s'", path, key);
            break;
        }
        if (count)
            memcpy(t->data, base + b0, (size_t)(count * size));
        out->n++;
    }
    json_decref(header);
    free(data);
    if (rc != FASTROUTE_OK)
        fre_tensors_free(out);
    return rc;
}

const fre_tensor *fre_tensor_get(const fre_tensors *t, const char *name, fre_dtype dtype, int ndim,
                                 const int64_t *shape, fastroute_error *err)
{
    for (int i = 0; i < t->n; i++) {
        const fre_tensor *x = &t->items[i];
        if (strcmp(x->name, name) != 0)
            continue;
        int ok = x->dtype == dtype && x->ndim == ndim;
        for (int d = 0; ok && d < ndim; d++)
            ok = !shape || shape[d] < 0 || shape[d] == x->shape[d];
        if (!ok) {
            fre_fail(err, FASTROUTE_E_BUNDLE, "%s: tensor '%s' must be %s of rank %d%s", t->path, name,
                     fre_dtype_name(dtype), ndim, shape ? " with the manifest's shape" : "");
            return NULL;
        }
        return x;
    }
    fre_fail(err, FASTROUTE_E_BUNDLE, "%s: tensor '%s' is missing", t->path, name);
    return NULL;
}

int64_t fre_tensor_int(const fre_tensor *t, int64_t i)
{
    switch (t->dtype) {
    case FRE_I8: return ((const int8_t *)t->data)[i];
    case FRE_U8: return ((const uint8_t *)t->data)[i];
    case FRE_I16: return ((const int16_t *)t->data)[i];
    case FRE_U16: return ((const uint16_t *)t->data)[i];
    case FRE_I32: return ((const int32_t *)t->data)[i];
    case FRE_U32: return ((const uint32_t *)t->data)[i];
    case FRE_I64: return ((const int64_t *)t->data)[i];
    case FRE_U64: return (int64_t)((const uint64_t *)t->data)[i];
    default: return -1;
    }
}
