/* fastroute_engine: a router bundle opened as fastroute.load_router opens it (the manifest,
 * the tensors, the embedder it was trained with, the targets and the pair they are scored
 * as), and text -> win rate on the caller's scratch. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <stdint.h>

#include "../fastroute_ops.h"
#include "fre.h"

#ifndef FASTROUTE_VERSION_STRING
#define FASTROUTE_VERSION_STRING "0.1.0"
#endif

FASTROUTE_EXPORT const char *fastroute_version(void)
{
    return "fastroute " FASTROUTE_VERSION_STRING " api 1";
}

static char *fre_strdup(const char *s)
{
    char *d = malloc(strlen(s) + 1);
    if (d)
        memcpy(d, s, strlen(s) + 1);
    return d;
}

FASTROUTE_EXPORT void fastroute_engine_close(fastroute_engine *e)
{
    if (!e)
        return;
    if (e->close)
        e->close(e);
    for (int i = 0; i < e->n_models; i++)
        free(e->models[i]);
    free(e->models);
    free(e->strong_target);
    free(e->weak_target);
    free(e->quantiles);
    if (e->has_embedder)
        fre_embedder_close(&e->embedder);
    free(e);
}

/* The scored model of a target: scored_as, the target itself or an alias of it, else `own`. */
static int fre_scored(const fastroute_engine *e, const char *target, const char *scored_as, int own,
                      fastroute_error *err)
{
    if (scored_as) {
        const int i = fre_model_index(e, scored_as);
        if (i < 0)
            return -1 - fre_fail(err, FASTROUTE_E_MODEL, "unknown model to score '%s' as '%s'", target, scored_as);
        return i;
    }
    const int i = target ? fre_model_index(e, target) : -1;
    return i >= 0 ? i : own;
}

static int fre_targets(fastroute_engine *e, const fastroute_engine_options *o, int own_strong, int own_weak,
                       fastroute_error *err)
{
    const char *st = o && o->strong_model ? o->strong_model : (own_strong >= 0 ? e->models[own_strong] : "strong");
    const char *wt = o && o->weak_model ? o->weak_model : (own_weak >= 0 ? e->models[own_weak] : "weak");
    if (!*st || !*wt)
        return fre_fail(err, FASTROUTE_E_ARGUMENT, "a target must be a model name");
    if (strcmp(st, wt) == 0)
        return fre_fail(err, FASTROUTE_E_ARGUMENT, "the strong and weak targets are both '%s'", st);
    e->strong_target = fre_strdup(st);
    e->weak_target = fre_strdup(wt);
    if (!e->strong_target || !e->weak_target)
        return fre_fail(err, FASTROUTE_E_NOMEM, "out of memory");
    if (e->n_models == 0) { /* length, random: nothing to score as */
        e->strong = e->weak = -1;
        return FASTROUTE_OK;
    }
    e->strong = fre_scored(e, o ? o->strong_model : NULL, o ? o->strong_scored_as : NULL, own_strong, err);
    e->weak = fre_scored(e, o ? o->weak_model : NULL, o ? o->weak_scored_as : NULL, own_weak, err);
    if (e->strong < 0 || e->weak < 0)
        return FASTROUTE_E_MODEL;
    if (e->strong == e->weak)
        return fre_fail(err, FASTROUTE_E_MODEL,
                        "targets '%s' and '%s' would both be scored as '%s': say which models they are scored as",
                        st, wt, e->models[e->strong]);
    return FASTROUTE_OK;
}

static int fre_manifest_models(fastroute_engine *e, json_t *meta, const char *where, int *own_strong, int *own_weak,
                               fastroute_error *err)
{
    json_t *models = json_object_get(meta, "models");
    if (!json_is_array(models) || json_array_size(models) < 2 || json_array_size(models) > 100000)
        return fre_fail(err, FASTROUTE_E_BUNDLE, "%s: key 'models' must list the bundle's models", where);
    const int n = (int)json_array_size(models);
    e->models = calloc((size_t)n, sizeof(char *));
    if (!e->models)
        return fre_fail(err, FASTROUTE_E_NOMEM, "out of memory");
    for (int i = 0; i < n; i++) {
        json_t *m = json_array_get(models, (size_t)i);
        if (!json_is_string(m) || !json_string_length(m) || json_string_length(m) > 255)
            return fre_fail(err, FASTROUTE_E_BUNDLE, "%s: key 'models': item %d is not a model name", where, i);
        if (!(e->models[i] = fre_strdup(json_string_value(m))))
            return fre_fail(err, FASTROUTE_E_NOMEM, "out of memory");
        e->n_models = i + 1;
        for (int k = 0; k < i; k++)
            if (strcmp(e->models[k], e->models[i]) == 0)
                return fre_fail(err, FASTROUTE_E_BUNDLE, "%s: key 'models' repeats %s", where, e->models[i]);
    }
    json_t *s = json_object_get(meta, "strong_model"), *w = json_object_get(meta, "weak_model");
    *own_strong = *own_weak = -1;
    for (int i = 0; i < n; i++) {
        if (json_is_string(s) && strcmp(e->models[i], json_string_value(s)) == 0)
            *own_strong = i;
        if (json_is_string(w) && strcmp(e->models[i], json_string_value(w)) == 0)
            *own_weak = i;
    }
    if (*own_strong < 0 || *own_weak < 0)
        return fre_fail(err, FASTROUTE_E_BUNDLE, "%s: keys 'strong_model' and 'weak_model' must name models of the bundle",
                        where);
    return FASTROUTE_OK;
}

/* The stored calibration (fastroute/routers/calibration.py), for the pair it was fitted on. */
static int fre_calibration(fastroute_engine *e, json_t *meta, const char *path, fastroute_error *err)
{
    e->cal_scale = 1.0, e->cal_offset = 0.0;
    json_t *c = json_object_get(meta, "calibration");
    if (!c)
        return FASTROUTE_OK;
    json_t *pair = json_object_get(c, "pair"), *sc = json_object_get(c, "scale"), *of = json_object_get(c, "offset");
    if (!json_is_object(c) || !json_is_array(pair) || json_array_size(pair) != 2 ||
        !json_is_string(json_array_get(pair, 0)) || !json_is_string(json_array_get(pair, 1)) || !json_is_number(sc) ||
        !json_is_number(of) || !isfinite(json_number_value(sc)) || !(json_number_value(sc) > 0) ||
        !isfinite(json_number_value(of)))
        return fre_fail(err, FASTROUTE_E_BUNDLE, "%s: key 'calibration' is malformed (a pair, a scale > 0, an offset)",
                        path);
    if (e->strong >= 0 && e->weak >= 0 && strcmp(json_string_value(json_array_get(pair, 0)), e->models[e->strong]) == 0 &&
        strcmp(json_string_value(json_array_get(pair, 1)), e->models[e->weak]) == 0)
        e->cal_scale = json_number_value(sc), e->cal_offset = json_number_value(of);
    return FASTROUTE_OK;
}

static int fre_bundle_open(fastroute_engine *e, const char *dir, const fastroute_engine_options *o, fastroute_error *err)
{
    char path[1200];
    if (!fre_join(path, sizeof path, dir, "fastroute.json"))
        return fre_fail(err, FASTROUTE_E_ARGUMENT, "bundle path too long");
    json_t *meta = fre_load_json(path, err);
    if (!meta)
        return err ? err->status : FASTROUTE_E_BUNDLE;
    fre_tensors t;
    memset(&t, 0, sizeof t);
    int rc = FASTROUTE_OK, own_strong, own_weak;
    json_t *fv = json_object_get(meta, "format_version"), *kind = json_object_get(meta, "kind"),
           *emb = json_object_get(meta, "embedder");
    if (!json_is_integer(fv) || json_integer_value(fv) != 1) {
        rc = fre_fail(err, FASTROUTE_E_BUNDLE, "%s: key 'format_version': this engine reads format 1", path);
        goto done;
    }
    if (!json_is_string(kind) || (strcmp(json_string_value(kind), "mf") && strcmp(json_string_value(kind), "sw_ranking"))) {
        rc = fre_fail(err, FASTROUTE_E_BUNDLE, "%s: key 'kind': the native engine scores mf and sw_ranking bundles", path);
        goto done;
    }
    snprintf(e->kind, sizeof e->kind, "%s", json_string_value(kind));
    if ((rc = fre_manifest_models(e, meta, path, &own_strong, &own_weak, err)) != FASTROUTE_OK)
        goto done;
    json_t *ename = json_object_get(emb, "name"), *edim = json_object_get(emb, "dim"), *efp = json_object_get(emb, "fingerprint");
    if (!json_is_object(emb) || !json_is_string(ename) || strcmp(json_string_value(ename), "static") != 0) {
        rc = fre_fail(err, FASTROUTE_E_BUNDLE, "%s: key 'embedder': the native engine embeds with the static embedder only",
                      path);
        goto done;
    }
    if ((rc = fre_embedder_open(&e->embedder, o ? o->embedder_dir : NULL, err)) != FASTROUTE_OK)
        goto done;
    e->has_embedder = 1;
    if (!json_is_integer(edim) || json_integer_value(edim) != e->embedder.dim || !json_is_string(efp) ||
        strcmp(json_string_value(efp), e->embedder.fingerprint) != 0) {
        rc = fre_fail(err, FASTROUTE_E_BUNDLE, "%s: trained with embedder static (dim %lld, fingerprint %s), not the one "
                      "in embedder_dir (dim %d, fingerprint %s)", path, json_is_integer(edim) ? (long long)json_integer_value(edim) : -1LL,
                      json_is_string(efp) ? json_string_value(efp) : "?", e->embedder.dim, e->embedder.fingerprint);
        goto done;
    }
    if ((rc = fre_targets(e, o, own_strong, own_weak, err)) != FASTROUTE_OK)
        goto done;
    if ((rc = fre_calibration(e, meta, path, err)) != FASTROUTE_OK)
        goto done;
    fre_join(path, sizeof path, dir, "weights.safetensors");
    if ((rc = fre_tensors_load(path, &t, err)) != FASTROUTE_OK)
        goto done;
    rc = strcmp(e->kind, "mf") == 0 ? fre_mf_open(e, meta, &t, dir, err) : fre_sw_open(e, meta, &t, dir, err);
    if (rc != FASTROUTE_OK)
        goto done;
    /* The stored quantiles belong to the bundle's own pair. */
    json_t *qpair = json_object_get(meta, "win_rate_quantiles_pair");
    if (e->strong == own_strong && e->weak == own_weak && json_is_array(qpair) && json_array_size(qpair) == 2 &&
        json_is_string(json_array_get(qpair, 0)) && json_is_string(json_array_get(qpair, 1)) &&
        strcmp(json_string_value(json_array_get(qpair, 0)), e->models[own_strong]) == 0 &&
        strcmp(json_string_value(json_array_get(qpair, 1)), e->models[own_weak]) == 0) {
        for (int i = 0; i < t.n; i++)
            if (strcmp(t.items[i].name, "win_rate_quantiles") == 0) {
                const fre_tensor *q = fre_tensor_get(&t, "win_rate_quantiles", FRE_F64, 1, NULL, err);
                if (!q || q->count < 2) {
                    rc = fre_fail(err, FASTROUTE_E_BUNDLE, "%s: tensor 'win_rate_quantiles' must be float64, 2 or more", path);
                    goto done;
                }
                e->quantiles = malloc(sizeof(double) * (size_t)q->count);
                if (!e->quantiles) {
                    rc = fre_fail(err, FASTROUTE_E_NOMEM, "out of memory");
                    goto done;
                }
                memcpy(e->quantiles, q->data, sizeof(double) * (size_t)q->count);
                e->n_quantiles = (int)q->count;
            }
    }
done:
    fre_tensors_free(&t);
    json_decref(meta);
    return rc;
}

FASTROUTE_EXPORT int fastroute_engine_open(const char *spec, const fastroute_engine_options *o, fastroute_engine **out,
                                           fastroute_error *err)
{
    fre_clear(err);
    if (!spec || !out)
        return fre_fail(err, FASTROUTE_E_ARGUMENT, "fastroute_engine_open needs a spec and an out pointer");
    *out = NULL;
    fre_json_init();
    fr_simd_level(); /* detected once, before any thread scores */
    fastroute_engine *e = calloc(1, sizeof *e);
    if (!e)
        return fre_fail(err, FASTROUTE_E_NOMEM, "out of memory");
    int rc;
    if (strcmp(spec, "length") == 0 || strcmp(spec, "random") == 0) {
        snprintf(e->kind, sizeof e->kind, "%s", spec);
        e->seed = o ? o->seed : 0;
        e->half_chars = o && o->half_chars > 0 ? o->half_chars : 500.0;
        if (!isfinite(e->half_chars))
            rc = fre_fail(err, FASTROUTE_E_ARGUMENT, "half_chars must be a finite number of characters > 0");
        else if ((rc = fre_targets(e, o, -1, -1, err)) == FASTROUTE_OK)
            rc = fre_simple_open(e, spec, err);
    } else {
        struct stat st;
        if (stat(spec, &st) != 0 || !S_ISDIR(st.st_mode))
            rc = fre_fail(err, FASTROUTE_E_BUNDLE, "'%s' is neither a bundle directory nor a router name (length, random)",
                          spec);
        else
            rc = fre_bundle_open(e, spec, o, err);
    }
    if (rc != FASTROUTE_OK) {
        fastroute_engine_close(e);
        return rc;
    }
    *out = e;
    return FASTROUTE_OK;
}

FASTROUTE_EXPORT const char *fastroute_engine_kind(const fastroute_engine *e) { return e ? e->kind : NULL; }
FASTROUTE_EXPORT const char *fastroute_engine_strong_model(const fastroute_engine *e) { return e ? e->strong_target : NULL; }
FASTROUTE_EXPORT const char *fastroute_engine_weak_model(const fastroute_engine *e) { return e ? e->weak_target : NULL; }

int fre_engine_win_rate(const fastroute_engine *e, fre_arena *a, const char *text, size_t len, double *out,
                        fastroute_error *err)
{
    if (fre_utf8_invalid_at(text, len) >= 0)
        return fre_fail(err, FASTROUTE_E_TEXT, "the text is not valid UTF-8");
    const size_t mark = a->used;
    float *emb = NULL;
    int rc = FASTROUTE_OK;
    if (e->has_embedder) {
        emb = fre_alloc(a, sizeof(float) * (size_t)e->embedder.dim);
        if (!emb)
            return fre_fail(err, FASTROUTE_E_NOMEM, "the scratch is too small for this engine");
        rc = fre_embed(&e->embedder, a, text, len, emb, err);
    }
    if (rc == FASTROUTE_OK)
        rc = e->win_rates(e, a, text, len, emb, out, err);
    a->used = mark;
    return rc;
}

FASTROUTE_EXPORT int fastroute_engine_win_rates(const fastroute_engine *e, fastroute_scratch *s,
                                                const char *const *texts, const size_t *lens, size_t n, double *out,
                                                fastroute_error *err)
{
    fre_clear(err);
    if (!e || !s || (n && (!texts || !lens || !out)))
        return fre_fail(err, FASTROUTE_E_ARGUMENT, "fastroute_engine_win_rates: NULL argument");
    for (size_t i = 0; i < n; i++) {
        if (!texts[i] && lens[i])
            return fre_fail(err, FASTROUTE_E_ARGUMENT, "text %zu is NULL", i);
        s->arena.used = 0;
        const int rc = fre_engine_win_rate(e, &s->arena, texts[i] ? texts[i] : "", lens[i], &out[i], err);
        if (rc != FASTROUTE_OK) {
            if (err) { /* name the text */
                char msg[sizeof err->message];
                snprintf(msg, sizeof msg, "text %zu: %s", i, err->message);
                memcpy(err->message, msg, sizeof msg);
            }
            return rc;
        }
    }
    return FASTROUTE_OK;
}

FASTROUTE_EXPORT int fastroute_engine_threshold_for(const fastroute_engine *e, double share, double *threshold,
                                                    fastroute_error *err)
{
    fre_clear(err);
    if (!e || !threshold)
        return fre_fail(err, FASTROUTE_E_ARGUMENT, "fastroute_engine_threshold_for: NULL argument");
    if (!(share >= 0.0 && share <= 1.0))
        return fre_fail(err, FASTROUTE_E_ARGUMENT, "strong_pct must be a share in [0, 1], got %g", share);
    if (strcmp(e->kind, "random") == 0) { /* uniform win rates */
        *threshold = 1.0 - share;
        return FASTROUTE_OK;
    }
    if (!e->quantiles)
        return fre_fail(err, FASTROUTE_E_CALIBRATION, "this %s router stores no win-rate quantiles for %s vs %s", e->kind,
                        e->strong >= 0 ? e->models[e->strong] : e->strong_target,
                        e->weak >= 0 ? e->models[e->weak] : e->weak_target);
    /* np.interp(1 - share, np.linspace(0, 1, Q), q) */
    const double x = 1.0 - share;
    const int Q = e->n_quantiles;
    const double step = 1.0 / (double)(Q - 1);
    if (x <= 0.0) {
        *threshold = e->quantiles[0];
        return FASTROUTE_OK;
    }
    if (x >= 1.0) {
        *threshold = e->quantiles[Q - 1];
        return FASTROUTE_OK;
    }
    int j = (int)(x / step);
    if (j > Q - 2)
        j = Q - 2;
    while (j > 0 && (double)j * step > x)
        j--;
    while (j < Q - 2 && (double)(j + 1) * step <= x)
        j++;
    const double x0 = (double)j * step, x1 = j + 1 == Q - 1 ? 1.0 : (double)(j + 1) * step;
    const double slope = (e->quantiles[j + 1] - e->quantiles[j]) / (x1 - x0);
    *threshold = slope * (x - x0) + e->quantiles[j];
    if (x == x0) /* numpy returns the sample itself at a sample point */
        *threshold = e->quantiles[j];
    return FASTROUTE_OK;
}

FASTROUTE_EXPORT fastroute_scratch *fastroute_scratch_for_engine(const fastroute_engine *e)
{
    if (!e)
        return NULL;
    const size_t bytes = e->scratch_bytes + (e->has_embedder ? fre_embed_scratch(&e->embedder) + 4 * e->embedder.dim : 0) +
                         4096;
    return fre_scratch_new(bytes);
}
