/* fastroute inside Envoy: an HTTP filter, loaded as a dynamic module, that decides in Envoy's
 * own worker thread what `fastroute extproc` decides over gRPC.
 *
 * For a POST to .../chat/completions it holds the headers, buffers the body, asks the native
 * decider (csrc/fastroute.h) where the request goes, rewrites the body's `model`, sets the
 * x-fastroute-* request headers fastroute extproc sets, clears the route cache so that a route
 * matching x-fastroute-model picks the cluster, and lets the request go on. A body fastroute
 * serve would refuse is answered at once with its status and JSON error; a failure of the
 * router itself (status 5xx) is answered the same way, or with `fail_open` lets the request go
 * on unrouted. Client-sent x-fastroute-* headers never pass. Other requests, and every
 * response (streams included), pass untouched.
 *
 * Nothing here may crash the proxy: every length comes from Envoy or is checked, memory is the
 * worker's bounded scratch (plus the body when Envoy hands it over in pieces), no abort. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../engine/fre.h"
#include "envoy_abi.h"

#define FRE_MAX_WORKERS 512
#define FRE_MAX_SCAN_HEADERS 256

typedef struct {
    fastroute_scratch *scratch;
    char *body; /* the body made contiguous when it came in several slices */
    size_t body_cap;
} fre_worker;

typedef struct {
    fastroute_decider *decider;
    int fail_open;
    size_t max_body;
    fre_worker *workers[FRE_MAX_WORKERS]; /* made on a worker's first request, published atomically */
} fre_filter_config;

static fre_module_buffer fre_buf(const char *s, size_t n) { return (fre_module_buffer){s, n}; }
static fre_module_buffer fre_str(const char *s) { return fre_buf(s, strlen(s)); }

static void fre_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void fre_log(int level, const char *fmt, ...)
{
    char msg[1400];
    va_list ap;
    va_start(ap, fmt);
    const int n = vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    envoy_dynamic_module_callback_log(level, fre_buf(msg, n < 0 ? 0 : (size_t)n < sizeof msg ? (size_t)n : sizeof msg - 1));
}

__attribute__((visibility("default"))) const char *envoy_dynamic_module_on_program_init(void)
{
    return FRE_ENVOY_ABI_VERSION;
}

/* ---- config ---- */

__attribute__((visibility("default"))) const void *
envoy_dynamic_module_on_http_filter_config_new(fre_config_envoy envoy, fre_envoy_buffer name, fre_envoy_buffer config)
{
    (void)envoy;
    fastroute_error err;
    if (!config.ptr || !config.length) {
        fre_log(FRE_LOG_ERROR, "fastroute: the filter needs a config (filter_config: the decider's JSON)");
        return NULL;
    }
    fre_filter_config *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    if (fastroute_decider_open(config.ptr, config.length, &c->decider, &err) != FASTROUTE_OK) {
        fre_log(FRE_LOG_ERROR, "fastroute: %.*s: %s", (int)(name.length < 200 ? name.length : 200),
                name.ptr ? name.ptr : "", err.message);
        free(c);
        return NULL;
    }
    json_error_t je;
    json_t *doc = json_loadb(config.ptr, config.length, 0, &je); /* the host's own keys */
    c->fail_open = doc && json_is_true(json_object_get(doc, "fail_open"));
    json_t *mb = doc ? json_object_get(doc, "max_body_bytes") : NULL;
    c->max_body = json_is_integer(mb) ? (size_t)json_integer_value(mb) : ((size_t)1 << 20);
    json_decref(doc);
    fre_log(FRE_LOG_INFO, "fastroute: %s loaded; fail %s, bodies up to %zu bytes", fastroute_version(),
            c->fail_open ? "open" : "closed", c->max_body);
    return c;
}

__attribute__((visibility("default"))) void envoy_dynamic_module_on_http_filter_config_destroy(const void *config)
{
    fre_filter_config *c = (fre_filter_config *)config;
    if (!c)
        return;
    for (int i = 0; i < FRE_MAX_WORKERS; i++)
        if (c->workers[i]) {
            fastroute_scratch_free(c->workers[i]->scratch);
            free(c->workers[i]->body);
            free(c->workers[i]);
        }
    fastroute_decider_close(c->decider);
    free(c);
}

static fre_worker *fre_worker_of(fre_filter_config *c, fre_filter_envoy f)
{
    const uint32_t i = envoy_dynamic_module_callback_http_filter_get_worker_index(f);
    if (i >= FRE_MAX_WORKERS)
        return NULL;
    fre_worker *w = __atomic_load_n(&c->workers[i], __ATOMIC_ACQUIRE);
    if (w)
        return w;
    w = calloc(1, sizeof *w);
    if (!w)
        return NULL;
    w->scratch = fastroute_scratch_for_decider(c->decider);
    if (!w->scratch) {
        free(w);
        return NULL;
    }
    fre_worker *none = NULL;
    if (!__atomic_compare_exchange_n(&c->workers[i], &none, w, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
        fastroute_scratch_free(w->scratch); /* another stream of this worker won: use its */
        free(w);
        return none;
    }
    return w;
}

/* ---- streams: the config itself stands for every stream (no per-stream state) ---- */

__attribute__((visibility("default"))) const void *envoy_dynamic_module_on_http_filter_new(const void *config,
                                                                                          fre_filter_envoy f)
{
    (void)f;
    return config;
}

__attribute__((visibility("default"))) void envoy_dynamic_module_on_http_filter_destroy(const void *filter) { (void)filter; }

static int fre_header_is(fre_filter_envoy f, const char *name, const char *want)
{
    fre_envoy_buffer v = {0};
    return envoy_dynamic_module_callback_http_get_header(f, FRE_REQUEST_HEADER, fre_str(name), &v, 0, NULL) && v.ptr &&
           v.length == strlen(want) && memcmp(v.ptr, want, v.length) == 0;
}

/* decision/..., frontends/envoy/processor.py:is_chat_completion: a POST to .../chat/completions. */
static int fre_is_chat(fre_filter_envoy f)
{
    if (!fre_header_is(f, ":method", "POST"))
        return 0;
    fre_envoy_buffer p = {0};
    if (!envoy_dynamic_module_callback_http_get_header(f, FRE_REQUEST_HEADER, fre_str(":path"), &p, 0, NULL) || !p.ptr)
        return 0;
    size_t n = 0;
    while (n < p.length && p.ptr[n] != '?')
        n++;
    while (n > 0 && p.ptr[n - 1] == '/')
        n--;
    static const char tail[] = "/chat/completions";
    return n >= sizeof tail - 1 && memcmp(p.ptr + n - (sizeof tail - 1), tail, sizeof tail - 1) == 0;
}

/* Client-sent x-fastroute-* headers are dropped before any route is chosen. */
static void fre_strip_client_headers(fre_filter_envoy f)
{
    static const char *const known[] = {"x-fastroute-model", "x-fastroute-win-rate", "x-fastroute-router",
                                        "x-fastroute-profile", "x-fastroute-quality", "x-fastroute-cost-usd"};
    const size_t n = envoy_dynamic_module_callback_http_get_headers_size(f, FRE_REQUEST_HEADER);
    char names[16][128];
    int k = 0;
    if (n <= FRE_MAX_SCAN_HEADERS) {
        fre_http_header hs[FRE_MAX_SCAN_HEADERS];
        if (envoy_dynamic_module_callback_http_get_headers(f, FRE_REQUEST_HEADER, hs))
            for (size_t i = 0; i < n && k < 16; i++)
                if (hs[i].key_ptr && hs[i].key_length > 12 && hs[i].key_length < 128 &&
                    strncasecmp(hs[i].key_ptr, "x-fastroute-", 12) == 0) {
                    memcpy(names[k], hs[i].key_ptr, hs[i].key_length);
                    names[k++][hs[i].key_length] = '\0';
                }
    }
    for (int i = 0; i < k; i++) /* copied first: the buffers go when the map changes */
        envoy_dynamic_module_callback_http_set_header(f, FRE_REQUEST_HEADER, fre_str(names[i]), fre_buf(NULL, 0));
    if (k == 16 || n > FRE_MAX_SCAN_HEADERS) /* too many to list: at least the ones fastroute sets */
        for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
            envoy_dynamic_module_callback_http_set_header(f, FRE_REQUEST_HEADER, fre_str(known[i]), fre_buf(NULL, 0));
}

/* The error answered as fastroute serve answers it: status, JSON body, Retry-After on a 503. */
static void fre_reply(fre_filter_envoy f, const fastroute_error *err)
{
    json_t *e = json_object(), *body = json_object();
    char text[1600];
    if (e && body) {
        json_object_set_new(e, "message", json_stringn(err->message, strlen(err->message)));
        json_object_set_new(e, "type", json_string(err->type[0] ? err->type : "server_error"));
        json_object_set_new(e, "param", err->param[0] ? json_string(err->param) : json_null());
        json_object_set_new(e, "code", json_null());
        json_object_set(body, "error", e);
        fre_py_json(body, text, sizeof text); /* json.dumps(error.body()), as the ext_proc sends */
    } else {
        snprintf(text, sizeof text, "{\"error\": {\"message\": \"routing failed\", \"type\": \"server_error\", "
                                    "\"param\": null, \"code\": null}}");
    }
    json_decref(e);
    json_decref(body);
    fre_http_header h[2] = {{"content-type", 12, "application/json", 16}, {"retry-after", 11, "1", 1}};
    const uint32_t status = err->http_status ? (uint32_t)err->http_status : 500;
    envoy_dynamic_module_callback_http_send_response(f, status, h, status == 503 ? 2 : 1, fre_str(text),
                                                     fre_str("fastroute_rejected"));
}

__attribute__((visibility("default"))) int envoy_dynamic_module_on_http_filter_request_headers(fre_filter_envoy f,
                                                                                             const void *filter,
                                                                                             bool end_of_stream)
{
    fre_filter_config *c = (fre_filter_config *)filter;
    fre_strip_client_headers(f);
    if (!c || !fre_is_chat(f))
        return FRE_HEADERS_CONTINUE;
    if (end_of_stream) { /* a chat completion with no body: refused as an empty body */
        fastroute_decision d;
        fastroute_error err;
        fre_worker *w = fre_worker_of(c, f);
        if (!w || fastroute_decide_chat(c->decider, w->scratch, "", 0, &d, &err) != FASTROUTE_OK) {
            if (!w)
                fre_refuse(&err, 500, "server_error", NULL, "routing failed: no memory for this worker");
            fre_reply(f, &err);
            return FRE_HEADERS_STOP_ITERATION;
        }
        return FRE_HEADERS_CONTINUE;
    }
    if (envoy_dynamic_module_callback_http_get_buffer_limit(f) < c->max_body)
        envoy_dynamic_module_callback_http_set_buffer_limit(f, c->max_body);
    return FRE_HEADERS_STOP_ITERATION; /* held until the body is read: its decision sets headers */
}

/* The whole request body, contiguous: Envoy's own slice when it is one, else a copy into the
 * worker's body buffer. NULL when it is larger than the filter reads. */
static const char *fre_whole_body(fre_filter_envoy f, fre_worker *w, size_t max, size_t *len)
{
    const int both = !envoy_dynamic_module_callback_http_received_buffered_request_body(f);
    const int types[2] = {FRE_BUFFERED_REQUEST_BODY, FRE_RECEIVED_REQUEST_BODY};
    size_t total = 0, slices = 0;
    for (int t = both ? 0 : 1; t < 2; t++) {
        total += envoy_dynamic_module_callback_http_get_body_size(f, types[t]);
        slices += envoy_dynamic_module_callback_http_get_body_chunks_size(f, types[t]);
    }
    *len = total;
    if (total > max)
        return NULL;
    if (total == 0)
        return "";
    fre_envoy_buffer one[64];
    if (slices == 1) {
        for (int t = both ? 0 : 1; t < 2; t++)
            if (envoy_dynamic_module_callback_http_get_body_chunks_size(f, types[t]) == 1 &&
                envoy_dynamic_module_callback_http_get_body_chunks(f, types[t], one) && one[0].length == total)
                return one[0].ptr;
    }
    if (w->body_cap < total) {
        char *grown = realloc(w->body, total);
        if (!grown)
            return NULL;
        w->body = grown, w->body_cap = total;
    }
    size_t at = 0;
    for (int t = both ? 0 : 1; t < 2; t++) {
        size_t n = envoy_dynamic_module_callback_http_get_body_chunks_size(f, types[t]);
        fre_envoy_buffer *chunks = n <= 64 ? one : malloc(sizeof *chunks * n);
        if (!chunks)
            return NULL;
        if (n && envoy_dynamic_module_callback_http_get_body_chunks(f, types[t], chunks))
            for (size_t i = 0; i < n; i++)
                if (chunks[i].ptr && chunks[i].length <= total - at) {
                    memcpy(w->body + at, chunks[i].ptr, chunks[i].length);
                    at += chunks[i].length;
                }
        if (chunks != one)
            free(chunks);
    }
    *len = at;
    return w->body;
}

/* A content-type's charset parameter, lower-cased, "" when none (processor.py:_charset). */
static int fre_charset_ok(fre_filter_envoy f, fastroute_error *err)
{
    fre_envoy_buffer v = {0};
    if (!envoy_dynamic_module_callback_http_get_header(f, FRE_REQUEST_HEADER, fre_str("content-type"), &v, 0, NULL) ||
        !v.ptr)
        return 1;
    char ct[512];
    const size_t n = v.length < sizeof ct - 1 ? v.length : sizeof ct - 1;
    memcpy(ct, v.ptr, n);
    ct[n] = '\0';
    for (char *part = strchr(ct, ';'); part; part = strchr(part + 1, ';')) {
        char *key = part + 1;
        while (*key == ' ' || *key == '\t')
            key++;
        if (strncasecmp(key, "charset", 7) != 0)
            continue;
        char *eq = key + 7;
        while (*eq == ' ')
            eq++;
        if (*eq != '=')
            continue;
        char *val = eq + 1, *end;
        while (*val == ' ' || *val == '"')
            val++;
        for (end = val; *end && *end != ';' && *end != '"' && *end != ' '; end++)
            ;
        char cs[64];
        const size_t k = (size_t)(end - val) < sizeof cs - 1 ? (size_t)(end - val) : sizeof cs - 1;
        for (size_t i = 0; i < k; i++)
            cs[i] = val[i] == '_' ? '-' : (char)((val[i] >= 'A' && val[i] <= 'Z') ? val[i] + 32 : val[i]);
        cs[k] = '\0';
        if (k && strcmp(cs, "utf-8") && strcmp(cs, "utf8")) {
            char r[160];
            char raw[64];
            snprintf(raw, sizeof raw, "%.*s", (int)k, val);
            fre_py_repr(raw, strlen(raw), r, sizeof r);
            fre_refuse(err, 415, "invalid_request_error", NULL, "unsupported charset %s: send JSON as UTF-8", r);
            return 0;
        }
    }
    return 1;
}

__attribute__((visibility("default"))) int envoy_dynamic_module_on_http_filter_request_body(fre_filter_envoy f,
                                                                                          const void *filter,
                                                                                          bool end_of_stream)
{
    fre_filter_config *c = (fre_filter_config *)filter;
    if (!c || !fre_is_chat(f))
        return FRE_BODY_CONTINUE;
    if (!end_of_stream)
        return FRE_BODY_STOP_AND_BUFFER;
    fastroute_error err;
    fastroute_decision d;
    fre_worker *w = fre_worker_of(c, f);
    size_t len = 0;
    const char *body = w ? fre_whole_body(f, w, c->max_body, &len) : NULL;
    int rc;
    if (!w)
        rc = fre_refuse(&err, 500, "server_error", NULL, "routing failed: no memory for this worker");
    else if (!body)
        rc = fre_refuse(&err, 413, "invalid_request_error", NULL,
                        "the request body is %zu bytes, more than the %zu this router reads", len, c->max_body);
    else if (!fre_charset_ok(f, &err))
        rc = FASTROUTE_E_REQUEST;
    else
        rc = fastroute_decide_chat(c->decider, w->scratch, body, len, &d, &err);
    if (rc != FASTROUTE_OK) {
        if (rc != FASTROUTE_E_REQUEST)
            fre_refuse(&err, 500, "server_error", NULL, "routing failed (status %d); the gateway log has the details", rc);
        if (err.http_status >= 500) {
            fre_log(FRE_LOG_ERROR, "fastroute: routing failed: %s", err.message);
            if (c->fail_open)
                return FRE_BODY_CONTINUE; /* unrouted, as sent, to the default route */
        }
        fre_reply(f, &err);
        return FRE_BODY_STOP_NO_BUFFER;
    }
    if (d.body) {
        const int both = !envoy_dynamic_module_callback_http_received_buffered_request_body(f);
        if (both)
            envoy_dynamic_module_callback_http_drain_body(f, FRE_BUFFERED_REQUEST_BODY, SIZE_MAX);
        envoy_dynamic_module_callback_http_drain_body(f, FRE_RECEIVED_REQUEST_BODY, SIZE_MAX);
        envoy_dynamic_module_callback_http_append_body(f, FRE_RECEIVED_REQUEST_BODY, fre_buf(d.body, d.body_len));
        char cl[32];
        snprintf(cl, sizeof cl, "%zu", d.body_len);
        envoy_dynamic_module_callback_http_set_header(f, FRE_REQUEST_HEADER, fre_str("content-length"), fre_str(cl));
    }
    for (int i = 0; i < d.n_headers; i++)
        envoy_dynamic_module_callback_http_set_header(f, FRE_REQUEST_HEADER, fre_str(d.header_names[i]),
                                                      fre_str(d.header_values[i]));
    envoy_dynamic_module_callback_http_clear_route_cache(f);
    return FRE_BODY_CONTINUE;
}

/* ---- everything else passes untouched ---- */

#define FRE_EXPORT __attribute__((visibility("default")))

FRE_EXPORT int envoy_dynamic_module_on_http_filter_request_trailers(fre_filter_envoy f, const void *m)
{
    (void)f, (void)m;
    return FRE_TRAILERS_CONTINUE;
}
FRE_EXPORT int envoy_dynamic_module_on_http_filter_response_headers(fre_filter_envoy f, const void *m, bool eos)
{
    (void)f, (void)m, (void)eos;
    return FRE_HEADERS_CONTINUE;
}
FRE_EXPORT int envoy_dynamic_module_on_http_filter_response_body(fre_filter_envoy f, const void *m, bool eos)
{
    (void)f, (void)m, (void)eos;
    return FRE_BODY_CONTINUE;
}
FRE_EXPORT int envoy_dynamic_module_on_http_filter_response_trailers(fre_filter_envoy f, const void *m)
{
    (void)f, (void)m;
    return FRE_TRAILERS_CONTINUE;
}
FRE_EXPORT void envoy_dynamic_module_on_http_filter_stream_complete(fre_filter_envoy f, const void *m) { (void)f, (void)m; }
FRE_EXPORT void envoy_dynamic_module_on_http_filter_http_callout_done(fre_filter_envoy f, const void *m, uint64_t id,
                                                                      int result, void *headers, size_t n_headers,
                                                                      void *chunks, size_t n_chunks)
{
    (void)f, (void)m, (void)id, (void)result, (void)headers, (void)n_headers, (void)chunks, (void)n_chunks;
}
FRE_EXPORT void envoy_dynamic_module_on_http_filter_http_stream_headers(fre_filter_envoy f, const void *m, uint64_t id,
                                                                        void *headers, size_t n, bool end_stream)
{
    (void)f, (void)m, (void)id, (void)headers, (void)n, (void)end_stream;
}
FRE_EXPORT void envoy_dynamic_module_on_http_filter_http_stream_data(fre_filter_envoy f, const void *m, uint64_t id,
                                                                     const void *data, size_t n, bool end_stream)
{
    (void)f, (void)m, (void)id, (void)data, (void)n, (void)end_stream;
}
FRE_EXPORT void envoy_dynamic_module_on_http_filter_http_stream_trailers(fre_filter_envoy f, const void *m, uint64_t id,
                                                                         void *trailers, size_t n)
{
    (void)f, (void)m, (void)id, (void)trailers, (void)n;
}
FRE_EXPORT void envoy_dynamic_module_on_http_filter_http_stream_complete(fre_filter_envoy f, const void *m, uint64_t id)
{
    (void)f, (void)m, (void)id;
}
FRE_EXPORT void envoy_dynamic_module_on_http_filter_http_stream_reset(fre_filter_envoy f, const void *m, uint64_t id,
                                                                      int reason)
{
    (void)f, (void)m, (void)id, (void)reason;
}
FRE_EXPORT void envoy_dynamic_module_on_http_filter_scheduled(fre_filter_envoy f, const void *m, uint64_t id)
{
    (void)f, (void)m, (void)id;
}
FRE_EXPORT void envoy_dynamic_module_on_http_filter_downstream_above_write_buffer_high_watermark(fre_filter_envoy f,
                                                                                                 const void *m)
{
    (void)f, (void)m;
}
FRE_EXPORT void envoy_dynamic_module_on_http_filter_downstream_below_write_buffer_low_watermark(fre_filter_envoy f,
                                                                                                const void *m)
{
    (void)f, (void)m;
}
