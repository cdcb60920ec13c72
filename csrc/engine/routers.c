/* The router kinds natively: mf (fastroute/routers/mf.py), sw_ranking (routers/sw_ranking.py,
 * sw/arena.py, sw/engine.py), length and random. Each reads what its Python class reads from
 * the bundle, checks it, and scores one text at a time through the same C kernels the Python
 * package calls (csrc/*.c), on the caller's thread and scratch. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <stdint.h>

#include "../fastroute_ops.h"
#include "../fr_constants.h"
#include "../fr_workspace.h"
#include "fre.h"

/* ---- mf: p = sigmoid(E u), u = L[s] - L[w], L = (normalize(P) * w) W ---- */

typedef struct {
    int dim;       /* the embedding width */
    float *u;      /* [dim] */
    float *L;      /* [M, dim]: every model's logit row, for routing profiles */
} fre_mf;

static void fre_mf_close(fastroute_engine *e)
{
    fre_mf *m = e->impl;
    if (m) {
        free(m->u);
        free(m->L);
        free(m);
    }
}

static int fre_mf_win_rates(const fastroute_engine *e, fre_arena *a, const char *text, size_t len, const float *emb,
                            double *out, fastroute_error *err)
{
    (void)a, (void)text, (void)len;
    const fre_mf *m = e->impl;
    float p;
    if (fr_gemv_sigmoid_f32(emb, 1, m->dim, m->dim, m->u, e->cal_offset, &p, 1) != FR_OK)
        return fre_fail(err, FASTROUTE_E_SCORING, "mf: the GEMV failed");
    *out = (double)p;
    return FASTROUTE_OK;
}

static int fre_mf_strengths(const fastroute_engine *e, fre_arena *a, const float *emb, const int *cols, int n,
                            double *out, fastroute_error *err)
{
    const fre_mf *m = e->impl;
    float *s = fre_alloc(a, sizeof(float) * (size_t)n);
    float *rows = fre_alloc(a, sizeof(float) * (size_t)n * (size_t)m->dim);
    if (!s || !rows)
        return fre_fail(err, FASTROUTE_E_NOMEM, "the scratch is too small for the profile");
    for (int k = 0; k < n; k++)
        memcpy(rows + (size_t)k * m->dim, m->L + (size_t)cols[k] * m->dim, sizeof(float) * (size_t)m->dim);
    if (fr_linear_scores_f32(emb, 1, m->dim, m->dim, rows, n, m->dim, s, n, 1) != FR_OK)
        return fre_fail(err, FASTROUTE_E_SCORING, "mf: the linear scores failed");
    for (int k = 0; k < n; k++)
        out[k] = (double)s[k];
    return FASTROUTE_OK;
}

int fre_mf_open(fastroute_engine *e, json_t *meta, fre_tensors *t, const char *where, fastroute_error *err)
{
    json_t *dim_v = json_object_get(meta, "dim"), *proj_v = json_object_get(meta, "use_proj");
    if (!json_is_integer(dim_v) || json_integer_value(dim_v) < 1 || json_integer_value(dim_v) > (1 << 16) ||
        !json_is_boolean(proj_v))
        return fre_fail(err, FASTROUTE_E_BUNDLE, "%s: key 'dim' must be an integer >= 1 and 'use_proj' a boolean",
                        where);
    const int64_t M = e->n_models, D = json_integer_value(dim_v), d = e->embedder.dim;
    const int64_t pshape[2] = {M, D}, cshape[1] = {D}, wshape[2] = {D, d};
    const fre_tensor *P = fre_tensor_get(t, "P", FRE_F32, 2, pshape, err);
    const fre_tensor *w = P ? fre_tensor_get(t, "classifier", FRE_F32, 1, cshape, err) : NULL;
    const fre_tensor *W = NULL;
    if (!w)
        return FASTROUTE_E_BUNDLE;
    if (json_is_true(proj_v)) {
        if (!(W = fre_tensor_get(t, "text_proj", FRE_F32, 2, wshape, err)))
            return FASTROUTE_E_BUNDLE;
    } else if (D != d) {
        return fre_fail(err, FASTROUTE_E_BUNDLE, "%s: without a projection the model dim %lld must equal the "
                        "embedding dim %lld", where, (long long)D, (long long)d);
    }
    fre_mf *m = calloc(1, sizeof *m);
    double *L = m ? calloc((size_t)(M * d), sizeof(double)) : NULL;
    double *row = L ? calloc((size_t)D, sizeof(double)) : NULL;
    if (m)
        m->u = malloc(sizeof(float) * (size_t)d), m->L = malloc(sizeof(float) * (size_t)(M * d));
    if (!m || !L || !row || !m->u || !m->L) {
        free(L), free(row);
        if (m)
            free(m->u), free(m->L), free(m);
        return fre_fail(err, FASTROUTE_E_NOMEM, "%s: out of memory", where);
    }
    const float *Pf = P->data, *wf = w->data, *Wf = W ? W->data : NULL;
    for (int64_t i = 0; i < M; i++) {
        double nrm = 0.0; /* torch.nn.functional.normalize: x / max(|x|, 1e-12), in float64 */
        for (int64_t k = 0; k < D; k++)
            nrm += (double)Pf[i * D + k] * (double)Pf[i * D + k];
        const double den = fmax(sqrt(nrm), 1e-12);
        for (int64_t k = 0; k < D; k++)
            row[k] = (double)Pf[i * D + k] / den * (double)wf[k];
        for (int64_t j = 0; j < d; j++) {
            double acc = 0.0;
            if (Wf)
                for (int64_t k = 0; k < D; k++)
                    acc += row[k] * (double)Wf[k * d + j];
            else
                acc = row[j];
            L[i * d + j] = acc;
        }
    }
    for (int64_t j = 0; j < M * d; j++)
        m->L[j] = (float)L[j];
    if (e->strong >= 0 && e->weak >= 0) /* a calibration is folded in as MFRouter does: u scaled, offset the bias */
        for (int64_t j = 0; j < d; j++) {
            const double diff = L[(int64_t)e->strong * d + j] - L[(int64_t)e->weak * d + j];
            m->u[j] = (float)(e->cal_scale != 1.0 ? e->cal_scale * diff : diff);
        }
    free(L), free(row);
    m->dim = (int)d;
    e->impl = m;
    e->win_rates = fre_mf_win_rates;
    e->strengths = fre_mf_strengths;
    e->close = fre_mf_close;
    e->scratch_bytes = sizeof(float) * (size_t)(M + M * d) + 64;
    return FASTROUTE_OK;
}

/* ---- sw_ranking: similarity weights -> S = A w -> Bradley-Terry over tiers ---- */

typedef struct {
    int64_t U, d, K;
    int T;
    int half;          /* arena stored as float16 */
    void *arena;       /* [U, d] unit rows */
    int64_t *indptr;   /* A: K x U CSR */
    int32_t *indices;
    float *values;
    float gamma;       /* exp weighting's sharpness; 0: RouteLLM's weights */
    int *tier_of_model;/* [M] index into the used tiers */
    int strong_tier, weak_tier;
} fre_sw;

static void fre_sw_close(fastroute_engine *e)
{
    fre_sw *s = e->impl;
    if (s) {
        free(s->arena);
        free(s->indptr);
        free(s->indices);
        free(s->values);
        free(s->tier_of_model);
        free(s);
    }
}

/* beta [T] for one embedding. */
static int fre_sw_betas(const fre_sw *s, fre_arena *a, const float *emb, double *beta, fastroute_error *err)
{
    const size_t mark = a->used;
    float *qn = fre_alloc(a, sizeof(float) * (size_t)s->d), *sims = fre_alloc(a, sizeof(float) * (size_t)s->U),
          *w = fre_alloc(a, sizeof(float) * (size_t)s->U);
    double *S = fre_alloc(a, sizeof(double) * (size_t)s->K),
           *work = fre_alloc(a, sizeof(double) * (size_t)FR_BT_WORK((int64_t)s->T));
    if (!qn || !sims || !w || !S || !work) {
        a->used = mark;
        return fre_fail(err, FASTROUTE_E_NOMEM, "the scratch is too small for sw_ranking");
    }
    float smax;
    int rc = s->half ? fr_cosine_sim_f16_ws(emb, 1, s->d, s->arena, s->U, s->d, s->d, sims, s->U, qn)
                     : fr_cosine_sim_f32_ws(emb, 1, s->d, s->arena, s->U, s->d, s->d, sims, s->U, qn);
    if (rc == FR_OK)
        rc = fr_sw_stats_ws(sims, 1, s->U, s->U, s->indptr, s->indices, s->values, s->K, s->gamma, S, &smax, w);
    if (rc != FR_OK) {
        a->used = mark;
        return fre_fail(err, FASTROUTE_E_SCORING, "sw_ranking: the similarity kernels failed (%d)", rc);
    }
    int failed = fr_bt_fit_ws(S, 1, s->T, FR_BT_RIDGE, FR_BT_TOL, FR_BT_MAX_ITER, beta, work);
    if (failed > 0) /* the Python path re-solves such a row with the numpy solver; here: more iterations */
        failed = fr_bt_fit_ws(S, 1, s->T, FR_BT_RIDGE, FR_BT_TOL, 20 * FR_BT_MAX_ITER, beta, work);
    a->used = mark;
    if (failed != 0)
        return fre_fail(err, FASTROUTE_E_SCORING, "sw_ranking: the Bradley-Terry fit did not converge");
    return FASTROUTE_OK;
}

static double fre_sigmoid(double x) { return 0.5 * (1.0 + tanh(0.5 * x)); } /* ops/reference_bt.py */

static int fre_sw_win_rates(const fastroute_engine *e, fre_arena *a, const char *text, size_t len, const float *emb,
                            double *out, fastroute_error *err)
{
    (void)text, (void)len;
    const fre_sw *s = e->impl;
    if (s->strong_tier == s->weak_tier) { /* one tier: z = 0 for every prompt, as the Python router */
        *out = e->cal_scale == 1.0 && e->cal_offset == 0.0 ? 0.5 : fre_sigmoid(e->cal_scale * 0.0 + e->cal_offset);
        return FASTROUTE_OK;
    }
    const size_t mark = a->used;
    double *beta = fre_alloc(a, sizeof(double) * (size_t)s->T);
    if (!beta)
        return fre_fail(err, FASTROUTE_E_NOMEM, "the scratch is too small for sw_ranking");
    const int rc = fre_sw_betas(s, a, emb, beta, err);
    if (rc == FASTROUTE_OK) {
        const double z = FR_LN10 * (beta[s->strong_tier] - beta[s->weak_tier]);
        *out = fre_sigmoid(e->cal_scale == 1.0 && e->cal_offset == 0.0 ? z : e->cal_scale * z + e->cal_offset);
    }
    a->used = mark;
    return rc;
}

static int fre_sw_strengths(const fastroute_engine *e, fre_arena *a, const float *emb, const int *cols, int n,
                            double *out, fastroute_error *err)
{
    const fre_sw *s = e->impl;
    const size_t mark = a->used;
    double *beta = fre_alloc(a, sizeof(double) * (size_t)s->T);
    if (!beta)
        return fre_fail(err, FASTROUTE_E_NOMEM, "the scratch is too small for sw_ranking");
    const int rc = fre_sw_betas(s, a, emb, beta, err);
    for (int k = 0; rc == FASTROUTE_OK && k < n; k++)
        out[k] = FR_LN10 * beta[s->tier_of_model[cols[k]]];
    a->used = mark;
    return rc;
}

typedef struct {
    int64_t key, order;
    double value;
} fre_triplet;

static int fre_triplet_cmp(const void *x, const void *y)
{
    const fre_triplet *a = x, *b = y;
    if (a->key != b->key)
        return a->key < b->key ? -1 : 1;
    return a->order < b->order ? -1 : a->order > b->order;
}

/* A of fastroute/sw/bradley_terry.py:stat_matrix for the tier fit (sw/arena.py:tier_statistics),
 * summed in the order numpy sums it (np.bincount over the triplets in order), then float32. */
static int fre_sw_matrix(fre_sw *s, const int64_t *ta, const int64_t *tb, const double *y, const double *wt, int64_t N,
                         const int64_t *prompt, const char *where, fastroute_error *err)
{
    const int64_t T = s->T, U = s->U, K = T * T + 2 * T;
    fre_triplet *trip = malloc(sizeof *trip * (size_t)(2 * N > 0 ? 2 * N : 1));
    if (!trip)
        return fre_fail(err, FASTROUTE_E_NOMEM, "%s: out of memory", where);
    int64_t n = 0;
    for (int half = 0; half < 2; half++)
        for (int64_t i = 0; i < N; i++) {
            const int same = ta[i] == tb[i];
            const int64_t row = half == 0 ? (same ? T * T + ta[i] : ta[i] * T + tb[i])
                                          : (same ? T * T + T + ta[i] : tb[i] * T + ta[i]);
            const double v = half == 0 ? 2.0 * y[i] * wt[i] : 2.0 * (1.0 - y[i]) * wt[i];
            if (v != 0.0)
                trip[n] = (fre_triplet){row * (U > 0 ? U : 1) + prompt[i], n, v}, n++;
        }
    qsort(trip, (size_t)n, sizeof *trip, fre_triplet_cmp);
    int64_t nnz = 0;
    for (int64_t i = 0; i < n; i++)
        nnz += i == 0 || trip[i].key != trip[i - 1].key;
    s->K = K;
    s->indptr = calloc((size_t)(K + 1), sizeof(int64_t));
    s->indices = malloc(sizeof(int32_t) * (size_t)(nnz ? nnz : 1));
    s->values = malloc(sizeof(float) * (size_t)(nnz ? nnz : 1));
    if (!s->indptr || !s->indices || !s->values) {
        free(trip);
        return fre_fail(err, FASTROUTE_E_NOMEM, "%s: out of memory", where);
    }
    int64_t j = -1;
    double acc = 0.0;
    for (int64_t i = 0; i < n; i++) {
        if (i == 0 || trip[i].key != trip[i - 1].key) {
            if (j >= 0)
                s->values[j] = (float)acc;
            j++;
            acc = 0.0;
            const int64_t row = trip[i].key / (U > 0 ? U : 1);
            s->indices[j] = (int32_t)(trip[i].key % (U > 0 ? U : 1));
            s->indptr[row + 1]++;
        }
        acc += trip[i].value;
    }
    if (j >= 0)
        s->values[j] = (float)acc;
    for (int64_t k = 0; k < K; k++)
        s->indptr[k + 1] += s->indptr[k];
    free(trip);
    return FASTROUTE_OK;
}

static const fre_tensor *fre_index_tensor(const fre_tensors *t, const char *name, int64_t n, int64_t bound,
                                          const char *where, fastroute_error *err)
{
    for (int i = 0; i < t->n; i++) {
        const fre_tensor *x = &t->items[i];
        if (strcmp(x->name, name) != 0)
            continue;
        const int integer = x->dtype != FRE_F16 && x->dtype != FRE_F32 && x->dtype != FRE_F64;
        if (!integer || x->ndim != 1 || (n >= 0 && x->count != n)) {
            fre_fail(err, FASTROUTE_E_BUNDLE, "%s: tensor '%s' must be a vector of %lld integers", where, name,
                     (long long)n);
            return NULL;
        }
        for (int64_t k = 0; k < x->count; k++) {
            const int64_t v = fre_tensor_int(x, k);
            if (v < 0 || v >= bound) {
                fre_fail(err, FASTROUTE_E_BUNDLE, "%s: tensor '%s' holds %lld, outside [0, %lld)", where, name,
                         (long long)v, (long long)bound);
                return NULL;
            }
        }
        return x;
    }
    fre_fail(err, FASTROUTE_E_BUNDLE, "%s: tensor '%s' is missing", where, name);
    return NULL;
}

int fre_sw_open(fastroute_engine *e, json_t *meta, fre_tensors *t, const char *where, fastroute_error *err)
{
    json_t *tiers = json_object_get(meta, "tiers"), *sharp = json_object_get(meta, "sharpness"),
           *balance = json_object_get(meta, "balance"), *nprobe = json_object_get(meta, "nprobe");
    if (!json_is_object(tiers))
        return fre_fail(err, FASTROUTE_E_BUNDLE, "%s: key 'tiers' must map every model to its tier", where);
    if (nprobe && !json_is_null(nprobe))
        return fre_fail(err, FASTROUTE_E_BUNDLE, "%s: an IVF-probed sw_ranking bundle (nprobe) is not scored natively; "
                        "save its exact router (router.exact())", where);
    if (sharp && !json_is_null(sharp) && !(json_is_number(sharp) && json_number_value(sharp) > 0 &&
                                           isfinite(json_number_value(sharp))))
        return fre_fail(err, FASTROUTE_E_BUNDLE, "%s: key 'sharpness' must be a number > 0 or null", where);
    const char *bal = json_is_string(balance) ? json_string_value(balance) : "battle";
    if (balance && !json_is_null(balance) && strcmp(bal, "battle") != 0 && strcmp(bal, "prompt") != 0)
        return fre_fail(err, FASTROUTE_E_BUNDLE, "%s: key 'balance' must be \"battle\" or \"prompt\"", where);
    const int64_t M = e->n_models, d = e->embedder.dim;
    /* The arena: float16 or float32 unit rows. */
    const fre_tensor *arena = NULL;
    for (int i = 0; i < t->n; i++)
        if (strcmp(t->items[i].name, "arena") == 0)
            arena = &t->items[i];
    if (!arena || arena->ndim != 2 || arena->shape[1] != d || (arena->dtype != FRE_F16 && arena->dtype != FRE_F32))
        return fre_fail(err, FASTROUTE_E_BUNDLE, "%s: tensor 'arena' must be float16 or float32 [prompts, %lld]", where,
                        (long long)d);
    const int64_t U = arena->shape[0];
    const fre_tensor *ma = fre_index_tensor(t, "battle_model_a", -1, M, where, err);
    const int64_t N = ma ? ma->count : 0;
    const fre_tensor *mb = ma ? fre_index_tensor(t, "battle_model_b", N, M, where, err) : NULL;
    const fre_tensor *oc = mb ? fre_index_tensor(t, "battle_outcome", N, 3, where, err) : NULL;
    const fre_tensor *pr = oc ? fre_index_tensor(t, "battle_prompt", N, U > 0 ? U : 1, where, err) : NULL;
    if (!pr)
        return FASTROUTE_E_BUNDLE;
    int has_soft_i = 0, has_soft_l = 0;
    for (int i = 0; i < t->n; i++)
        has_soft_i |= strcmp(t->items[i].name, "battle_soft_index") == 0,
            has_soft_l |= strcmp(t->items[i].name, "battle_soft_label") == 0;
    if (has_soft_i != has_soft_l)
        return fre_fail(err, FASTROUTE_E_BUNDLE, "%s: tensors 'battle_soft_index' and 'battle_soft_label' come together",
                        where);
    fre_sw *s = calloc(1, sizeof *s);
    int64_t *model_tier = calloc((size_t)(M ? M : 1), sizeof(int64_t));
    int64_t *ta = malloc(sizeof(int64_t) * (size_t)(N ? N : 1)), *tb = malloc(sizeof(int64_t) * (size_t)(N ? N : 1)),
            *prompt = malloc(sizeof(int64_t) * (size_t)(N ? N : 1)), *count = calloc((size_t)(U ? U : 1), sizeof(int64_t));
    double *y = malloc(sizeof(double) * (size_t)(N ? N : 1)), *wt = malloc(sizeof(double) * (size_t)(N ? N : 1));
    int rc = FASTROUTE_OK;
    if (!s || !model_tier || !ta || !tb || !prompt || !count || !y || !wt) {
        rc = fre_fail(err, FASTROUTE_E_NOMEM, "%s: out of memory", where);
        goto done;
    }
    s->tier_of_model = calloc((size_t)(M ? M : 1), sizeof(int));
    if (!s->tier_of_model) {
        rc = fre_fail(err, FASTROUTE_E_NOMEM, "%s: out of memory", where);
        goto done;
    }
    /* The tiers in use, renumbered 0..T-1 in ascending tier id (np.unique's order). */
    for (int64_t m = 0; m < M; m++) {
        json_t *tv = json_object_get(tiers, e->models[m]);
        if (!json_is_integer(tv) || json_integer_value(tv) < 0 || json_integer_value(tv) > 1000) {
            rc = fre_fail(err, FASTROUTE_E_BUNDLE, "%s: key 'tiers': model %s needs a tier in [0, 1000]", where,
                          e->models[m]);
            goto done;
        }
        model_tier[m] = json_integer_value(tv);
    }
    int T = 0;
    for (int64_t tier = 0; tier <= 1000; tier++) {
        int used = 0;
        for (int64_t m = 0; m < M; m++)
            if (model_tier[m] == tier)
                s->tier_of_model[m] = T, used = 1;
        T += used;
    }
    s->T = T;
    s->U = U;
    s->d = d;
    s->half = arena->dtype == FRE_F16;
    const size_t abytes = (size_t)(U * d) * (s->half ? 2 : 4);
    s->arena = malloc(abytes ? abytes : 1);
    if (!s->arena) {
        rc = fre_fail(err, FASTROUTE_E_NOMEM, "%s: out of memory", where);
        goto done;
    }
    memcpy(s->arena, arena->data, abytes);
    for (int64_t i = 0; i < N; i++) {
        ta[i] = s->tier_of_model[fre_tensor_int(ma, i)];
        tb[i] = s->tier_of_model[fre_tensor_int(mb, i)];
        prompt[i] = fre_tensor_int(pr, i);
        const int64_t o = fre_tensor_int(oc, i);
        y[i] = o == 0 ? 1.0 : (o == 1 ? 0.0 : 0.5);
        count[prompt[i]]++;
    }
    if (has_soft_i) {
        const fre_tensor *si = fre_index_tensor(t, "battle_soft_index", -1, N > 0 ? N : 1, where, err);
        const int64_t sshape[1] = {si ? si->count : 0};
        const fre_tensor *sl = si ? fre_tensor_get(t, "battle_soft_label", FRE_F32, 1, sshape, err) : NULL;
        if (!sl) {
            rc = FASTROUTE_E_BUNDLE;
            goto done;
        }
        for (int64_t k = 0; k < si->count; k++) {
            const float v = ((const float *)sl->data)[k];
            if (!(v >= 0.f && v <= 1.f)) {
                rc = fre_fail(err, FASTROUTE_E_BUNDLE, "%s: tensor 'battle_soft_label' must hold floats in [0, 1]",
                              where);
                goto done;
            }
            y[fre_tensor_int(si, k)] = (double)v;
        }
    }
    const int per_prompt = strcmp(bal, "prompt") == 0;
    for (int64_t i = 0; i < N; i++)
        wt[i] = per_prompt ? 1.0 / (double)count[prompt[i]] : 1.0;
    rc = fre_sw_matrix(s, ta, tb, y, wt, N, prompt, where, err);
    if (rc != FASTROUTE_OK)
        goto done;
    s->gamma = sharp && json_is_number(sharp) ? (float)json_number_value(sharp) : 0.0f;
    s->strong_tier = e->strong >= 0 ? s->tier_of_model[e->strong] : 0;
    s->weak_tier = e->weak >= 0 ? s->tier_of_model[e->weak] : 0;
    e->impl = s;
    s = NULL;
    e->win_rates = fre_sw_win_rates;
    e->strengths = fre_sw_strengths;
    e->close = fre_sw_close;
    {
        const fre_sw *x = e->impl;
        e->scratch_bytes = sizeof(float) * (size_t)(x->d + 2 * x->U) +
                           sizeof(double) * (size_t)(x->K + x->T + FR_BT_WORK((int64_t)x->T)) + 8 * 64;
    }
done:
    if (s) {
        free(s->arena), free(s->indptr), free(s->indices), free(s->values), free(s->tier_of_model);
        free(s);
    }
    free(model_tier), free(ta), free(tb), free(prompt), free(count), free(y), free(wt);
    return rc;
}

/* ---- length and random: routers that read no embedding ---- */

static int fre_length_win_rates(const fastroute_engine *e, fre_arena *a, const char *text, size_t len,
                                const float *emb, double *out, fastroute_error *err)
{
    (void)a, (void)emb, (void)err;
    const double chars = (double)fre_utf8_count(text, len);
    *out = -expm1(-log(2.0) / e->half_chars * chars); /* 1 - 2^(-chars / half_chars) */
    return FASTROUTE_OK;
}

/* splitmix64 on an atomic counter: uniform [0, 1) win rates, safe from any thread. */
static int fre_random_win_rates(const fastroute_engine *e, fre_arena *a, const char *text, size_t len,
                                const float *emb, double *out, fastroute_error *err)
{
    (void)a, (void)text, (void)len, (void)emb, (void)err;
    uint64_t z = __atomic_add_fetch((uint64_t *)&e->seed, 0x9e3779b97f4a7c15ULL, __ATOMIC_RELAXED);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    z ^= z >> 31;
    *out = (double)(z >> 11) * 0x1.0p-53;
    return FASTROUTE_OK;
}

int fre_simple_open(fastroute_engine *e, const char *kind, fastroute_error *err)
{
    (void)err;
    e->win_rates = strcmp(kind, "length") == 0 ? fre_length_win_rates : fre_random_win_rates;
    return FASTROUTE_OK;
}
