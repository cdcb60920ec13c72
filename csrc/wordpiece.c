/* wordpiece: BERT's uncased tokenizer (the static embedder's: BertNormalizer with lowercase,
 * BertPreTokenizer, WordPiece with "##" continuations) for ASCII text, token for token as
 * Hugging Face `tokenizers` does it; non-ASCII text is left to `tokenizers` by the caller.
 * Reference: tokenizers itself (tests/test_wordpiece.py compares every MMLU prompt and
 * generated strings). A vocabulary is an open-addressing hash table built once. */
#include "fr_internal.h"

typedef struct {
    char *blob;      /* the vocabulary's strings, concatenated */
    int64_t *start;  /* [n + 1] offsets into blob */
    int32_t *id;     /* [n] token ids */
    int64_t *slot;   /* [cap] index into start/id, -1 for empty */
    int64_t cap;     /* a power of two, >= 2n */
    int64_t n;
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

/* The id of prefix a (may be empty) + b, or -1. */
static int32_t fr_wp_find(const fr_wp_vocab *v, const char *a, int64_t la, const char *b, int64_t lb)
{
    uint64_t mask = (uint64_t)v->cap - 1, h = fr_wp_hash(a, la, b, lb) & mask;
    for (;;) {
        int64_t k = v->slot[h];
        if (k < 0)
            return -1;
        int64_t len = v->start[k + 1] - v->start[k];
        const char *s = v->blob + v->start[k];
        if (len == la + lb && memcmp(s, a, (size_t)la) == 0 && memcmp(s + la, b, (size_t)lb) == 0)
            return v->id[k];
        h = (h + 1) & mask;
    }
}

void *fr_wp_new(const char *blob, const int64_t *start, const int32_t *ids, int64_t n)
{
    if (n < 0 || (n > 0 && (!blob || !start || !ids)))
        return NULL;
    fr_wp_vocab *v = fr_malloc(sizeof *v);
    if (!v)
        return NULL;
    int64_t cap = 16;
    while (cap < 2 * n)
        cap *= 2;
    v->n = n, v->cap = cap;
    v->blob = fr_malloc((size_t)(n ? start[n] : 0) + 1);
    v->start = fr_malloc(sizeof(int64_t) * (size_t)(n + 1));
    v->id = fr_malloc(sizeof(int32_t) * (size_t)(n ? n : 1));
    v->slot = fr_malloc(sizeof(int64_t) * (size_t)cap);
    if (!v->blob || !v->start || !v->id || !v->slot) {
        fr_wp_free(v);
        return NULL;
    }
    memcpy(v->blob, blob, (size_t)(n ? start[n] : 0));
    memcpy(v->start, start, sizeof(int64_t) * (size_t)(n + 1));
    memcpy(v->id, ids, sizeof(int32_t) * (size_t)n);
    for (int64_t i = 0; i < cap; i++)
        v->slot[i] = -1;
    for (int64_t k = 0; k < n; k++) {
        uint64_t mask = (uint64_t)cap - 1, h = fr_wp_hash("", 0, blob + start[k], start[k + 1] - start[k]) & mask;
        while (v->slot[h] >= 0)
            h = (h + 1) & mask;
        v->slot[h] = k;
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

static int fr_wp_punct(unsigned char c)
{
    return (c >= 33 && c <= 47) || (c >= 58 && c <= 64) || (c >= 91 && c <= 96) || (c >= 123 && c <= 126);
}

/* WordPiece of one word (lowercased ASCII, no spaces): ids appended at out[*n] while *n < max;
 * a word it cannot cover, or longer than max_chars, is the unk id. */
static void fr_wp_word(const fr_wp_vocab *v, const char *w, int64_t len, int32_t unk, int64_t max_chars,
                       int32_t *out, int64_t *n, int64_t max)
{
    int32_t buf[128];
    int64_t m = 0;
    if (len > max_chars || len > 128) {
        if (*n < max)
            out[(*n)++] = unk;
        return;
    }
    for (int64_t start = 0; start < len;) {
        int64_t end = len;
        int32_t hit = -1;
        while (start < end) {
            hit = start > 0 ? fr_wp_find(v, "##", 2, w + start, end - start) : fr_wp_find(v, "", 0, w, end);
            if (hit >= 0)
                break;
            end--;
        }
        if (hit < 0) {
            if (*n < max)
                out[(*n)++] = unk;
            return;
        }
        buf[m++] = hit;
        start = end;
    }
    for (int64_t i = 0; i < m && *n < max; i++)
        out[(*n)++] = buf[i];
}

/* Tokens of one ASCII text into out (at most max); returns their count, or -1 when the text
 * holds a byte >= 0x80 (the caller's other tokenizer takes it). */
int64_t fr_wp_encode(const void *vocab, const char *text, int64_t len, int32_t unk, int64_t max_chars, int32_t *out,
                     int64_t max)
{
    const fr_wp_vocab *v = vocab;
    char word[129];
    int64_t wl = 0, n = 0, too_long = 0;
    if (!v || (len > 0 && !text) || max < 0 || (max > 0 && !out))
        return -2;
    for (int64_t i = 0; i <= len && n < max; i++) {
        unsigned char c = i < len ? (unsigned char)text[i] : ' ';
        if (c >= 0x80)
            return -1;
        int space = c == ' ' || c == '\t' || c == '\n' || c == '\r';
        int control = !space && (c < 0x20 || c == 0x7f); /* removed by the normaliser */
        if (control)
            continue;
        if (space || fr_wp_punct(c)) {
            if (wl || too_long)
                fr_wp_word(v, word, too_long ? max_chars + 1 : wl, unk, max_chars, out, &n, max);
            wl = 0, too_long = 0;
            if (!space && n < max) {
                char p = (char)c;
                int32_t id = fr_wp_find(v, "", 0, &p, 1);
                out[n++] = id >= 0 ? id : unk;
            }
            continue;
        }
        if (wl < 128)
            word[wl++] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
        else
            too_long = 1;
    }
    return n;
}
