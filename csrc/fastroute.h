/* fastroute.h: the fastroute decision in C, for hosts without Python (an Envoy worker thread,
 * a Go or Rust service, a C program). The same decision as the Python package: the same
 * bundles (fastroute.json + weights.safetensors, the static embedder's files), the same model
 * strings (router-<router>-<threshold>, router-<router>-<percent>%), the same win rates.
 *
 * Two objects, both immutable once opened and safe to share between threads:
 *   fastroute_engine   one router bundle (mf, sw_ranking, length, random): text -> win rate,
 *                      and for mf / sw_ranking a routing profile's choice among N models;
 *   fastroute_decider  what a chat request's `model` means (routers, profiles, aliases,
 *                      targets): a chat completion body -> where it goes, or the error
 *                      `fastroute serve` answers for it.
 * and one per-thread object:
 *   fastroute_scratch  the bounded memory one call works in; a thread makes one and reuses it
 *                      (calls allocate nothing else). Never share one between threads at once.
 *
 * Kernels run on the calling thread (no thread pool). Every function returns a
 * fastroute_status and, where it takes one, fills a fastroute_error with a message that
 * names the problem. Nothing here aborts on bad input.
 */
#ifndef FASTROUTE_H
#define FASTROUTE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define FASTROUTE_API_VERSION 1

#if defined(__GNUC__)
#define FASTROUTE_EXPORT __attribute__((visibility("default")))
#else
#define FASTROUTE_EXPORT
#endif

typedef enum {
    FASTROUTE_OK = 0,
    FASTROUTE_E_ARGUMENT = 1,    /* a NULL pointer, a size out of range, a bad option */
    FASTROUTE_E_NOMEM = 2,       /* out of memory (at open), or the scratch is too small for the call */
    FASTROUTE_E_BUNDLE = 3,      /* a bundle or embedder file is missing or malformed */
    FASTROUTE_E_MODEL = 4,       /* an unknown model or router, or a malformed model string */
    FASTROUTE_E_TEXT = 5,        /* a text the native tokenizer cannot read as the Python one does */
    FASTROUTE_E_CALIBRATION = 6, /* a share of strong calls asked of a bundle that stores no quantiles */
    FASTROUTE_E_SCORING = 7,     /* the kernels failed on this input */
    FASTROUTE_E_REQUEST = 8      /* a chat body refused: http_status, type, param say how */
} fastroute_status;

typedef struct fastroute_error {
    int status;        /* a fastroute_status */
    int http_status;   /* the HTTP status fastroute serve answers with (400, 413, 415, 500); 0 when none */
    char type[32];     /* "invalid_request_error" or "server_error" (OpenAI's error types) */
    char param[128];   /* the request field at fault, "" when none */
    char message[1024];
} fastroute_error;

typedef struct fastroute_engine fastroute_engine;
typedef struct fastroute_decider fastroute_decider;
typedef struct fastroute_scratch fastroute_scratch;

/* ---- engines: one router ---------------------------------------------------------------- */

typedef struct fastroute_engine_options {
    /* The models routed to (any names); NULL: the bundle's own strong / weak model. */
    const char *strong_model;
    const char *weak_model;
    /* The bundle models they are scored as; NULL: the target itself when the bundle knows it
     * (or an alias of it), else the bundle's own strong / weak model (as fastroute.load_router). */
    const char *strong_scored_as;
    const char *weak_scored_as;
    /* The static embedder's directory (config.json, embeddings.safetensors, tokenizer.json). */
    const char *embedder_dir;
    /* The random router's seed; the length router's half length (<= 0: its default, 500). */
    uint64_t seed;
    double half_chars;
} fastroute_engine_options;

/* `spec`: a bundle directory, or "length" / "random" (routers that need no bundle). */
FASTROUTE_EXPORT int fastroute_engine_open(const char *spec, const fastroute_engine_options *options,
                                           fastroute_engine **out, fastroute_error *err);
FASTROUTE_EXPORT void fastroute_engine_close(fastroute_engine *engine);

/* "mf", "sw_ranking", "length" or "random"; the names it routes to and the models it scores. */
FASTROUTE_EXPORT const char *fastroute_engine_kind(const fastroute_engine *engine);
FASTROUTE_EXPORT const char *fastroute_engine_strong_model(const fastroute_engine *engine);
FASTROUTE_EXPORT const char *fastroute_engine_weak_model(const fastroute_engine *engine);

/* P(strong beats weak) for each of n UTF-8 texts (texts[i], lens[i] bytes) into out[n]. A text
 * the native tokenizer cannot read fails the call (FASTROUTE_E_TEXT, naming the text's index);
 * score such texts one at a time to isolate them. */
FASTROUTE_EXPORT int fastroute_engine_win_rates(const fastroute_engine *engine, fastroute_scratch *scratch,
                                                const char *const *texts, const size_t *lens, size_t n,
                                                double *out, fastroute_error *err);

/* The threshold that sends `share` (in [0, 1]) of the bundle's training prompts to the strong
 * model, from its stored win-rate quantiles (RouteLLM's router-<router>-<percent>%). */
FASTROUTE_EXPORT int fastroute_engine_threshold_for(const fastroute_engine *engine, double share, double *threshold,
                                                    fastroute_error *err);

/* ---- model strings ------------------------------------------------------------------------ */

typedef struct fastroute_model_string {
    const char *router; /* points into the parsed string */
    size_t router_len;
    int is_share;       /* 1: `value` is a share of strong calls in [0, 1]; 0: a raw threshold */
    double value;
} fastroute_model_string;

/* Parses router-<router>-<threshold> or router-<router>-<percent>% exactly as
 * fastroute.decision.model_string.parse_model_string; on error FASTROUTE_E_MODEL with the
 * same message. */
FASTROUTE_EXPORT int fastroute_parse_model_string(const char *model, size_t len, fastroute_model_string *out,
                                                  fastroute_error *err);

/* ---- deciders: a chat request -> where it goes -------------------------------------------- */

/* `config_json`: {"routers": {"<name>": "<bundle dir>" | "length" | "random"}, "strong_model",
 * "weak_model", "scored_as": {"<target>": "<model>"}, "embedder_dir", "route_on": "last_user" |
 * "conversation", "profiles": {"<name>": <profile JSON, its "router" a bundle dir>},
 * "aliases": {"<model a client names>": "<router model string or profile name>"},
 * "max_body_bytes"}. Every error names the key. */
FASTROUTE_EXPORT int fastroute_decider_open(const char *config_json, size_t len, fastroute_decider **out,
                                            fastroute_error *err);
FASTROUTE_EXPORT void fastroute_decider_close(fastroute_decider *decider);

typedef struct fastroute_decision {
    int routed;         /* 1: a router or profile chose `model`; 0: the request's own model, passed through */
    const char *model;  /* the model to call (NUL-terminated) */
    const char *router; /* the router that chose it, or NULL */
    const char *profile;/* the profile that chose it, or NULL */
    double win_rate;    /* the router's win rate (routers) */
    double quality;     /* the chosen candidate's predicted quality (profiles) */
    double cost_usd;    /* its expected cost (profiles) */
    /* The x-fastroute-* headers fastroute serve sets, as n_headers name/value pairs. */
    const char *header_names[4];
    const char *header_values[4];
    int n_headers;
    /* The body to send on: `model` rewritten (body_len bytes), or NULL when it is unchanged. */
    const char *body;
    size_t body_len;
} fastroute_decision;

/* The decision for one chat completion request body (UTF-8 JSON, `len` bytes). Strings in
 * `out` live in `scratch` until its next use. A body fastroute serve would refuse gets
 * FASTROUTE_E_REQUEST with its status, type, param and message in `err`. */
FASTROUTE_EXPORT int fastroute_decide_chat(const fastroute_decider *decider, fastroute_scratch *scratch,
                                           const char *body, size_t len, fastroute_decision *out,
                                           fastroute_error *err);

/* The decision for one text under a model string, an alias or a profile's name (a model
 * the decider does not route is FASTROUTE_E_MODEL). */
FASTROUTE_EXPORT int fastroute_decide_text(const fastroute_decider *decider, fastroute_scratch *scratch,
                                           const char *model, const char *text, size_t len,
                                           fastroute_decision *out, fastroute_error *err);

/* ---- scratch ---------------------------------------------------------------------------- */

/* Memory for calls on one thread to an engine or decider (bounded: its size is fixed here by
 * what the engines need for one text at a time, plus the decider's body limit). */
FASTROUTE_EXPORT fastroute_scratch *fastroute_scratch_for_engine(const fastroute_engine *engine);
FASTROUTE_EXPORT fastroute_scratch *fastroute_scratch_for_decider(const fastroute_decider *decider);
FASTROUTE_EXPORT void fastroute_scratch_free(fastroute_scratch *scratch);
FASTROUTE_EXPORT size_t fastroute_scratch_bytes(const fastroute_scratch *scratch);

/* The library's version ("fastroute <version> api <n>"). */
FASTROUTE_EXPORT const char *fastroute_version(void);

#ifdef __cplusplus
}
#endif
#endif
