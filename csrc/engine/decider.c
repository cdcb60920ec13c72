/* fastroute_decider: fastroute/decision/ natively. What a request's `model` means (a router
 * model string, a profile's name, an alias, or a model passed through), the threshold of a
 * share from the bundle's quantiles, the decision and its x-fastroute-* headers, and the
 * body with `model` rewritten. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fre.h"

#define FRE_DEFAULT_MAX_BODY ((size_t)1 << 20)
#define FRE_NO_CALIBRATION_HINT "use a raw threshold (router-<router>-<threshold>, or 'threshold')"

typedef struct {
    char *name;
    fastroute_engine *engine;
} fre_named_router;

typedef struct {
    char *name;
    fre_profile *profile;
} fre_named_profile;

typedef struct {
    char *name, *model;
} fre_alias;

struct fastroute_decider {
    fre_named_router *routers; int n_routers;
    fre_named_profile *profiles; int n_profiles;
    fre_alias *aliases; int n_aliases;
    int conversation;
    size_t max_body;
    char routers_repr[1024]; /* Python's repr of sorted(router names), for "unknown router" */
};

FASTROUTE_EXPORT void fastroute_decider_close(fastroute_decider *d)
{
    if (!d)
        return;
    for (int i = 0; i < d->n_routers; i++)
        free(d->routers[i].name), fastroute_engine_close(d->routers[i].engine);
    for (int i = 0; i < d->n_profiles; i++)
        free(d->profiles[i].name), fre_profile_close(d->profiles[i].profile);
    for (int i = 0; i < d->n_aliases; i++)
        free(d->aliases[i].name), free(d->aliases[i].model);
    free(d->routers), free(d->profiles), free(d->aliases);
    free(d);
}

static int fre_name_cmp(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static const char *fre_opt_string(json_t *cfg, const char *key, int *bad)
{
    json_t *v = json_object_get(cfg, key);
    if (!v || json_is_null(v))
        return NULL;
    if (!json_is_string(v) || !json_string_length(v)) {
        *bad = 1;
        return NULL;
    }
    return json_string_value(v);
}

static const fastroute_engine *fre_router(const fastroute_decider *d, const char *name, size_t len)
{
    for (int i = 0; i < d->n_routers; i++)
        if (strlen(d->routers[i].name) == len && memcmp(d->routers[i].name, name, len) == 0)
            return d->routers[i].engine;
    return NULL;
}

static const fre_profile *fre_profile_named(const fastroute_decider *d, const char *name, const char **stored)
{
    for (int i = 0; i < d->n_profiles; i++)
        if (strcmp(d->profiles[i].name, name) == 0) {
            *stored = d->profiles[i].name;
            return d->profiles[i].profile;
        }
    return NULL;
}

FASTROUTE_EXPORT int fastroute_decider_open(const char *config_json, size_t len, fastroute_decider **out,
                                            fastroute_error *err)
{
    fre_clear(err);
    if (!config_json || !out)
        return fre_fail(err, FASTROUTE_E_ARGUMENT, "fastroute_decider_open needs a config and an out pointer");
    *out = NULL;
    fre_json_init();
    json_error_t je;
    json_t *cfg = json_loadb(config_json, len, JSON_REJECT_DUPLICATES, &je);
    if (!cfg || !json_is_object(cfg)) {
        json_decref(cfg);
        return fre_fail(err, FASTROUTE_E_ARGUMENT, "the decider's config is not a JSON object (%s at line %d column %d)",
                        cfg ? "not an object" : je.text, je.line, je.column);
    }
    static const char *const KEYS[] = {"routers", "strong_model", "weak_model", "scored_as", "embedder_dir", "route_on",
                                       "profiles", "aliases", "max_body_bytes", "fail_open"};
    const char *key;
    json_t *val;
    int rc = FASTROUTE_OK;
    fastroute_decider *d = calloc(1, sizeof *d);
    if (!d) {
        json_decref(cfg);
        return fre_fail(err, FASTROUTE_E_NOMEM, "out of memory");
    }
    json_object_foreach(cfg, key, val) {
        int known = 0;
        for (size_t i = 0; i < sizeof KEYS / sizeof KEYS[0]; i++)
            known |= strcmp(key, KEYS[i]) == 0;
        if (!known) {
            rc = fre_fail(err, FASTROUTE_E_ARGUMENT, "config: unknown key '%s'", key);
            goto done;
        }
    }
    int bad = 0;
    fastroute_engine_options eo = {0};
    eo.strong_model = fre_opt_string(cfg, "strong_model", &bad);
    eo.weak_model = fre_opt_string(cfg, "weak_model", &bad);
    eo.embedder_dir = fre_opt_string(cfg, "embedder_dir", &bad);
    const char *route_on = fre_opt_string(cfg, "route_on", &bad);
    if (bad) {
        rc = fre_fail(err, FASTROUTE_E_ARGUMENT, "config: strong_model, weak_model, embedder_dir and route_on are strings");
        goto done;
    }
    if (route_on && strcmp(route_on, "last_user") && strcmp(route_on, "conversation")) {
        rc = fre_fail(err, FASTROUTE_E_ARGUMENT, "config: key 'route_on' must be \"last_user\" or \"conversation\"");
        goto done;
    }
    d->conversation = route_on && strcmp(route_on, "conversation") == 0;
    json_t *mb = json_object_get(cfg, "max_body_bytes");
    d->max_body = FRE_DEFAULT_MAX_BODY;
    if (mb && (!json_is_integer(mb) || json_integer_value(mb) < 1024 || json_integer_value(mb) > ((json_int_t)1 << 30))) {
        rc = fre_fail(err, FASTROUTE_E_ARGUMENT, "config: key 'max_body_bytes' must be an integer in [1024, 2^30]");
        goto done;
    }
    if (mb)
        d->max_body = (size_t)json_integer_value(mb);
    json_t *fo = json_object_get(cfg, "fail_open");
    if (fo && !json_is_boolean(fo)) {
        rc = fre_fail(err, FASTROUTE_E_ARGUMENT, "config: key 'fail_open' must be true or false");
        goto done;
    }
    json_t *scored = json_object_get(cfg, "scored_as");
    if (scored && !json_is_object(scored)) {
        rc = fre_fail(err, FASTROUTE_E_ARGUMENT, "config: key 'scored_as' maps a target to the model it is scored as");
        goto done;
    }
    json_t *ss = eo.strong_model && scored ? json_object_get(scored, eo.strong_model) : NULL,
           *ws = eo.weak_model && scored ? json_object_get(scored, eo.weak_model) : NULL;
    eo.strong_scored_as = json_is_string(ss) ? json_string_value(ss) : NULL;
    eo.weak_scored_as = json_is_string(ws) ? json_string_value(ws) : NULL;
    /* routers */
    json_t *routers = json_object_get(cfg, "routers"), *profiles = json_object_get(cfg, "profiles"),
           *aliases = json_object_get(cfg, "aliases");
    if ((routers && !json_is_object(routers)) || (profiles && !json_is_object(profiles)) ||
        (aliases && !json_is_object(aliases))) {
        rc = fre_fail(err, FASTROUTE_E_ARGUMENT, "config: keys 'routers', 'profiles' and 'aliases' are objects");
        goto done;
    }
    if (json_object_size(routers) + json_object_size(profiles) == 0) {
        rc = fre_fail(err, FASTROUTE_E_ARGUMENT, "config: name at least one router (key 'routers') or profile");
        goto done;
    }
    d->routers = calloc(json_object_size(routers) + 1, sizeof *d->routers);
    d->profiles = calloc(json_object_size(profiles) + 1, sizeof *d->profiles);
    d->aliases = calloc(json_object_size(aliases) + 1, sizeof *d->aliases);
    char *names[256];
    int n_names = 0;
    if (!d->routers || !d->profiles || !d->aliases) {
        rc = fre_fail(err, FASTROUTE_E_NOMEM, "out of memory");
        goto done;
    }
    json_object_foreach(routers, key, val) {
        if (!json_is_string(val)) {
            rc = fre_fail(err, FASTROUTE_E_ARGUMENT, "config: routers['%s'] must be a bundle directory, length or random", key);
            goto done;
        }
        fastroute_engine *e;
        if ((rc = fastroute_engine_open(json_string_value(val), &eo, &e, err)) != FASTROUTE_OK) {
            char msg[sizeof err->message];
            snprintf(msg, sizeof msg, "config: routers['%s']: %s", key, err ? err->message : "");
            if (err)
                memcpy(err->message, msg, sizeof msg);
            goto done;
        }
        d->routers[d->n_routers].engine = e;
        if (!(d->routers[d->n_routers].name = strdup(key))) {
            fastroute_engine_close(e);
            rc = fre_fail(err, FASTROUTE_E_NOMEM, "out of memory");
            goto done;
        }
        if (n_names < 256)
            names[n_names++] = d->routers[d->n_routers].name;
        d->n_routers++;
    }
    qsort(names, (size_t)n_names, sizeof names[0], fre_name_cmp);
    {
        size_t at = 0;
        at += (size_t)snprintf(d->routers_repr + at, sizeof d->routers_repr - at, "[");
        for (int i = 0; i < n_names && at < sizeof d->routers_repr; i++) {
            char r[300];
            fre_py_repr(names[i], strlen(names[i]), r, sizeof r);
            at += (size_t)snprintf(d->routers_repr + at, sizeof d->routers_repr - at, "%s%s", i ? ", " : "", r);
        }
        if (at < sizeof d->routers_repr)
            snprintf(d->routers_repr + at, sizeof d->routers_repr - at, "]");
    }
    json_object_foreach(profiles, key, val) {
        if (strncmp(key, "router-", 7) == 0) {
            rc = fre_fail(err, FASTROUTE_E_ARGUMENT, "config: profile '%s' has the name of a router model string", key);
            goto done;
        }
        char where[300];
        snprintf(where, sizeof where, "config: profiles['%s']", key);
        fre_profile *p;
        if ((rc = fre_profile_open(&p, val, where, eo.embedder_dir, err)) != FASTROUTE_OK)
            goto done;
        d->profiles[d->n_profiles].profile = p;
        if (!(d->profiles[d->n_profiles].name = strdup(key))) {
            fre_profile_close(p);
            rc = fre_fail(err, FASTROUTE_E_NOMEM, "out of memory");
            goto done;
        }
        d->n_profiles++;
    }
    json_object_foreach(aliases, key, val) {
        if (!json_is_string(val) || strncmp(key, "router-", 7) == 0) {
            rc = fre_fail(err, FASTROUTE_E_ARGUMENT, "config: aliases['%s'] must be a router model string or a profile's "
                          "name, and an alias no model string", key);
            goto done;
        }
        d->aliases[d->n_aliases].name = strdup(key);
        d->aliases[d->n_aliases].model = strdup(json_string_value(val));
        if (!d->aliases[d->n_aliases].name || !d->aliases[d->n_aliases].model) {
            rc = fre_fail(err, FASTROUTE_E_NOMEM, "out of memory");
            goto done;
        }
        d->n_aliases++;
    }
    /* Every alias must route: checked now, not on the first request. */
    for (int i = 0; i < d->n_aliases; i++) {
        const char *stored;
        if (fre_profile_named(d, d->aliases[i].model, &stored))
            continue;
        fastroute_scratch *tmp = fastroute_scratch_for_decider(d);
        fastroute_decision dec;
        fastroute_error e2;
        const int r = tmp ? fastroute_decide_text(d, tmp, d->aliases[i].model, "", 0, &dec, &e2) : FASTROUTE_E_NOMEM;
        fastroute_scratch_free(tmp);
        if (r != FASTROUTE_OK && r != FASTROUTE_E_TEXT) {
            rc = fre_fail(err, FASTROUTE_E_ARGUMENT, "config: aliases['%s']: %s", d->aliases[i].name, e2.message);
            goto done;
        }
    }
done:
    json_decref(cfg);
    if (rc != FASTROUTE_OK) {
        fastroute_decider_close(d);
        return rc;
    }
    *out = d;
    return FASTROUTE_OK;
}

FASTROUTE_EXPORT fastroute_scratch *fastroute_scratch_for_decider(const fastroute_decider *d)
{
    if (!d)
        return NULL;
    size_t need = 0;
    for (int i = 0; i < d->n_routers; i++) {
        const fastroute_engine *e = d->routers[i].engine;
        const size_t b = e->scratch_bytes + (e->has_embedder ? fre_embed_scratch(&e->embedder) + 4 * (size_t)e->embedder.dim : 0);
        need = b > need ? b : need;
    }
    for (int i = 0; i < d->n_profiles; i++) {
        const size_t b = fre_profile_scratch(d->profiles[i].profile);
        need = b > need ? b : need;
    }
    /* the routing text and the rewritten body (each at most the body's size), and jansson's
     * values for a typical body (a body with more spills to malloc, see chat.c) */
    return fre_scratch_new(need + 2 * d->max_body + 4 * d->max_body + (1 << 16));
}

/* The router and threshold of a router model string (decision/request.py:router_and_threshold). */
static int fre_router_threshold(const fastroute_decider *d, const char *model, const fastroute_engine **engine,
                                const char **router_name, double *threshold, fastroute_error *err)
{
    fastroute_model_string ms;
    fastroute_error parse;
    if (fastroute_parse_model_string(model, strlen(model), &ms, &parse) != FASTROUTE_OK)
        return fre_refuse(err, 400, "invalid_request_error", "model", "%s", parse.message);
    const fastroute_engine *e = fre_router(d, ms.router, ms.router_len);
    if (!e) {
        char r[700];
        fre_py_repr(ms.router, ms.router_len, r, sizeof r);
        return fre_refuse(err, 400, "invalid_request_error", "model", "unknown router %s; routers here: %s", r,
                          d->routers_repr);
    }
    for (int i = 0; i < d->n_routers; i++)
        if (d->routers[i].engine == e)
            *router_name = d->routers[i].name;
    *engine = e;
    if (!ms.is_share) {
        *threshold = ms.value;
        return FASTROUTE_OK;
    }
    fastroute_error cal;
    if (fastroute_engine_threshold_for(e, ms.value, threshold, &cal) != FASTROUTE_OK) {
        if (cal.status == FASTROUTE_E_CALIBRATION)
            return fre_refuse(err, 400, "invalid_request_error", "model", "%s: %s", cal.message, FRE_NO_CALIBRATION_HINT);
        return fre_refuse(err, 400, "invalid_request_error", "model", "%s", cal.message);
    }
    return FASTROUTE_OK;
}

static int fre_header(fastroute_decision *out, fre_arena *a, const char *name, const char *fmt, double v)
{
    char *buf = fre_alloc(a, 40);
    if (!buf)
        return 0;
    snprintf(buf, 40, fmt, v);
    out->header_names[out->n_headers] = name;
    out->header_values[out->n_headers++] = buf;
    return 1;
}

typedef struct {
    const fastroute_engine *engine;
    const char *router;
    double threshold;
} fre_resolved;

static const char *fre_unalias(const fastroute_decider *d, const char *model)
{
    for (int i = 0; i < d->n_aliases; i++)
        if (strcmp(d->aliases[i].name, model) == 0)
            return d->aliases[i].model;
    return model;
}

/* The decision for `text` under `model` (aliases resolved); `known`: the router model string
 * already resolved, or NULL. */
static int fre_decide(const fastroute_decider *d, fre_arena *a, const char *model, const fre_resolved *known,
                      const char *text, size_t len, int *routed, fastroute_decision *out, fastroute_error *err)
{
    memset(out, 0, sizeof *out);
    model = fre_unalias(d, model);
    const char *pname;
    const fre_profile *p = fre_profile_named(d, model, &pname);
    if (strncmp(model, "router-", 7) == 0) {
        fre_resolved r;
        double rate;
        int rc = FASTROUTE_OK;
        if (known)
            r = *known;
        else
            rc = fre_router_threshold(d, model, &r.engine, &r.router, &r.threshold, err);
        if (rc != FASTROUTE_OK)
            return rc;
        const fastroute_engine *e = r.engine;
        const char *router = r.router;
        const double t = r.threshold;
        if (text && (rc = fre_engine_win_rate(e, a, text, len, &rate, err)) != FASTROUTE_OK)
            return rc;
        out->routed = 1;
        out->model = rate >= t ? e->strong_target : e->weak_target;
        out->router = router;
        out->win_rate = rate;
        out->header_names[0] = "x-fastroute-model";
        out->header_values[0] = out->model;
        out->n_headers = 1;
        if (!fre_header(out, a, "x-fastroute-win-rate", "%.6f", rate))
            return fre_fail(err, FASTROUTE_E_NOMEM, "the scratch is full");
        out->header_names[2] = "x-fastroute-router";
        out->header_values[2] = router;
        out->n_headers = 3;
        *routed = 1;
        return FASTROUTE_OK;
    }
    if (p) {
        fre_choice c;
        const int rc = fre_profile_choose(p, a, text, len, &c, err);
        if (rc != FASTROUTE_OK)
            return rc;
        out->routed = 1;
        out->model = c.model;
        out->profile = pname;
        out->quality = c.quality;
        out->cost_usd = c.cost;
        out->header_names[0] = "x-fastroute-model";
        out->header_values[0] = c.model;
        out->n_headers = 1;
        if (!fre_header(out, a, "x-fastroute-quality", "%.6f", c.quality) ||
            !fre_header(out, a, "x-fastroute-cost-usd", "%.8f", c.cost))
            return fre_fail(err, FASTROUTE_E_NOMEM, "the scratch is full");
        out->header_names[3] = "x-fastroute-profile";
        out->header_values[3] = pname;
        out->n_headers = 4;
        *routed = 1;
        return FASTROUTE_OK;
    }
    *routed = 0;
    return FASTROUTE_OK;
}

/* A scoring failure of this request only: a 400 when its text cannot be scored (as the
 * server's ValueError), else a 500 (its message is the engine's, which names no secret). */
static int fre_scoring_refusal(fastroute_error *err)
{
    if (!err)
        return FASTROUTE_E_REQUEST;
    char msg[sizeof err->message];
    snprintf(msg, sizeof msg, "%s", err->message);
    if (err->status == FASTROUTE_E_TEXT)
        return fre_refuse(err, 400, "invalid_request_error", NULL, "cannot route this request: %s", msg);
    return fre_refuse(err, 500, "server_error", NULL, "routing failed: %s", msg);
}

FASTROUTE_EXPORT int fastroute_decide_chat(const fastroute_decider *d, fastroute_scratch *s, const char *body,
                                           size_t len, fastroute_decision *out, fastroute_error *err)
{
    fre_clear(err);
    if (!d || !s || !out || (!body && len))
        return fre_fail(err, FASTROUTE_E_ARGUMENT, "fastroute_decide_chat: NULL argument");
    memset(out, 0, sizeof *out);
    if (len > d->max_body)
        return fre_refuse(err, 413, "invalid_request_error", NULL,
                          "the request body is %zu bytes, more than the %zu this router reads", len, d->max_body);
    fre_arena *a = &s->arena;
    a->used = 0;
    fre_json_use_arena(a);
    fre_chat chat;
    int rc = fre_chat_read(body ? body : "", len, &chat, err);
    if (rc == FASTROUTE_OK) {
        const char *model = chat.model;
        const char *pname;
        int routes = strncmp(model, "router-", 7) == 0 || fre_profile_named(d, model, &pname) != NULL;
        for (int i = 0; i < d->n_aliases; i++)
            routes |= strcmp(d->aliases[i].name, model) == 0;
        const char *text = NULL;
        size_t tlen = 0;
        fre_resolved r = {0};
        const char *target = fre_unalias(d, model);
        const int is_router = routes && strncmp(target, "router-", 7) == 0;
        if (is_router) /* the model string first, as request.py */
            rc = fre_router_threshold(d, target, &r.engine, &r.router, &r.threshold, err);
        if (rc == FASTROUTE_OK)
            rc = fre_routing_text(chat.messages, routes ? d->conversation : 1, a, len, &text, &tlen, err);
        int routed = 0;
        if (rc == FASTROUTE_OK && routes) {
            rc = fre_decide(d, a, model, is_router ? &r : NULL, text, tlen, &routed, out, err);
            if (rc != FASTROUTE_OK && rc != FASTROUTE_E_REQUEST && rc != FASTROUTE_E_NOMEM)
                rc = fre_scoring_refusal(err);
        }
        if (rc == FASTROUTE_OK && !routed) {
            memset(out, 0, sizeof *out);
            char *copy = fre_alloc(a, strlen(model) + 1); /* the parsed body may not outlive this call */
            if (!copy) {
                rc = fre_fail(err, FASTROUTE_E_NOMEM, "the scratch is full");
            } else {
                memcpy(copy, model, strlen(model) + 1);
                out->model = copy;
                out->header_names[0] = "x-fastroute-model";
                out->header_values[0] = copy;
                out->n_headers = 1;
            }
        }
        if (rc == FASTROUTE_OK && routed) {
            out->body = fre_chat_rewrite(body, len, out->model, a, &out->body_len);
            if (!out->body)
                rc = fre_refuse(err, 413, "invalid_request_error", NULL, "the request body is too large to rewrite here");
        }
    }
    if (chat.doc) /* values on the scratch stay (its next use overwrites them); spilled ones are freed */
        json_decref(chat.doc);
    fre_json_use_arena(NULL);
    return rc;
}

FASTROUTE_EXPORT int fastroute_decide_text(const fastroute_decider *d, fastroute_scratch *s, const char *model,
                                           const char *text, size_t len, fastroute_decision *out, fastroute_error *err)
{
    fre_clear(err);
    if (!d || !s || !model || !out || (!text && len))
        return fre_fail(err, FASTROUTE_E_ARGUMENT, "fastroute_decide_text: NULL argument");
    s->arena.used = 0;
    int routed = 0;
    const int rc = fre_decide(d, &s->arena, model, NULL, text ? text : "", len, &routed, out, err);
    if (rc == FASTROUTE_OK && !routed)
        return fre_fail(err, FASTROUTE_E_MODEL, "'%s' is no model routed here (a router model string, a profile or an "
                        "alias)", model);
    return rc;
}
