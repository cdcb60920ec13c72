/* wordpiece: BERT's uncased tokenizer (the static embedder's: BertNormalizer with lowercase,
 * BertPreTokenizer, WordPiece with "##" continuations) over UTF-8 text, token for token as
 * Hugging Face `tokenizers` does it. ASCII is handled here; other code points through the
 * generated table of csrc/wordpiece_unicode.c; a code point it marks FALLBACK makes the
 * text the caller's (`tokenizers` takes it). Reference: tokenizers itself
 * (tests/test_wordpiece*.py: every MMLU prompt, generated strings, the table regenerated).
 * A vocabulary is an open-addressing hash table built once. */
#include "fr_internal.h"
#include "wordpiece_unicode.h"

/* Longest word held: 128 characters of up to 4 bytes. */
#define FR_WP_MAX_CHARS 128
#define FR_WP_WORD_BYTES (4 * FR_WP_MAX_CHARS)

typedef struct {
    char *blob;      /* the vocabulary's strings, concatenated */
    int64_t *start;  /* [n + 1] offsets into blob */
    int32_t *id;     /* [n] token ids */
    uint64_t *slot;  /* [cap] hash's top 32 bits << 32 | index into start/id; FR_WP_EMPTY */
    int64_t cap;     /* a power of two, >= 2n */
    int64_t n;
    int64_t longest; /* bytes of the longest string */
} fr_wp_vocab;

static uint64_t fr_wp_hash(const char *a, int64_t la, const char *b, int64_t lb)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a over a then b */
    for (int64_t i = 0; i < la; i++)
        h = (h ^ (uint8_t)a[i]) * 1099511628211ULL;
    for (int64_t i = 0; i < lb; i++)
        h = (h ^ (uint8_t)b[i]) * 1099511628211ULL;
    return h;
}

#define FR_WP_EMPTY UINT64_MAX

/* The id of prefix a (may be empty) + b, or -1. A slot's hash bits reject most other strings
 * without reading them. */
static int32_t fr_wp_find(const fr_wp_vocab *v, const char *a, int64_t la, const char *b, int64_t lb)
{
    uint64_t full = fr_wp_hash(a, la, b, lb), mask = (uint64_t)v->cap - 1, h = full & mask;
    for (;; h = (h + 1) & mask) {
        uint64_t e = v->slot[h];
        if (e == FR_WP_EMPTY)
            return -1;
        if (e >> 32 != full >> 32)
            continue;
        int64_t k = (int64_t)(e & 0xffffffffu);
        int64_t len = v->start[k + 1] - v->start[k];
        const char *s = v->blob + v->start[k];
        if (len == la + lb && memcmp(s, a, (size_t)la) == 0 && memcmp(s + la, b, (size_t)lb) == 0)
            return v->id[k];
    }
}

void *fr_wp_new(const char *blob, const int64_t *start, const int32_t *ids, int64_t n)
{
    if (n < 0 || n > INT32_MAX || !start || start[0] != 0 || (n > 0 && (!blob || !ids)))
        return NULL;
    for (int64_t k = 0; k < n; k++)
        if (start[k + 1] < start[k])
            return NULL;
    fr_wp_vocab *v = fr_malloc(sizeof *v);
    if (!v)
        return NULL;
    int64_t cap = 16;
    while (cap < 2 * n)
        cap *= 2;
    v->n = n, v->cap = cap, v->longest = 0;
    v->blob = fr_malloc((size_t)(n ? start[n] : 0) + 1);
    v->start = fr_malloc(sizeof(int64_t) * (size_t)(n + 1));
    v->id = fr_malloc(sizeof(int32_t) * (size_t)(n ? n : 1));
    v->slot = fr_malloc(sizeof(uint64_t) * (size_t)cap);
    if (!v->blob || !v->start || !v->id || !v->slot) {
        fr_wp_free(v);
        return NULL;
    }
    memcpy(v->blob, blob, (size_t)(n ? start[n] : 0));
    memcpy(v->start, start, sizeof(int64_t) * (size_t)(n + 1));
    memcpy(v->id, ids, sizeof(int32_t) * (size_t)n);
    for (int64_t i = 0; i < cap; i++)
        v->slot[i] = FR_WP_EMPTY;
    for (int64_t k = 0; k < n; k++) {
        uint64_t full = fr_wp_hash("", 0, blob + start[k], start[k + 1] - start[k]);
        uint64_t mask = (uint64_t)cap - 1, h = full & mask;
        while (v->slot[h] != FR_WP_EMPTY)
            h = (h + 1) & mask;
        v->slot[h] = (full >> 32) << 32 | (uint64_t)k;
        if (start[k + 1] - start[k] > v->longest)
            v->longest = start[k + 1] - start[k];
    }
    return v;
}

void fr_wp_free(void *p)
{
    fr_wp_vocab *v = p;
    if (!v)
        return;
    free(v->blob), free(v->start), free(v->id), free(v->slot), free(v);
}

/* Where tokens go: at most max counted (tokenizers' truncation), those other than drop written. */
typedef struct {
    int32_t *out;
    int64_t n, max, written;
    int32_t unk, drop;
} fr_wp_sink;

static void fr_wp_emit(fr_wp_sink *k, int32_t id)
{
    if (k->n >= k->max)
        return;
    k->n++;
    if (id != k->drop)
        k->out[k->written++] = id;
}

/* WordPiece of one normalised word (UTF-8, nchars characters): greedy longest match from the
 * left, "##" before every piece but the first, shrinking by whole characters; a word it cannot
 * cover, or longer than max_chars characters, is the unk id. */
static void fr_wp_word(const fr_wp_vocab *v, const char *w, int64_t len, int64_t nchars, int64_t max_chars,
                       fr_wp_sink *k)
{
    int32_t buf[FR_WP_MAX_CHARS];
    int64_t m = 0;
    if (len == 0)
        return;
    if (nchars > max_chars || nchars > FR_WP_MAX_CHARS) {
        fr_wp_emit(k, k->unk);
        return;
    }
    for (int64_t start = 0; start < len;) {
        int64_t end = len - start > v->longest ? start + v->longest : len; /* longer never matches */
        while (end < len && ((unsigned char)w[end] & 0xc0) == 0x80)
            end--; /* a character boundary */
        int32_t hit = -1;
        while (start < end) {
            hit = start > 0 ? fr_wp_find(v, "##", 2, w + start, end - start) : fr_wp_find(v, "", 0, w, end);
            if (hit >= 0)
                break;
            do
                end--;
            while (end > start && ((unsigned char)w[end] & 0xc0) == 0x80);
        }
        if (hit < 0 || m >= FR_WP_MAX_CHARS) {
            fr_wp_emit(k, k->unk);
            return;
        }
        buf[m++] = hit;
        start = end;
    }
    for (int64_t i = 0; i < m; i++)
        fr_wp_emit(k, buf[i]);
}

static int fr_wp_punct(unsigned char c)
{
    return (c >= 33 && c <= 47) || (c >= 58 && c <= 64) || (c >= 91 && c <= 96) || (c >= 123 && c <= 126);
}

/* The code point at s[*i] (a multi-byte UTF-8 sequence; *i moves past it), or -1 if invalid. */
static int32_t fr_wp_decode(const unsigned char *s, int64_t len, int64_t *i)
{
    unsigned char c = s[*i];
    int n = c >= 0xf0 ? 3 : c >= 0xe0 ? 2 : 1;
    uint32_t cp = c & (n == 3 ? 0x07 : n == 2 ? 0x0f : 0x1f);
    if (c < 0xc2 || c > 0xf4 || len - *i <= n)
        return -1;
    for (int j = 1; j <= n; j++) {
        if ((s[*i + j] & 0xc0) != 0x80)
            return -1;
        cp = (cp << 6) | (s[*i + j] & 0x3f);
    }
    if ((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) || cp > 0x10ffff || (cp >= 0xd800 && cp < 0xe000))
        return -1; /* overlong, beyond Unicode, or a surrogate */
    *i += n + 1;
    return (int32_t)cp;
}

/* Appends UTF-8 bytes r[0 .. nb) (nc characters) to the word, or marks it too long. */
static void fr_wp_add(char *word, int64_t *wl, int64_t *wc, int *too_long, const unsigned char *r, int64_t nb,
                      int64_t nc, int64_t max_chars)
{
    if (*too_long || *wc + nc > max_chars || *wl + nb > FR_WP_WORD_BYTES) {
        *too_long = 1;
        return;
    }
    memcpy(word + *wl, r, (size_t)nb);
    *wl += nb, *wc += nc;
}

static int64_t fr_wp_utf8_chars(const unsigned char *r, int64_t nb)
{
    int64_t n = 0;
    for (int64_t j = 0; j < nb; j++)
        n += (r[j] & 0xc0) != 0x80;
    return n;
}

/* Tokens of one UTF-8 text into the sink; 0, or -1 when the text holds a code point the table
 * leaves to tokenizers (or invalid UTF-8). */
static int fr_wp_text(const fr_wp_vocab *v, const unsigned char *s, int64_t len, int64_t max_chars, fr_wp_sink *k)
{
    char word[FR_WP_WORD_BYTES];
    int64_t wl = 0, wc = 0;
    int too_long = 0;
#define FR_WP_FLUSH()                                                                                       \
    do {                                                                                                    \
        if (wl || too_long)                                                                                 \
            fr_wp_word(v, word, wl, too_long ? max_chars + 1 : wc, max_chars, k);                          \
        wl = 0, wc = 0, too_long = 0;                                                                       \
    } while (0)
    for (int64_t i = 0; i < len && k->n < k->max;) {
        unsigned char c = s[i];
        if (c < 0x80) {
            i++;
            if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
                FR_WP_FLUSH();
            } else if (c < 0x20 || c == 0x7f) {
                /* a control character: removed by the normaliser */
            } else if (fr_wp_punct(c)) {
                FR_WP_FLUSH();
                fr_wp_word(v, (const char *)&c, 1, 1, max_chars, k);
            } else {
                unsigned char low = (unsigned char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
                fr_wp_add(word, &wl, &wc, &too_long, &low, 1, 1, max_chars);
            }
            continue;
        }
        int64_t at = i;
        int32_t cp = fr_wp_decode(s, len, &i);
        if (cp < 0)
            return -1;
        const unsigned char *rep = s + at;
        int rl = (int)(i - at);
        switch (fr_wpu_lookup((uint32_t)cp, &rep, &rl)) {
        case FR_WPU_WORD:
            fr_wp_add(word, &wl, &wc, &too_long, s + at, i - at, 1, max_chars);
            break;
        case FR_WPU_WORD_MAP:
            fr_wp_add(word, &wl, &wc, &too_long, rep, rl, fr_wp_utf8_chars(rep, rl), max_chars);
            break;
        case FR_WPU_REMOVE:
            break;
        case FR_WPU_SPACE:
            FR_WP_FLUSH();
            break;
        case FR_WPU_ISOLATE:
            FR_WP_FLUSH();
            fr_wp_word(v, (const char *)(s + at), i - at, 1, max_chars, k);
            break;
        case FR_WPU_ISOLATE_MAP:
            FR_WP_FLUSH();
            fr_wp_word(v, (const char *)rep, rl, fr_wp_utf8_chars(rep, rl), max_chars, k);
            break;
        case FR_WPU_HANGUL: { /* canonical decomposition into leading, vowel and trailing jamo */
            int32_t si = cp - 0xac00, jamo[3] = {0x1100 + si / 588, 0x1161 + (si % 588) / 28, 0x11a7 + si % 28};
            for (int j = 0; j < (si % 28 ? 3 : 2); j++) {
                unsigned char u[3] = {(unsigned char)(0xe0 | (jamo[j] >> 12)),
                                      (unsigned char)(0x80 | ((jamo[j] >> 6) & 0x3f)),
                                      (unsigned char)(0x80 | (jamo[j] & 0x3f))};
                fr_wp_add(word, &wl, &wc, &too_long, u, 3, 1, max_chars);
            }
            break;
        }
        default:
            return -1;
        }
    }
    if (k->n < k->max)
        FR_WP_FLUSH();
#undef FR_WP_FLUSH
    return 0;
}

int fr_wp_encode_batch(const void *vocab, const char *blob, const int64_t *offsets, int64_t B, int32_t unk,
                       int64_t max_chars, int64_t max_tokens, int32_t drop, int32_t *out, int64_t cap,
                       int64_t *counts)
{
    const fr_wp_vocab *v = vocab;
    if (!v || !offsets || B < 0 || (B > 0 && !counts) || max_tokens < 0 || cap < 0 || (cap > 0 && !out) ||
        max_chars < 0 || max_chars > FR_WP_MAX_CHARS || offsets[0] != 0 || (offsets[B] > 0 && !blob))
        return FR_EINVAL;
    for (int64_t b = 0; b < B; b++)
        if (offsets[b + 1] < offsets[b])
            return FR_EINVAL;
    int64_t used = 0;
    for (int64_t b = 0; b < B; b++) {
        int64_t room = cap - used < max_tokens ? cap - used : max_tokens;
        fr_wp_sink k = {out + used, 0, room, 0, unk, drop};
        int st = fr_wp_text(v, (const unsigned char *)blob + offsets[b], offsets[b + 1] - offsets[b], max_chars, &k);
        if (st < 0 || (k.n == room && room < max_tokens)) {
            counts[b] = -1; /* tokenizers takes it (out of room here: never a silent truncation) */
        } else {
            counts[b] = k.written;
            used += k.written;
        }
    }
    return FR_OK;
}
