/* fastroute CPU kernels: the C fast path behind fastroute.ops.
 *
 * One file per op, named as the op: fr_<op>* is defined in csrc/<op>.c (the library's
 * runtime in fr_runtime.c, shared helpers in fr_internal.h, shared numbers in
 * fr_constants.h). Every op has a numpy reference in fastroute/ops/reference.py and a
 * test comparing the two. Matrices are row-major; `ld*` arguments are row strides
 * in elements, so row-sliced views need no copy. `nthreads` <= 0 means "use the
 * OpenMP default". This header is also the cffi cdef, so it holds only plain
 * declarations (no macros, no includes).
 *
 * Every kernel entry point returns a status: FR_OK, or a negative FR_E* code (bad
 * arguments, allocation failure, ids out of range), which the Python wrappers turn
 * into ValueError / MemoryError. The wrappers pass only validated arrays with unit
 * inner stride and aligned rows; the C side still checks sizes, strides and offsets
 * so that a bad call fails instead of reading out of bounds.
 */

enum { FR_OK = 0, FR_EINVAL = -1, FR_ENOMEM = -2, FR_ERANGE = -3 };

/* SIMD level the dispatcher uses: 0 = portable C, 1 = AVX2+FMA+F16C, 2 = AVX-512. */
int fr_simd_level(void);
/* Highest level this CPU supports. */
int fr_simd_level_supported(void);
/* Force a level (clamped to what the CPU supports); returns the level now in use. */
int fr_set_simd_level(int level);
/* 1 when the library was compiled with OpenMP. */
int fr_has_openmp(void);
int fr_default_threads(void);
/* 1 when built with AddressSanitizer (the `make asan` build). */
int fr_sanitized(void);
/* Test hook: allocations after the next `after` ones fail (after < 0: none fail). */
void fr_debug_fail_allocs(int64_t after);

/* out[b, i] = <Q[b] / |Q[b]|, X[i]> for unit-norm rows X; a zero query gives 0.
 * Needs ldq >= d, ldx >= d, ldo >= N (row strides of rows that exist). */
int fr_cosine_sim_f32(const float *Q, int64_t B, int64_t ldq,
                       const float *X, int64_t N, int64_t d, int64_t ldx,
                   float *out, int64_t ldo, int nthreads);
/* Same, X stored as IEEE binary16 (uint16 bit patterns). */
int fr_cosine_sim_f16(const float *Q, int64_t B, int64_t ldq,
                       const uint16_t *X, int64_t N, int64_t d, int64_t ldx,
                   float *out, int64_t ldo, int nthreads);

/* out[i] = float32 of the binary16 row X[i] (row stride ldx), out contiguous N x d. */
int fr_half_to_float_rows(const uint16_t *X, int64_t N, int64_t d, int64_t ldx, float *out,
                           int nthreads);

/* out[b] = sigmoid(<E[b], u> + bias), accumulated in double. */
int fr_gemv_sigmoid_f32(const float *E, int64_t B, int64_t d, int64_t lde,
                         const float *u, double bias, float *out, int nthreads);

/* out[b, m] = <E[b], W[m]>, accumulated in double (E: B x d, row stride lde; W: M x d,
 * row stride ldw; out: B x M, row stride ldo). */
int fr_linear_scores_f32(const float *E, int64_t B, int64_t d, int64_t lde, const float *W, int64_t M,
                         int64_t ldw, float *out, int64_t ldo, int nthreads);

/* out[b, k] = mean over j != k of sigmoid(S[b, k] - S[b, j]) (S: B x K doubles, row stride
 * lds; out: B x K, row stride ldo; K >= 2). */
int fr_field_win_rates(const double *S, int64_t B, int64_t K, int64_t lds, double *out, int64_t ldo, int nthreads);

/* BERT uncased WordPiece (csrc/wordpiece.c): a vocabulary from n strings (blob[start[k]:start[k+1]]
 * has id ids[k]; NULL for bad arguments or no memory). encode_batch tokenizes the B UTF-8 texts
 * blob[offsets[b]:offsets[b+1]] as tokenizers does (normaliser, pre-tokenizer, WordPiece, at most
 * max_tokens counted per text, words over max_chars <= 128 characters are unk): ids other than
 * `drop` go one text after another into out (room for cap), counts[b] = how many, or -1 for a
 * text left to tokenizers (a code point csrc/wordpiece_unicode.c marks FALLBACK, invalid UTF-8,
 * or out of room). Returns FR_OK or FR_EINVAL. unicode_version: what the table was checked on. */
void *fr_wp_new(const char *blob, const int64_t *start, const int32_t *ids, int64_t n);
void fr_wp_free(void *vocab);
int fr_wp_encode_batch(const void *vocab, const char *blob, const int64_t *offsets, int64_t B, int32_t unk,
                       int64_t max_chars, int64_t max_tokens, int32_t drop, int32_t *out, int64_t cap,
                       int64_t *counts);
const char *fr_wp_unicode_version(void);

/* Similarity weighting fused with the sufficient statistics S = A w.
 * For each query b: m = max_u sims[b, u]; with gamma <= 0, RouteLLM's weights
 * w_u = 10 * 10^(sims[b, u] / m) (uniform w_u = 10 when m <= 0); with gamma > 0,
 * w_u = exp(gamma * (sims[b, u] - m)). Exponents are clamped at 2^-113, so no
 * weight is 0. S[b, k] = sum_j values[j] * w[indices[j]] over
 * indptr[k] <= j < indptr[k+1] (A is a K x U CSR matrix); smax[b] = m. indptr is
 * checked (starts at 0, never decreases); column indices must lie in [0, U), which
 * fastroute.ops.CSRMatrix checks once when the matrix is made. */
int fr_sw_stats(const float *sims, int64_t B, int64_t U, int64_t lds,
                 const int64_t *indptr, const int32_t *indices, const float *values,
                 int64_t K, float gamma, double *S, float *smax, int nthreads);

/* Weighted Bradley-Terry fit of each row of S [B, T*T + 2T] (the counts of
 * fastroute/sw/bradley_terry.py, solved by fastroute/ops/reference_bt.py: C[i, j] "i beat j", then Dp, Dm for same-player
 * battles), by damped Newton from 0 with a ridge of `ridge` times the row's total
 * weight; the level is held at sum(beta) = 0 when the same-player counts do not pin
 * it. beta [B, T] receives the coefficients (Elo = 400 beta + 1000). Returns how many
 * rows did not reach |ln10 * step| < tol within max_iter iterations; those rows are
 * set to NaN. Negative: FR_EINVAL (T < 1, B < 0) or FR_ENOMEM. */
int fr_bt_fit(const double *S, int64_t B, int64_t T, double ridge, double tol, int max_iter,
              double *beta, int nthreads);

/* Static embedder: out[b] = normalize(mean_t scales[t] * table[t]) over the token ids
 * ids[offsets[b] .. offsets[b+1]); an empty prompt gives a zero row. scales has V
 * entries, ids n_ids; offsets (B + 1 entries) must start at 0, never decrease and end
 * at n_ids (else FR_EINVAL, nothing read). FR_ERANGE when an id is outside [0, V)
 * (such ids are skipped). */
int fr_embedding_bag_i8(const int8_t *table, const float *scales, int64_t V, int64_t d,
                        const int32_t *ids, int64_t n_ids, const int64_t *offsets, int64_t B,
                        float *out, int nthreads);
