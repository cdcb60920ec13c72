/* The native engine's internals (csrc/engine/): what its files share. Not installed; the
 * public interface is csrc/fastroute.h. Every function here validates what it reads from a
 * file or a request, returns a fastroute_status and fills a fastroute_error. */
#ifndef FRE_H
#define FRE_H

#include <jansson.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "../fastroute.h"

#define FRE_HIDDEN __attribute__((visibility("hidden")))

/* ---- errors ---- */
FRE_HIDDEN int fre_fail(fastroute_error *err, int status, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* A request refused as fastroute serve refuses it: HTTP status, OpenAI error type, param. */
FRE_HIDDEN int fre_refuse(fastroute_error *err, int http_status, const char *type, const char *param,
                          const char *fmt, ...) __attribute__((format(printf, 5, 6)));
FRE_HIDDEN void fre_clear(fastroute_error *err);

/* ---- a bump arena over fixed memory (the scratch) ---- */
typedef struct fre_arena {
    unsigned char *base;
    size_t cap, used;
} fre_arena;
FRE_HIDDEN void *fre_alloc(fre_arena *a, size_t n); /* 16-byte aligned; NULL when full */

/* ---- text ---- */
/* Index of the first byte of the first invalid UTF-8 sequence (as Python's decoder reports
 * it), or -1 when `s` is valid UTF-8 (no surrogates, nothing above U+10FFFF, no overlongs). */
FRE_HIDDEN int64_t fre_utf8_invalid_at(const char *s, size_t n);
/* Code points of valid UTF-8 text; the byte length of its first `max_chars` code points. */
FRE_HIDDEN size_t fre_utf8_count(const char *s, size_t n);
FRE_HIDDEN size_t fre_utf8_prefix(const char *s, size_t n, size_t max_chars);
/* Python's repr() of a str (valid UTF-8), appended to out (at most cap bytes, NUL-terminated). */
FRE_HIDDEN void fre_py_repr(const char *s, size_t n, char *out, size_t cap);
/* Python's json.dumps(value) (default separators, ensure_ascii), at most `cap` bytes. */
FRE_HIDDEN void fre_py_json(const json_t *value, char *out, size_t cap);
/* Python's repr() of a float (the shortest string that reads back), e.g. "0.5", "1e-05". */
FRE_HIDDEN void fre_py_float(double x, char *out, size_t cap);

/* ---- files ---- */
FRE_HIDDEN int fre_read_file(const char *path, size_t max_bytes, char **data, size_t *len, fastroute_error *err);
FRE_HIDDEN json_t *fre_load_json(const char *path, fastroute_error *err);
FRE_HIDDEN int fre_join(char *out, size_t cap, const char *dir, const char *name);

/* ---- safetensors ---- */
typedef enum { FRE_F16, FRE_F32, FRE_F64, FRE_I8, FRE_U8, FRE_I16, FRE_U16, FRE_I32, FRE_U32, FRE_I64, FRE_U64 } fre_dtype;
typedef struct fre_tensor {
    char name[64];
    fre_dtype dtype;
    int ndim;
    int64_t shape[4];
    int64_t count;
    void *data; /* aligned copy, owned by the tensor set */
} fre_tensor;
typedef struct fre_tensors {
    fre_tensor *items;
    int n;
    char path[1024];
} fre_tensors;
FRE_HIDDEN int fre_tensors_load(const char *path, fre_tensors *out, fastroute_error *err);
FRE_HIDDEN void fre_tensors_free(fre_tensors *t);
/* The tensor `name` with this dtype and rank (shape[i] < 0: any), or NULL and an error naming it. */
FRE_HIDDEN const fre_tensor *fre_tensor_get(const fre_tensors *t, const char *name, fre_dtype dtype, int ndim,
                                            const int64_t *shape, fastroute_error *err);
/* Integer tensor values widened to int64 (any integer dtype); index i < count. */
FRE_HIDDEN int64_t fre_tensor_int(const fre_tensor *t, int64_t i);

/* ---- the static embedder ---- */
typedef struct fre_embedder {
    int dim, max_tokens, max_chars;
    int32_t unk, drop;
    int64_t vocab_size;
    int unicode;            /* non-ASCII text through csrc/wordpiece_unicode.c's table */
    int wp_max_chars;       /* WordPiece's longest word */
    char fingerprint[64];
    void *vocab;            /* fr_wp_new */
    const int8_t *table;    /* [V, dim] */
    const float *scales;    /* [V] */
    fre_tensors tensors;
    char **added; size_t *added_len; int32_t *added_ids; int n_added; /* tokens matched in the raw text */
} fre_embedder;
FRE_HIDDEN int fre_embedder_open(fre_embedder *e, const char *dir, fastroute_error *err);
FRE_HIDDEN void fre_embedder_close(fre_embedder *e);
/* out[dim]: the embedding of one text (valid UTF-8). Scratch: ids [max_tokens]. */
FRE_HIDDEN int fre_embed(const fre_embedder *e, fre_arena *scratch, const char *text, size_t len, float *out,
                         fastroute_error *err);
FRE_HIDDEN size_t fre_embed_scratch(const fre_embedder *e);

/* ---- model names ---- */
/* fastroute.data.aliases.canonical_model into out (cap bytes). */
FRE_HIDDEN void fre_canonical_model(const char *name, char *out, size_t cap);

/* ---- routers ---- */
struct fastroute_engine {
    char kind[16];
    char **models; int n_models;        /* the bundle's models */
    int strong, weak;                    /* scored models: indices into models (-1: none, length/random) */
    char *strong_target, *weak_target;   /* names routed to */
    double *quantiles; int n_quantiles;  /* stored win-rate quantiles of the scored pair, or NULL */
    double cal_scale, cal_offset;        /* win rate sigmoid(scale z + offset) of the raw logit z: (1, 0) raw */
    fre_embedder embedder; int has_embedder;
    void *impl;                          /* the kind's own state */
    int (*win_rates)(const fastroute_engine *, fre_arena *, const char *text, size_t len, const float *emb,
                     double *out, fastroute_error *);
    int (*strengths)(const fastroute_engine *, fre_arena *, const float *emb, const int *cols, int n_cols,
                     double *out, fastroute_error *); /* N-model routing; NULL: pair only */
    void (*close)(fastroute_engine *);
    size_t scratch_bytes;                /* what one text needs, beyond the embedder's */
    uint64_t seed;                       /* random */
    double half_chars;                   /* length */
};
FRE_HIDDEN int fre_mf_open(fastroute_engine *e, json_t *meta, fre_tensors *t, const char *where, fastroute_error *err);
FRE_HIDDEN int fre_sw_open(fastroute_engine *e, json_t *meta, fre_tensors *t, const char *where, fastroute_error *err);
FRE_HIDDEN int fre_simple_open(fastroute_engine *e, const char *kind, fastroute_error *err);
/* The index of `name` among the engine's models, as Router.knows does (exact, then canonical). */
FRE_HIDDEN int fre_model_index(const fastroute_engine *e, const char *name);
/* Win rate of one text on the engine's scratch. */
FRE_HIDDEN int fre_engine_win_rate(const fastroute_engine *e, fre_arena *a, const char *text, size_t len,
                                   double *out, fastroute_error *err);

/* ---- routing profiles ---- */
typedef struct fre_profile fre_profile;
FRE_HIDDEN int fre_profile_open(fre_profile **out, const json_t *doc, const char *where, const char *embedder_dir,
                                fastroute_error *err);
FRE_HIDDEN void fre_profile_close(fre_profile *p);
typedef struct fre_choice {
    const char *model;
    double quality, cost;
} fre_choice;
FRE_HIDDEN int fre_profile_choose(const fre_profile *p, fre_arena *a, const char *text, size_t len,
                                  fre_choice *out, fastroute_error *err);
FRE_HIDDEN size_t fre_profile_scratch(const fre_profile *p);
FRE_HIDDEN const char *fre_profile_policy(const fre_profile *p);
FRE_HIDDEN int fre_profile_names(const fre_profile *p, const char *const **names);

/* ---- scratch ---- */
struct fastroute_scratch {
    fre_arena arena;
    size_t bytes;
};
FRE_HIDDEN fastroute_scratch *fre_scratch_new(size_t bytes);

/* ---- chat bodies (chat.c) ---- */
typedef struct fre_chat {
    json_t *doc;
    const char *model;       /* printable ASCII, 1-256 characters */
    const json_t *messages;
} fre_chat;
FRE_HIDDEN int fre_chat_read(const char *body, size_t len, fre_chat *out, fastroute_error *err);
FRE_HIDDEN char *fre_chat_rewrite(const char *body, size_t len, const char *model, fre_arena *a, size_t *out_len);
FRE_HIDDEN int fre_routing_text(const json_t *messages, int conversation, fre_arena *a, size_t cap, const char **text,
                                size_t *len, fastroute_error *err);

/* ---- jansson's allocations on the calling thread's scratch (chat.c) ---- */
FRE_HIDDEN void fre_json_use_arena(fre_arena *a); /* NULL: malloc again */
FRE_HIDDEN void fre_json_init(void);

#endif
