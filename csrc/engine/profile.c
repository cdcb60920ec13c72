/* Routing profiles natively (fastroute/profile/): a router's strengths over N candidate models
 * with prices, their field win rates as quality, expected costs, and a policy's choice, with
 * the Python package's validation of a profile document and its tie-breaking. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <stdint.h>

#include "../fastroute_ops.h"
#include "../fr_workspace.h"
#include "fre.h"

enum { FRE_MAX_VALUE, FRE_WITHIN_MARGIN, FRE_UNDER_BUDGET };
static const char *const FRE_POLICIES[] = {"max_value", "within_margin", "under_budget"};

struct fre_profile {
    fastroute_engine *engine;
    int k;
    char **names;
    int *cols;
    double *in, *out; /* USD per token */
    int policy;
    double value, chars_per_token;
    long output_tokens;
};

void fre_profile_close(fre_profile *p)
{
    if (!p)
        return;
    fastroute_engine_close(p->engine);
    for (int i = 0; i < p->k; i++)
        free(p->names ? p->names[i] : NULL);
    free(p->names), free(p->cols), free(p->in), free(p->out);
    free(p);
}

const char *fre_profile_policy(const fre_profile *p) { return FRE_POLICIES[p->policy]; }

int fre_profile_names(const fre_profile *p, const char *const **names)
{
    *names = (const char *const *)p->names;
    return p->k;
}

static int fre_price(json_t *c, const char *key, const char *name, const char *where, int i, double *out,
                     fastroute_error *err)
{
    json_t *v = json_object_get(c, key);
    if (!v) {
        *out = 0.0;
        return FASTROUTE_OK;
    }
    if (!json_is_number(v) || !isfinite(json_number_value(v)) || json_number_value(v) < 0)
        return fre_fail(err, FASTROUTE_E_BUNDLE,
                        "%s: candidates[%d]: candidate '%s': %s must be a finite number >= 0 (USD per 1M tokens)", where,
                        i, name, key);
    *out = json_number_value(v);
    return FASTROUTE_OK;
}

int fre_profile_open(fre_profile **out, const json_t *doc, const char *where, const char *embedder_dir,
                     fastroute_error *err)
{
    *out = NULL;
    if (!json_is_object(doc))
        return fre_fail(err, FASTROUTE_E_BUNDLE, "%s: a routing profile is a table/object", where);
    static const char *const KEYS[] = {"router", "policy", "value", "output_tokens", "chars_per_token", "candidates",
                                       "calibration"};
    const char *key;
    json_t *val;
    json_object_foreach((json_t *)doc, key, val) {
        int known = 0;
        for (size_t i = 0; i < sizeof KEYS / sizeof KEYS[0]; i++)
            known |= strcmp(key, KEYS[i]) == 0;
        if (!known)
            return fre_fail(err, FASTROUTE_E_BUNDLE, "%s: unknown key '%s' in a profile", where, key);
    }
    json_t *cands = json_object_get(doc, "candidates"), *router = json_object_get(doc, "router");
    if (!json_is_array(cands))
        return fre_fail(err, FASTROUTE_E_BUNDLE, "%s: key 'candidates': expected a list of tables", where);
    if (json_array_size(cands) < 2)
        return fre_fail(err, FASTROUTE_E_BUNDLE, "%s: a routing profile needs at least two candidates, got %zu", where,
                        json_array_size(cands));
    if (!json_is_string(router) || !json_string_length(router))
        return fre_fail(err, FASTROUTE_E_BUNDLE, "%s: key 'router': expected a bundle directory", where);
    fre_profile *p = calloc(1, sizeof *p);
    if (!p)
        return fre_fail(err, FASTROUTE_E_NOMEM, "out of memory");
    const int k = (int)json_array_size(cands);
    p->names = calloc((size_t)k, sizeof(char *));
    p->cols = calloc((size_t)k, sizeof(int));
    p->in = calloc((size_t)k, sizeof(double));
    p->out = calloc((size_t)k, sizeof(double));
    p->k = k;
    int rc = FASTROUTE_OK;
    if (!p->names || !p->cols || !p->in || !p->out) {
        rc = fre_fail(err, FASTROUTE_E_NOMEM, "out of memory");
        goto done;
    }
    fastroute_engine_options eo = {0};
    eo.embedder_dir = embedder_dir;
    if ((rc = fastroute_engine_open(json_string_value(router), &eo, &p->engine, err)) != FASTROUTE_OK)
        goto done;
    if (!p->engine->strengths) {
        rc = fre_fail(err, FASTROUTE_E_BUNDLE, "%s: the %s router scores only its pair; a routing profile needs mf or "
                      "sw_ranking", where, p->engine->kind);
        goto done;
    }
    for (int i = 0; i < k; i++) {
        json_t *c = json_array_get(cands, (size_t)i), *name = json_object_get(c, "name"),
               *scored = json_object_get(c, "scored_as");
        if (!json_is_object(c) || !json_is_string(name) || !json_string_length(name)) {
            rc = fre_fail(err, FASTROUTE_E_BUNDLE, "%s: candidates[%d]: expected 'name' and any of input_price, "
                          "output_price, scored_as", where, i);
            goto done;
        }
        json_object_foreach(c, key, val) {
            if (strcmp(key, "name") && strcmp(key, "input_price") && strcmp(key, "output_price") && strcmp(key, "scored_as")) {
                rc = fre_fail(err, FASTROUTE_E_BUNDLE, "%s: candidates[%d]: unknown key '%s'", where, i, key);
                goto done;
            }
        }
        if (!(p->names[i] = strdup(json_string_value(name)))) {
            rc = fre_fail(err, FASTROUTE_E_NOMEM, "out of memory");
            goto done;
        }
        for (int j = 0; j < i; j++)
            if (strcmp(p->names[j], p->names[i]) == 0) {
                rc = fre_fail(err, FASTROUTE_E_BUNDLE, "%s: candidate names repeat: %s", where, p->names[i]);
                goto done;
            }
        double pin, pout;
        if ((rc = fre_price(c, "input_price", p->names[i], where, i, &pin, err)) != FASTROUTE_OK ||
            (rc = fre_price(c, "output_price", p->names[i], where, i, &pout, err)) != FASTROUTE_OK)
            goto done;
        p->in[i] = pin / 1e6;
        p->out[i] = pout / 1e6;
        const char *target = json_is_string(scored) ? json_string_value(scored) : p->names[i];
        p->cols[i] = fre_model_index(p->engine, target);
        if (p->cols[i] < 0) {
            rc = fre_fail(err, FASTROUTE_E_MODEL, "%s: unknown model for candidate '%s' (set scored_as): '%s'", where,
                          p->names[i], target);
            goto done;
        }
    }
    json_t *pol = json_object_get(doc, "policy"), *value = json_object_get(doc, "value"),
           *ot = json_object_get(doc, "output_tokens"), *cpt = json_object_get(doc, "chars_per_token");
    p->policy = -1;
    const char *pname = pol ? (json_is_string(pol) ? json_string_value(pol) : "") : "max_value";
    for (int i = 0; i < 3; i++)
        if (strcmp(pname, FRE_POLICIES[i]) == 0)
            p->policy = i;
    if (p->policy < 0) {
        rc = fre_fail(err, FASTROUTE_E_BUNDLE, "%s: unknown policy; known: max_value, within_margin, under_budget", where);
        goto done;
    }
    p->value = value ? (json_is_number(value) ? json_number_value(value) : NAN) : 0.0;
    p->output_tokens = ot ? (json_is_integer(ot) ? (long)json_integer_value(ot) : -1) : 256;
    p->chars_per_token = cpt ? (json_is_number(cpt) ? json_number_value(cpt) : NAN) : 4.0;
    if (!(p->value >= 0) || !isfinite(p->value)) {
        rc = fre_fail(err, FASTROUTE_E_BUNDLE, "%s: key 'value' must be a finite number >= 0", where);
        goto done;
    }
    if (p->output_tokens < 0 || p->output_tokens > 100000000 || !(p->chars_per_token > 0) || !isfinite(p->chars_per_token)) {
        rc = fre_fail(err, FASTROUTE_E_BUNDLE, "%s: output_tokens must be >= 0 and chars_per_token > 0", where);
        goto done;
    }
done:
    if (rc != FASTROUTE_OK)
        fre_profile_close(p);
    else
        *out = p;
    return rc;
}

size_t fre_profile_scratch(const fre_profile *p)
{
    return p->engine->scratch_bytes + fre_embed_scratch(&p->engine->embedder) +
           sizeof(double) * (size_t)(4 * p->k) + sizeof(float) * (size_t)(p->k * (1 + p->engine->embedder.dim)) +
           4 * (size_t)p->engine->embedder.dim + 1024;
}

/* The first column with the smallest primary, ties to the smallest secondary (policy.py). */
static int fre_first_best(const double *primary, const double *secondary, int k)
{
    double best = INFINITY;
    for (int j = 0; j < k; j++)
        best = primary[j] < best ? primary[j] : best;
    int pick = 0;
    double sec = INFINITY;
    for (int j = 0; j < k; j++) {
        const double v = primary[j] == best ? secondary[j] : INFINITY;
        if (j == 0 || v < sec)
            pick = j, sec = v;
    }
    return pick;
}

int fre_profile_choose(const fre_profile *p, fre_arena *a, const char *text, size_t len, fre_choice *out,
                       fastroute_error *err)
{
    const int k = p->k;
    const size_t mark = a->used;
    float *emb = fre_alloc(a, sizeof(float) * (size_t)p->engine->embedder.dim);
    double *s = fre_alloc(a, sizeof(double) * (size_t)k), *q = fre_alloc(a, sizeof(double) * (size_t)k),
           *c = fre_alloc(a, sizeof(double) * (size_t)k), *t = fre_alloc(a, sizeof(double) * (size_t)k);
    float *fs = fre_alloc(a, sizeof(float) * (size_t)k);
    if (!emb || !s || !q || !c || !t || !fs) {
        a->used = mark;
        return fre_fail(err, FASTROUTE_E_NOMEM, "the scratch is too small for the profile");
    }
    int rc = fre_embed(&p->engine->embedder, a, text, len, emb, err);
    if (rc == FASTROUTE_OK)
        rc = p->engine->strengths(p->engine, a, emb, p->cols, k, s, err);
    if (rc == FASTROUTE_OK && fr_field_win_rates_ws(s, 1, k, k, q, k, fs) != FR_OK)
        rc = fre_fail(err, FASTROUTE_E_SCORING, "the field win rates failed");
    if (rc == FASTROUTE_OK) {
        const double chars = (double)fre_utf8_count(text, len);
        const double tokens = ceil(chars / p->chars_per_token);
        int ok = 1;
        for (int j = 0; j < k; j++) {
            c[j] = tokens * p->in[j] + (double)p->output_tokens * p->out[j];
            ok &= isfinite(q[j]) && isfinite(c[j]);
        }
        if (!ok) {
            a->used = mark;
            return fre_fail(err, FASTROUTE_E_SCORING, "quality and cost must be finite, and cost >= 0");
        }
        int pick;
        if (p->policy == FRE_MAX_VALUE) {
            for (int j = 0; j < k; j++)
                t[j] = -(q[j] - p->value * c[j]);
            pick = fre_first_best(t, c, k);
        } else if (p->policy == FRE_WITHIN_MARGIN) {
            double qmax = -INFINITY;
            for (int j = 0; j < k; j++)
                qmax = q[j] > qmax ? q[j] : qmax;
            for (int j = 0; j < k; j++)
                t[j] = q[j] >= qmax - p->value ? c[j] : INFINITY, s[j] = -q[j];
            pick = fre_first_best(t, s, k);
        } else {
            int any = 0;
            for (int j = 0; j < k; j++)
                t[j] = c[j] <= p->value ? -q[j] : INFINITY, any |= c[j] <= p->value, s[j] = -q[j];
            pick = any ? fre_first_best(t, c, k) : fre_first_best(c, s, k);
        }
        out->model = p->names[pick];
        out->quality = q[pick];
        out->cost = c[pick];
    }
    a->used = mark;
    return rc;
}
