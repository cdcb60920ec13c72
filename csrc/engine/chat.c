/* Reading a chat completion body as fastroute serve reads it (fastroute/decision/validation.py,
 * request.py, messages.py): strict UTF-8 JSON, an object, `model`, `messages`, `stream`, the
 * text a router sees, and the same refusals with the same status, param and message.
 * jansson parses; its allocations go to the calling thread's scratch (no malloc per request).
 * Where a message cannot be worded as Python's json module words it (a syntax error), the
 * status and type are the same and the message says what jansson found. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fre.h"

/* ---- jansson on the scratch ---- */

static __thread fre_arena *fre_json_arena; /* this thread's scratch while a body is read */

/* The scratch first; a body bigger than it spills to malloc (freed by json_decref), so a
 * large body is slower, never refused for the scratch's size. */
static void *fre_json_malloc(size_t n)
{
    void *p = fre_json_arena ? fre_alloc(fre_json_arena, n) : NULL;
    return p ? p : malloc(n);
}

static void fre_json_free(void *p)
{
    fre_arena *a = fre_json_arena;
    if (a && (unsigned char *)p >= a->base && (unsigned char *)p < a->base + a->cap)
        return; /* arena memory goes with the arena */
    free(p);
}

void fre_json_use_arena(fre_arena *a) { fre_json_arena = a; }

/* jansson is a shared library: its allocator is the process's. The scratch's allocator is
 * installed only over jansson's default (never over another component's own allocator), and
 * falls back to malloc on any thread that is not reading a body for us. */
void fre_json_init(void)
{
    static int done;
    if (!__atomic_exchange_n(&done, 1, __ATOMIC_SEQ_CST)) {
        json_object_seed(0);
        json_malloc_t m;
        json_free_t f;
        json_get_alloc_funcs(&m, &f);
        if (m == malloc && f == free)
            json_set_alloc_funcs(fre_json_malloc, fre_json_free);
    }
}

/* ---- the refusals of validation.py and messages.py ---- */

#define FRE_MAX_DEPTH 64

static int fre_bad(fastroute_error *err, const char *param, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fre_bad(fastroute_error *err, const char *param, const char *fmt, ...)
{
    char msg[sizeof err->message];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return fre_refuse(err, 400, "invalid_request_error", param, "%s", msg);
}

/* json.dumps(value)[:60] */
static void fre_got(const json_t *v, char *out, size_t cap)
{
    char full[256];
    fre_py_json(v, full, sizeof full);
    snprintf(out, cap, "%.60s", full);
}

/* Deeper than 64 levels: validation.py:check_tree names the top-level key. */
static int fre_depth(const json_t *v, int depth)
{
    if (json_is_object(v) || json_is_array(v)) {
        if (depth >= FRE_MAX_DEPTH)
            return 1;
        if (json_is_object(v)) {
            const char *k;
            json_t *x;
            json_object_foreach((json_t *)v, k, x)
                if (fre_depth(x, depth + 1))
                    return 1;
        } else {
            for (size_t i = 0; i < json_array_size(v); i++)
                if (fre_depth(json_array_get(v, i), depth + 1))
                    return 1;
        }
    }
    return 0;
}

/* A body of `len` bytes parsed as parse_json parses it, or a refusal. */
static json_t *fre_parse_body(const char *body, size_t len, fastroute_error *err)
{
    const int64_t bad = fre_utf8_invalid_at(body, len);
    if (bad >= 0) {
        fre_bad(err, NULL, "the request body is not valid UTF-8 (byte %lld)", (long long)bad);
        return NULL;
    }
    json_error_t je;
    json_t *doc = json_loadb(body, len, JSON_ALLOW_NUL | JSON_DECODE_ANY, &je);
    if (!doc && strstr(je.text, "too big")) /* an integer beyond 64 bits: Python reads any, so do we (as a real) */
        doc = json_loadb(body, len, JSON_ALLOW_NUL | JSON_DECODE_ANY | JSON_DECODE_INT_AS_REAL, &je);
    if (!doc) {
        fre_bad(err, NULL, "the request body is not valid JSON: %s at line %d column %d", je.text, je.line, je.column);
        return NULL;
    }
    if (!json_is_object(doc)) {
        fre_bad(err, NULL, "the request body must be a JSON object");
        return NULL;
    }
    const char *key;
    json_t *v;
    json_object_foreach(doc, key, v) {
        if (fre_depth(v, 1)) {
            char p[128];
            snprintf(p, sizeof p, "%s", key);
            fre_bad(err, p, "'%s' is JSON nested deeper than %d levels", key, FRE_MAX_DEPTH);
            return NULL;
        }
    }
    return doc;
}

/* Appends bytes to a growing text on the arena (the text is the arena's last allocation). */
typedef struct {
    char *p;
    size_t n, cap;
} fre_text;

static int fre_text_put(fre_text *t, const char *s, size_t n)
{
    if (t->n + n + 1 > t->cap)
        return 0;
    memcpy(t->p + t->n, s, n);
    t->n += n;
    t->p[t->n] = '\0';
    return 1;
}

/* messages.py:_text: a content string, or its text parts joined by newlines. */
static int fre_content(const json_t *content, const char *where, fre_text *out, fastroute_error *err)
{
    char p[160];
    if (!content || json_is_null(content))
        return FASTROUTE_OK;
    if (json_is_string(content)) {
        if (!fre_text_put(out, json_string_value(content), json_string_length(content)))
            return fre_refuse(err, 413, "invalid_request_error", where, "the routing text is longer than the body limit");
        return FASTROUTE_OK;
    }
    if (!json_is_array(content))
        return fre_bad(err, where, "%s must be a string or a list of content parts", where);
    int first = 1;
    for (size_t j = 0; j < json_array_size(content); j++) {
        json_t *part = json_array_get(content, j);
        snprintf(p, sizeof p, "%s[%zu]", where, j);
        if (!json_is_object(part))
            return fre_bad(err, p, "%s must be a content part object", p);
        json_t *type = json_object_get(part, "type");
        if (json_is_string(type) && json_string_length(type) == 4 && memcmp(json_string_value(type), "text", 4) == 0) {
            json_t *text = json_object_get(part, "text");
            if (!json_is_string(text)) {
                char q[170];
                snprintf(q, sizeof q, "%s.text", p);
                return fre_bad(err, q, "%s must be a string", q);
            }
            if ((!first && !fre_text_put(out, "\n", 1)) || !fre_text_put(out, json_string_value(text), json_string_length(text)))
                return fre_refuse(err, 413, "invalid_request_error", where, "the routing text is longer than the body limit");
            first = 0;
        }
    }
    return FASTROUTE_OK;
}

/* messages.py:routing_text. `conversation`: every turn as "role: text", else the last user message. */
int fre_routing_text(const json_t *messages, int conversation, fre_arena *a, size_t cap, const char **text,
                     size_t *len, fastroute_error *err)
{
    char p[160];
    if (!json_is_array(messages) || json_array_size(messages) == 0)
        return fre_bad(err, "messages", "'messages' must be a non-empty list of messages");
    const size_t n = json_array_size(messages);
    for (size_t i = 0; i < n; i++) {
        json_t *m = json_array_get(messages, i);
        snprintf(p, sizeof p, "messages[%zu]", i);
        if (!json_is_object(m) || !json_object_get(m, "role"))
            return fre_bad(err, p, "%s must be an object with a 'role'", p);
        if (!json_is_string(json_object_get(m, "role"))) {
            char q[170];
            snprintf(q, sizeof q, "%s.role", p);
            return fre_bad(err, q, "%s must be a string", q);
        }
    }
    fre_text out = {fre_alloc(a, cap + 1), 0, cap + 1};
    if (!out.p)
        return fre_fail(err, FASTROUTE_E_NOMEM, "the scratch is too small for the routing text");
    out.p[0] = '\0';
    if (conversation) {
        for (size_t i = 0; i < n; i++) {
            json_t *m = json_array_get(messages, i), *role = json_object_get(m, "role");
            snprintf(p, sizeof p, "messages[%zu].content", i);
            if ((i && !fre_text_put(&out, "\n", 1)) || !fre_text_put(&out, json_string_value(role), json_string_length(role)) ||
                !fre_text_put(&out, ": ", 2))
                return fre_refuse(err, 413, "invalid_request_error", "messages", "the routing text is longer than the body limit");
            const int rc = fre_content(json_object_get(m, "content"), p, &out, err);
            if (rc != FASTROUTE_OK)
                return rc;
        }
    } else {
        size_t i = n;
        for (; i > 0; i--) {
            const json_t *role = json_object_get(json_array_get(messages, i - 1), "role");
            if (json_string_length(role) == 4 && memcmp(json_string_value(role), "user", 4) == 0)
                break;
        }
        if (i == 0)
            return fre_bad(err, "messages", "'messages' has no user message to route on");
        snprintf(p, sizeof p, "messages[%zu].content", i - 1);
        const int rc = fre_content(json_object_get(json_array_get(messages, i - 1), "content"), p, &out, err);
        if (rc != FASTROUTE_OK)
            return rc;
    }
    *text = out.p;
    *len = out.n;
    return FASTROUTE_OK;
}

/* ---- the body's top-level keys, located in the raw text (the body is valid JSON here) ---- */

static size_t fre_skip_ws(const char *s, size_t n, size_t i)
{
    while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r'))
        i++;
    return i;
}

static size_t fre_skip_string(const char *s, size_t n, size_t i) /* at the opening quote */
{
    for (i++; i < n; i++) {
        if (s[i] == '\\')
            i++;
        else if (s[i] == '"')
            return i + 1;
    }
    return n;
}

static size_t fre_skip_value(const char *s, size_t n, size_t i)
{
    if (i >= n)
        return n;
    if (s[i] == '"')
        return fre_skip_string(s, n, i);
    if (s[i] == '{' || s[i] == '[') {
        int depth = 0;
        for (; i < n; i++) {
            if (s[i] == '"') {
                i = fre_skip_string(s, n, i) - 1;
            } else if (s[i] == '{' || s[i] == '[') {
                depth++;
            } else if (s[i] == '}' || s[i] == ']') {
                if (--depth == 0)
                    return i + 1;
            }
        }
        return n;
    }
    while (i < n && s[i] != ',' && s[i] != '}' && s[i] != ' ' && s[i] != '\t' && s[i] != '\n' && s[i] != '\r')
        i++;
    return i;
}

/* Whether the JSON string token s[i0:i1] (quotes included) spells `want`, escapes decoded. */
static int fre_key_is(const char *s, size_t i0, size_t i1, const char *want)
{
    json_error_t je;
    char tmp[300];
    if (i1 - i0 >= sizeof tmp - 2)
        return 0;
    if (!memchr(s + i0, '\\', i1 - i0)) /* the usual case: no escapes */
        return i1 - i0 - 2 == strlen(want) && memcmp(s + i0 + 1, want, i1 - i0 - 2) == 0;
    tmp[0] = '[';
    memcpy(tmp + 1, s + i0, i1 - i0);
    tmp[i1 - i0 + 1] = ']';
    json_t *arr = json_loadb(tmp, i1 - i0 + 2, 0, &je);
    const int is = arr && json_is_string(json_array_get(arr, 0)) && strcmp(json_string_value(json_array_get(arr, 0)), want) == 0;
    json_decref(arr);
    return is;
}

/* The body with every top-level "model" value replaced by the JSON string of `model`; the
 * rest byte for byte as sent (numbers keep their spelling). NULL when the scratch is full. */
static char *fre_rewrite_model(const char *s, size_t n, const char *model, fre_arena *a, size_t *out_len)
{
    char quoted[600];
    const size_t mlen = strlen(model);
    if (mlen > 256)
        return NULL;
    size_t q = 0;
    quoted[q++] = '"';
    for (size_t i = 0; i < mlen; i++) { /* model names are printable ASCII: only " and \ need escapes */
        if (model[i] == '"' || model[i] == '\\')
            quoted[q++] = '\\';
        quoted[q++] = model[i];
    }
    quoted[q++] = '"';
    /* At most one rewrite per top-level key: a bound on the new length. */
    char *out = fre_alloc(a, n + 8 * q + 1);
    if (!out)
        return NULL;
    size_t o = 0, i = fre_skip_ws(s, n, 0), copied = 0;
    if (i >= n || s[i] != '{')
        return NULL;
    i++;
    for (;;) {
        i = fre_skip_ws(s, n, i);
        if (i >= n || s[i] != '"')
            break;
        const size_t k0 = i, k1 = fre_skip_string(s, n, i);
        i = fre_skip_ws(s, n, k1);
        if (i >= n || s[i] != ':')
            break;
        i = fre_skip_ws(s, n, i + 1);
        const size_t v0 = i, v1 = fre_skip_value(s, n, i);
        if (fre_key_is(s, k0, k1, "model")) {
            if (o + (v0 - copied) + q > n + 8 * q)
                return NULL;
            memcpy(out + o, s + copied, v0 - copied);
            o += v0 - copied;
            memcpy(out + o, quoted, q);
            o += q;
            copied = v1;
        }
        i = fre_skip_ws(s, n, v1);
        if (i < n && s[i] == ',')
            i++;
        else
            break;
    }
    memcpy(out + o, s + copied, n - copied);
    o += n - copied;
    out[o] = '\0';
    *out_len = o;
    return out;
}

/* ---- the request's fields ---- */

/* decision/request.py:chat_target's checks, in its order. */
int fre_chat_read(const char *body, size_t len, fre_chat *out, fastroute_error *err)
{
    memset(out, 0, sizeof *out);
    json_t *doc = fre_parse_body(body, len, err);
    if (!doc)
        return err ? err->status : FASTROUTE_E_REQUEST;
    out->doc = doc;
    char got[80];
    json_t *model = json_object_get(doc, "model");
    if (!model || json_is_null(model) || (json_is_string(model) && json_string_length(model) == 0))
        return fre_bad(err, "model", "'model' is required");
    if (!json_is_string(model)) {
        fre_got(model, got, sizeof got);
        return fre_bad(err, "model", "'model' must be a string, got %s", got);
    }
    const char *m = json_string_value(model);
    const size_t ml = json_string_length(model);
    int printable = ml >= 1 && ml <= 256;
    for (size_t i = 0; printable && i < ml; i++)
        printable = (unsigned char)m[i] >= 0x20 && (unsigned char)m[i] <= 0x7e;
    if (!printable)
        return fre_bad(err, "model", "'model' must be 1-256 printable ASCII characters (no control characters)");
    if (!json_object_get(doc, "messages"))
        return fre_bad(err, "messages", "'messages' is required");
    json_t *stream = json_object_get(doc, "stream");
    if (stream && !json_is_null(stream) && !json_is_boolean(stream)) {
        fre_got(stream, got, sizeof got);
        return fre_bad(err, "stream", "'stream' must be true or false, got %s", got);
    }
    out->model = m;
    out->messages = json_object_get(doc, "messages");
    return FASTROUTE_OK;
}

char *fre_chat_rewrite(const char *body, size_t len, const char *model, fre_arena *a, size_t *out_len)
{
    return fre_rewrite_model(body, len, model, a, out_len);
}
