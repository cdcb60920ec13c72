/* The part of Envoy's dynamic-module ABI (Envoy 1.40.0) that fastroute's filter uses, declared
 * here from the interface's facts: the hook and callback names Envoy 1.40 looks up and exports,
 * their parameter and return types, and the enum values (checked against the 1.40.0 binary's
 * exported symbols and by running the filter in it; docs/envoy_module.md says how). Not a copy
 * of Envoy's header: only what a request-rewriting HTTP filter needs. */
#ifndef FASTROUTE_ENVOY_ABI_H
#define FASTROUTE_ENVOY_ABI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The version string Envoy 1.40.0 compares with what program_init returns (a mismatch is a
 * warning there, not a refusal). */
#define FRE_ENVOY_ABI_VERSION "v0.2.0"

typedef struct {
    const char *ptr;
    size_t length;
} fre_envoy_buffer; /* bytes Envoy owns, valid during the call */

typedef struct {
    const char *ptr;
    size_t length;
} fre_module_buffer; /* bytes the module owns */

typedef struct {
    const char *key_ptr;
    size_t key_length;
    const char *value_ptr;
    size_t value_length;
} fre_http_header; /* both the module's (send_response) and Envoy's (get_headers) layout */

enum { FRE_REQUEST_HEADER = 0, FRE_REQUEST_TRAILER = 1, FRE_RESPONSE_HEADER = 2, FRE_RESPONSE_TRAILER = 3 };
enum { FRE_RECEIVED_REQUEST_BODY = 0, FRE_BUFFERED_REQUEST_BODY = 1, FRE_RECEIVED_RESPONSE_BODY = 2,
       FRE_BUFFERED_RESPONSE_BODY = 3 };
enum { FRE_HEADERS_CONTINUE = 0, FRE_HEADERS_STOP_ITERATION = 1 };
enum { FRE_BODY_CONTINUE = 0, FRE_BODY_STOP_AND_BUFFER = 1, FRE_BODY_STOP_NO_BUFFER = 3 };
enum { FRE_TRAILERS_CONTINUE = 0 };
enum { FRE_LOG_DEBUG = 1, FRE_LOG_INFO = 2, FRE_LOG_WARN = 3, FRE_LOG_ERROR = 4 };

typedef void *fre_filter_envoy; /* Envoy's side of one stream */
typedef void *fre_config_envoy; /* Envoy's side of one filter config */

/* Callbacks Envoy 1.40.0 exports. */
void envoy_dynamic_module_callback_log(int level, fre_module_buffer message);
bool envoy_dynamic_module_callback_http_get_header(fre_filter_envoy f, int header_type, fre_module_buffer key,
                                                   fre_envoy_buffer *value, size_t index, size_t *count);
bool envoy_dynamic_module_callback_http_set_header(fre_filter_envoy f, int header_type, fre_module_buffer key,
                                                   fre_module_buffer value); /* value {NULL, 0}: removes */
size_t envoy_dynamic_module_callback_http_get_headers_size(fre_filter_envoy f, int header_type);
bool envoy_dynamic_module_callback_http_get_headers(fre_filter_envoy f, int header_type, fre_http_header *out);
size_t envoy_dynamic_module_callback_http_get_body_size(fre_filter_envoy f, int body_type);
size_t envoy_dynamic_module_callback_http_get_body_chunks_size(fre_filter_envoy f, int body_type);
bool envoy_dynamic_module_callback_http_get_body_chunks(fre_filter_envoy f, int body_type, fre_envoy_buffer *out);
bool envoy_dynamic_module_callback_http_drain_body(fre_filter_envoy f, int body_type, size_t n);
bool envoy_dynamic_module_callback_http_append_body(fre_filter_envoy f, int body_type, fre_module_buffer data);
bool envoy_dynamic_module_callback_http_received_buffered_request_body(fre_filter_envoy f);
void envoy_dynamic_module_callback_http_clear_route_cache(fre_filter_envoy f);
void envoy_dynamic_module_callback_http_send_response(fre_filter_envoy f, uint32_t status, fre_http_header *headers,
                                                      size_t n_headers, fre_module_buffer body, fre_module_buffer details);
uint64_t envoy_dynamic_module_callback_http_get_buffer_limit(fre_filter_envoy f);
void envoy_dynamic_module_callback_http_set_buffer_limit(fre_filter_envoy f, uint64_t limit);
uint32_t envoy_dynamic_module_callback_http_filter_get_worker_index(fre_filter_envoy f);

#endif
