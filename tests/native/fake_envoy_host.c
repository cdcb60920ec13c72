/* A stand-in for Envoy's side of the dynamic-module ABI (csrc/envoy/envoy_abi.h), so that the
 * filter can run where Envoy's own binary cannot: under AddressSanitizer (Envoy replaces malloc
 * and a preloaded ASan runtime crashes it). It loads libfastroute_envoy.so with dlopen, opens a
 * filter config from argv[2], then for each request on stdin (one JSON-free line each:
 * <method> <path> <content-type or -> <chunk size> <hex body>) runs the request hooks as Envoy
 * runs them (headers held, the body in chunks of that size, buffered, then end of stream) and
 * prints what Envoy would do: "reply <status> <hex body>" or "continue <hex body> <headers>".
 *
 *   cc -fsanitize=address,undefined -rdynamic fake_envoy_host.c -ldl -o host
 *   ./host build/asan/native/libfastroute_envoy.so config.json < requests */
#include <dlfcn.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

typedef struct { const char *ptr; size_t length; } buf;
typedef struct { const char *key_ptr; size_t key_length; const char *value_ptr; size_t value_length; } hdr;

#define MAXH 64
static struct { char *k, *v; } headers[MAXH];
static int n_headers;
static char *bodies[2]; /* received, buffered (each NUL-free bytes with lengths) */
static size_t body_len[2];
static int replied;

static void set(const char *k, size_t kl, const char *v, size_t vl)
{
    for (int i = 0; i < n_headers; i++)
        if (strlen(headers[i].k) == kl && strncasecmp(headers[i].k, k, kl) == 0) {
            free(headers[i].v);
            if (!v || !vl) { /* removal */
                free(headers[i].k);
                headers[i] = headers[--n_headers];
                return;
            }
            headers[i].v = strndup(v, vl);
            return;
        }
    if (!v || !vl || n_headers == MAXH)
        return;
    headers[n_headers].k = strndup(k, kl);
    headers[n_headers++].v = strndup(v, vl);
}

void envoy_dynamic_module_callback_log(int level, buf m) { fprintf(stderr, "log[%d] %.*s\n", level, (int)m.length, m.ptr); }
bool envoy_dynamic_module_callback_http_get_header(void *f, int t, buf key, buf *out, size_t index, size_t *count)
{
    (void)f, (void)t, (void)index;
    for (int i = 0; i < n_headers; i++)
        if (strlen(headers[i].k) == key.length && strncasecmp(headers[i].k, key.ptr, key.length) == 0) {
            *out = (buf){headers[i].v, strlen(headers[i].v)};
            if (count)
                *count = 1;
            return true;
        }
    *out = (buf){NULL, 0};
    return false;
}
bool envoy_dynamic_module_callback_http_set_header(void *f, int t, buf key, buf value)
{
    (void)f, (void)t;
    set(key.ptr, key.length, value.ptr, value.length);
    return true;
}
size_t envoy_dynamic_module_callback_http_get_headers_size(void *f, int t) { (void)f, (void)t; return (size_t)n_headers; }
bool envoy_dynamic_module_callback_http_get_headers(void *f, int t, hdr *out)
{
    (void)f, (void)t;
    for (int i = 0; i < n_headers; i++)
        out[i] = (hdr){headers[i].k, strlen(headers[i].k), headers[i].v, strlen(headers[i].v)};
    return true;
}
size_t envoy_dynamic_module_callback_http_get_body_size(void *f, int t) { (void)f; return t < 2 ? body_len[t] : 0; }
size_t envoy_dynamic_module_callback_http_get_body_chunks_size(void *f, int t) { (void)f; return t < 2 && body_len[t] ? 1 : 0; }
bool envoy_dynamic_module_callback_http_get_body_chunks(void *f, int t, buf *out)
{
    (void)f;
    if (t >= 2 || !body_len[t])
        return false;
    out[0] = (buf){bodies[t], body_len[t]};
    return true;
}
bool envoy_dynamic_module_callback_http_drain_body(void *f, int t, size_t n)
{
    (void)f, (void)n;
    if (t < 2)
        body_len[t] = 0;
    return true;
}
bool envoy_dynamic_module_callback_http_append_body(void *f, int t, buf data)
{
    (void)f;
    if (t >= 2)
        return false;
    bodies[t] = realloc(bodies[t], body_len[t] + data.length + 1);
    if (data.length)
        memcpy(bodies[t] + body_len[t], data.ptr, data.length);
    body_len[t] += data.length;
    return true;
}
bool envoy_dynamic_module_callback_http_received_buffered_request_body(void *f) { (void)f; return false; }
void envoy_dynamic_module_callback_http_clear_route_cache(void *f) { (void)f; }
static void hex(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        printf("%02x", (unsigned char)p[i]);
    if (!n)
        printf("-");
}
void envoy_dynamic_module_callback_http_send_response(void *f, uint32_t status, hdr *h, size_t nh, buf body, buf details)
{
    (void)f, (void)h, (void)nh, (void)details;
    printf("reply %u ", status);
    hex(body.ptr, body.length);
    printf("\n");
    replied = 1;
}
uint64_t envoy_dynamic_module_callback_http_get_buffer_limit(void *f) { (void)f; return 1 << 20; }
void envoy_dynamic_module_callback_http_set_buffer_limit(void *f, uint64_t l) { (void)f, (void)l; }
uint32_t envoy_dynamic_module_callback_http_filter_get_worker_index(void *f) { (void)f; return 0; }

static char *unhex(const char *s, size_t *n)
{
    if (s[0] == '-') {
        *n = 0;
        return calloc(1, 1);
    }
    const size_t k = strlen(s) / 2;
    char *out = malloc(k + 1);
    for (size_t i = 0; i < k; i++)
        sscanf(s + 2 * i, "%2hhx", (unsigned char *)&out[i]);
    *n = k;
    return out;
}

int main(int argc, char **argv)
{
    if (argc != 3)
        return 2;
    void *lib = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
    if (!lib) {
        fprintf(stderr, "%s\n", dlerror());
        return 1;
    }
    const char *(*init)(void) = (const char *(*)(void))dlsym(lib, "envoy_dynamic_module_on_program_init");
    const void *(*config_new)(void *, buf, buf) = (const void *(*)(void *, buf, buf))dlsym(lib, "envoy_dynamic_module_on_http_filter_config_new");
    void (*config_destroy)(const void *) = (void (*)(const void *))dlsym(lib, "envoy_dynamic_module_on_http_filter_config_destroy");
    const void *(*filter_new)(const void *, void *) = (const void *(*)(const void *, void *))dlsym(lib, "envoy_dynamic_module_on_http_filter_new");
    int (*on_headers)(void *, const void *, bool) = (int (*)(void *, const void *, bool))dlsym(lib, "envoy_dynamic_module_on_http_filter_request_headers");
    int (*on_body)(void *, const void *, bool) = (int (*)(void *, const void *, bool))dlsym(lib, "envoy_dynamic_module_on_http_filter_request_body");
    void (*destroy)(const void *) = (void (*)(const void *))dlsym(lib, "envoy_dynamic_module_on_http_filter_destroy");
    if (!init || !config_new || !config_destroy || !filter_new || !on_headers || !on_body || !destroy || !init())
        return 1;
    FILE *cf = fopen(argv[2], "rb");
    if (!cf)
        return 1;
    static char cfg[1 << 20];
    const size_t cl = fread(cfg, 1, sizeof cfg, cf);
    fclose(cf);
    const void *config = config_new(NULL, (buf){"fastroute", 9}, (buf){cfg, cl});
    if (!config) {
        printf("config refused\n");
        return 0;
    }
    static char line[1 << 22];
    while (fgets(line, sizeof line, stdin)) {
        char method[16], path[256], ctype[256], hexbody[sizeof line];
        size_t chunk;
        if (sscanf(line, "%15s %255s %255s %zu %s", method, path, ctype, &chunk, hexbody) != 5)
            continue;
        size_t n;
        char *body = unhex(hexbody, &n);
        for (int i = 0; i < n_headers; i++)
            free(headers[i].k), free(headers[i].v);
        n_headers = 0;
        body_len[0] = body_len[1] = 0;
        replied = 0;
        set(":method", 7, method, strlen(method));
        set(":path", 5, path, strlen(path));
        set("x-fastroute-model", 17, "sneaky", 6);
        if (strcmp(ctype, "-"))
            set("content-type", 12, ctype, strlen(ctype));
        const void *f = filter_new(config, NULL);
        on_headers(NULL, f, n == 0);
        char *sent = calloc(1, n + 1 + (1 << 16)); /* what went on upstream */
        size_t sent_len = 0;
        for (size_t at = 0; !replied && at < n;) {
            const size_t k = chunk && chunk < n - at ? chunk : n - at;
            bodies[0] = realloc(bodies[0], k + 1);
            memcpy(bodies[0], body + at, k);
            body_len[0] = k;
            at += k;
            const int s = on_body(NULL, f, at == n);
            if (replied)
                break;
            if (s == 1 && at < n) { /* held: received -> buffered */
                envoy_dynamic_module_callback_http_append_body(NULL, 1, (buf){bodies[0], body_len[0]});
                body_len[0] = 0;
            } else if (s == 0) { /* goes on: what is buffered, then what was received */
                sent = realloc(sent, sent_len + body_len[1] + body_len[0] + 1);
                if (body_len[1])
                    memcpy(sent + sent_len, bodies[1], body_len[1]);
                if (body_len[0])
                    memcpy(sent + sent_len + body_len[1], bodies[0], body_len[0]);
                sent_len += body_len[1] + body_len[0];
                body_len[0] = body_len[1] = 0;
            } else {
                printf("error status %d\n", s);
                replied = 1;
            }
        }
        if (!replied) {
            printf("continue ");
            hex(sent, sent_len);
            for (int i = 0; i < n_headers; i++)
                if (strncmp(headers[i].k, "x-fastroute-", 12) == 0 || strcmp(headers[i].k, "content-length") == 0)
                    printf(" %s=%s", headers[i].k, headers[i].v);
            printf("\n");
        }
        free(sent);
        destroy(f);
        free(body);
        fflush(stdout);
    }
    config_destroy(config);
    free(bodies[0]), free(bodies[1]);
    for (int i = 0; i < n_headers; i++)
        free(headers[i].k), free(headers[i].v);
    return 0;
}
