/* What every part of the engine uses: errors, the scratch's bump arena, UTF-8, Python's
 * spellings of values in error messages (so messages match fastroute serve's), files. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fre.h"

void fre_clear(fastroute_error *err)
{
    if (!err)
        return;
    err->status = FASTROUTE_OK;
    err->http_status = 0;
    err->type[0] = err->param[0] = err->message[0] = '\0';
}

int fre_fail(fastroute_error *err, int status, const char *fmt, ...)
{
    if (err) {
        fre_clear(err);
        err->status = status;
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->message, sizeof err->message, fmt, ap);
        va_end(ap);
    }
    return status;
}

int fre_refuse(fastroute_error *err, int http_status, const char *type, const char *param, const char *fmt, ...)
{
    if (err) {
        fre_clear(err);
        err->status = FASTROUTE_E_REQUEST;
        err->http_status = http_status;
        snprintf(err->type, sizeof err->type, "%s", type);
        snprintf(err->param, sizeof err->param, "%s", param ? param : "");
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->message, sizeof err->message, fmt, ap);
        va_end(ap);
    }
    return FASTROUTE_E_REQUEST;
}

void *fre_alloc(fre_arena *a, size_t n)
{
    const size_t start = (a->used + 15) & ~(size_t)15;
    if (start > a->cap || n > a->cap - start)
        return NULL;
    a->used = start + n;
    return a->base + start;
}

fastroute_scratch *fre_scratch_new(size_t bytes)
{
    fastroute_scratch *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->arena.base = aligned_alloc(64, (bytes + 63) & ~(size_t)63);
    if (!s->arena.base) {
        free(s);
        return NULL;
    }
    s->arena.cap = s->bytes = (bytes + 63) & ~(size_t)63;
    return s;
}

FASTROUTE_EXPORT void fastroute_scratch_free(fastroute_scratch *s)
{
    if (s) {
        free(s->arena.base);
        free(s);
    }
}

FASTROUTE_EXPORT size_t fastroute_scratch_bytes(const fastroute_scratch *s) { return s ? s->bytes : 0; }

/* ---- UTF-8 ---- */

/* Length of the valid sequence at s[i] (1-4), or 0 when it is invalid (Python's rules). */
static size_t fre_utf8_seq(const unsigned char *s, size_t n, size_t i)
{
    const unsigned char c = s[i];
    if (c < 0x80)
        return 1;
    size_t len;
    uint32_t lo = 0x80, hi = 0xbf;
    if (c >= 0xc2 && c <= 0xdf)
        len = 2;
    else if (c == 0xe0)
        len = 3, lo = 0xa0;
    else if (c >= 0xe1 && c <= 0xec)
        len = 3;
    else if (c == 0xed)
        len = 3, hi = 0x9f; /* no surrogates */
    else if (c >= 0xee && c <= 0xef)
        len = 3;
    else if (c == 0xf0)
        len = 4, lo = 0x90;
    else if (c >= 0xf1 && c <= 0xf3)
        len = 4;
    else if (c == 0xf4)
        len = 4, hi = 0x8f;
    else
        return 0;
    if (n - i < len)
        return 0;
    if (s[i + 1] < lo || s[i + 1] > hi)
        return 0;
    for (size_t k = 2; k < len; k++)
        if (s[i + k] < 0x80 || s[i + k] > 0xbf)
            return 0;
    return len;
}

int64_t fre_utf8_invalid_at(const char *s, size_t n)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0;
    while (i < n) {
        if (u[i] < 0x80) {
            i++;
            continue;
        }
        const size_t k = fre_utf8_seq(u, n, i);
        if (!k)
            return (int64_t)i;
        i += k;
    }
    return -1;
}

size_t fre_utf8_count(const char *s, size_t n)
{
    size_t c = 0;
    for (size_t i = 0; i < n; i++)
        c += ((unsigned char)s[i] & 0xc0) != 0x80;
    return c;
}

size_t fre_utf8_prefix(const char *s, size_t n, size_t max_chars)
{
    size_t c = 0;
    for (size_t i = 0; i < n; i++) {
        if (((unsigned char)s[i] & 0xc0) != 0x80) {
            if (c == max_chars)
                return i;
            c++;
        }
    }
    return n;
}

static uint32_t fre_utf8_decode(const unsigned char *s, size_t *i)
{
    const unsigned char c = s[*i];
    if (c < 0x80) {
        (*i)++;
        return c;
    }
    const int len = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : 2;
    uint32_t cp = c & (0x3f >> (len - 1));
    for (int k = 1; k < len; k++)
        cp = (cp << 6) | (s[*i + (size_t)k] & 0x3f);
    *i += (size_t)len;
    return cp;
}

/* ---- Python's spellings ---- */

typedef struct {
    char *p;
    size_t left;
} fre_out;

static void fre_put(fre_out *o, const char *s, size_t n)
{
    if (o->left == 0)
        return;
    const size_t k = n < o->left - 1 ? n : o->left - 1;
    memcpy(o->p, s, k);
    o->p += k;
    o->left -= k;
    *o->p = '\0';
}

static void fre_putf(fre_out *o, const char *fmt, unsigned long v)
{
    char buf[16];
    const int k = snprintf(buf, sizeof buf, fmt, v);
    fre_put(o, buf, (size_t)k);
}

void fre_py_repr(const char *s, size_t n, char *out, size_t cap)
{
    if (!cap)
        return;
    out[0] = '\0';
    fre_out o = {out, cap};
    const int has_single = memchr(s, '\'', n) != NULL, has_double = memchr(s, '"', n) != NULL;
    const char quote = has_single && !has_double ? '"' : '\'';
    fre_put(&o, &quote, 1);
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0;
    while (i < n) {
        const uint32_t cp = fre_utf8_decode(u, &i);
        if (cp == '\\' || cp == (uint32_t)quote) {
            const char e[2] = {'\\', (char)cp};
            fre_put(&o, e, 2);
        } else if (cp == '\t')
            fre_put(&o, "\\t", 2);
        else if (cp == '\n')
            fre_put(&o, "\\n", 2);
        else if (cp == '\r')
            fre_put(&o, "\\r", 2);
        else if (cp < 0x20 || cp == 0x7f || (cp >= 0x80 && cp <= 0xa0) || cp == 0xad)
            fre_putf(&o, "\\x%02lx", cp); /* not printable (controls, no-break space, soft hyphen) */
        else if (cp == 0x2028 || cp == 0x2029 || (cp >= 0xd800 && cp <= 0xdfff))
            fre_putf(&o, "\\u%04lx", cp);
        else {
            char buf[4];
            size_t k = 0;
            if (cp < 0x80)
                buf[k++] = (char)cp;
            else if (cp < 0x800)
                buf[k++] = (char)(0xc0 | (cp >> 6)), buf[k++] = (char)(0x80 | (cp & 0x3f));
            else if (cp < 0x10000)
                buf[k++] = (char)(0xe0 | (cp >> 12)), buf[k++] = (char)(0x80 | ((cp >> 6) & 0x3f)),
                buf[k++] = (char)(0x80 | (cp & 0x3f));
            else
                buf[k++] = (char)(0xf0 | (cp >> 18)), buf[k++] = (char)(0x80 | ((cp >> 12) & 0x3f)),
                buf[k++] = (char)(0x80 | ((cp >> 6) & 0x3f)), buf[k++] = (char)(0x80 | (cp & 0x3f));
            fre_put(&o, buf, k);
        }
    }
    fre_put(&o, &quote, 1);
}

void fre_py_float(double x, char *out, size_t cap)
{
    if (isnan(x)) {
        snprintf(out, cap, "nan");
        return;
    }
    if (isinf(x)) {
        snprintf(out, cap, x > 0 ? "inf" : "-inf");
        return;
    }
    char e[40];
    int p = 1;
    for (; p <= 17; p++) { /* the shortest digits that read back as x */
        snprintf(e, sizeof e, "%.*e", p - 1, x);
        if (strtod(e, NULL) == x)
            break;
    }
    /* e is [-]d[.ddd]e[+-]XX: split digits and exponent */
    const int neg = e[0] == '-';
    char digits[24];
    int nd = 0;
    const char *q = e + neg;
    for (; *q && *q != 'e'; q++)
        if (*q != '.')
            digits[nd++] = *q;
    while (nd > 1 && digits[nd - 1] == '0')
        nd--;
    digits[nd] = '\0';
    const int exp10 = atoi(q + 1);
    const int decpt = exp10 + 1;
    fre_out o = {out, cap};
    out[0] = '\0';
    if (neg)
        fre_put(&o, "-", 1);
    if (x == 0.0) {
        fre_put(&o, "0.0", 3);
        return;
    }
    if (decpt <= -4 || decpt > 16) {
        fre_put(&o, digits, 1);
        if (nd > 1) {
            fre_put(&o, ".", 1);
            fre_put(&o, digits + 1, (size_t)nd - 1);
        }
        char buf[8];
        const int k = snprintf(buf, sizeof buf, "e%c%02d", exp10 < 0 ? '-' : '+', exp10 < 0 ? -exp10 : exp10);
        fre_put(&o, buf, (size_t)k);
    } else if (decpt <= 0) {
        fre_put(&o, "0.", 2);
        for (int k = 0; k < -decpt; k++)
            fre_put(&o, "0", 1);
        fre_put(&o, digits, (size_t)nd);
    } else {
        for (int k = 0; k < decpt; k++)
            fre_put(&o, k < nd ? digits + k : "0", 1);
        fre_put(&o, ".", 1);
        if (nd > decpt)
            fre_put(&o, digits + decpt, (size_t)(nd - decpt));
        else
            fre_put(&o, "0", 1);
    }
}

static void fre_py_json_str(fre_out *o, const char *s, size_t n)
{
    fre_put(o, "\"", 1);
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0;
    while (i < n && o->left > 1) {
        const uint32_t cp = fre_utf8_decode(u, &i);
        switch (cp) {
        case '"': fre_put(o, "\\\"", 2); break;
        case '\\': fre_put(o, "\\\\", 2); break;
        case '\n': fre_put(o, "\\n", 2); break;
        case '\r': fre_put(o, "\\r", 2); break;
        case '\t': fre_put(o, "\\t", 2); break;
        case '\b': fre_put(o, "\\b", 2); break;
        case '\f': fre_put(o, "\\f", 2); break;
        default:
            if (cp >= 0x20 && cp <= 0x7e) {
                const char c = (char)cp;
                fre_put(o, &c, 1);
            } else if (cp < 0x10000) {
                fre_putf(o, "\\u%04lx", cp);
            } else { /* a surrogate pair, as Python writes it */
                const uint32_t v = cp - 0x10000;
                fre_putf(o, "\\u%04lx", 0xd800 | (v >> 10));
                fre_putf(o, "\\u%04lx", 0xdc00 | (v & 0x3ff));
            }
        }
    }
    fre_put(o, "\"", 1);
}

static void fre_py_json_into(fre_out *o, const json_t *v, int depth)
{
    char buf[40];
    if (o->left <= 1)
        return;
    if (depth > 64) { /* only for messages, cut at 60 characters anyway */
        fre_put(o, "...", 3);
        return;
    }
    switch (json_typeof(v)) {
    case JSON_OBJECT: {
        fre_put(o, "{", 1);
        const char *key;
        json_t *val;
        int first = 1;
        json_object_foreach((json_t *)v, key, val) {
            if (!first)
                fre_put(o, ", ", 2);
            first = 0;
            fre_py_json_str(o, key, strlen(key));
            fre_put(o, ": ", 2);
            fre_py_json_into(o, val, depth + 1);
            if (o->left <= 1)
                break;
        }
        fre_put(o, "}", 1);
        break;
    }
    case JSON_ARRAY: {
        fre_put(o, "[", 1);
        for (size_t i = 0; i < json_array_size(v) && o->left > 1; i++) {
            if (i)
                fre_put(o, ", ", 2);
            fre_py_json_into(o, json_array_get(v, i), depth + 1);
        }
        fre_put(o, "]", 1);
        break;
    }
    case JSON_STRING: fre_py_json_str(o, json_string_value(v), json_string_length(v)); break;
    case JSON_INTEGER: {
        const int k = snprintf(buf, sizeof buf, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        fre_put(o, buf, (size_t)k);
        break;
    }
    case JSON_REAL: fre_py_float(json_real_value(v), buf, sizeof buf); fre_put(o, buf, strlen(buf)); break;
    case JSON_TRUE: fre_put(o, "true", 4); break;
    case JSON_FALSE: fre_put(o, "false", 5); break;
    case JSON_NULL: fre_put(o, "null", 4); break;
    }
}

void fre_py_json(const json_t *value, char *out, size_t cap)
{
    if (!cap)
        return;
    out[0] = '\0';
    fre_out o = {out, cap};
    fre_py_json_into(&o, value, 0);
}

/* ---- files ---- */

int fre_join(char *out, size_t cap, const char *dir, const char *name)
{
    const int k = snprintf(out, cap, "%s/%s", dir, name);
    return k > 0 && (size_t)k < cap;
}

int fre_read_file(const char *path, size_t max_bytes, char **data, size_t *len, fastroute_error *err)
{
    *data = NULL;
    *len = 0;
    FILE *f = fopen(path, "rb");
    if (!f)
        return fre_fail(err, FASTROUTE_E_BUNDLE, "%s: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
        fclose(f);
        return fre_fail(err, FASTROUTE_E_BUNDLE, "%s: not a regular file", path);
    }
    if ((uint64_t)st.st_size > max_bytes) {
        fclose(f);
        return fre_fail(err, FASTROUTE_E_BUNDLE, "%s: %lld bytes, more than the %zu allowed", path,
                        (long long)st.st_size, max_bytes);
    }
    char *buf = malloc((size_t)st.st_size + 1);
    if (!buf) {
        fclose(f);
        return fre_fail(err, FASTROUTE_E_NOMEM, "%s: out of memory", path);
    }
    const size_t got = fread(buf, 1, (size_t)st.st_size, f);
    fclose(f);
    if (got != (size_t)st.st_size) {
        free(buf);
        return fre_fail(err, FASTROUTE_E_BUNDLE, "%s: short read", path);
    }
    buf[got] = '\0';
    *data = buf;
    *len = got;
    return FASTROUTE_OK;
}

json_t *fre_load_json(const char *path, fastroute_error *err)
{
    char *data;
    size_t len;
    if (fre_read_file(path, (size_t)64 << 20, &data, &len, err) != FASTROUTE_OK)
        return NULL;
    json_error_t je;
    json_t *doc = json_loadb(data, len, JSON_REJECT_DUPLICATES, &je);
    free(data);
    if (!doc)
        fre_fail(err, FASTROUTE_E_BUNDLE, "%s: not valid JSON (%s at line %d column %d)", path, je.text, je.line,
                 je.column);
    return doc;
}
