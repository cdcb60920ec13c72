/* The static embedder natively: fastroute/embedders/static.py without Python. The same files
 * (config.json, embeddings.safetensors, tokenizer.json), the same tokenizer (csrc/wordpiece.c,
 * which is what the Python path runs too), the same embedding bag. Where the Python embedder
 * hands a text to Hugging Face tokenizers (a code point csrc/wordpiece_unicode.c marks
 * FALLBACK), the engine refuses the text (FASTROUTE_E_TEXT) rather than guess; added tokens
 * ("[PAD]", "[UNK]" in the raw text) are split out as tokenizers does. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <stdint.h>

#include "../fastroute_ops.h"
#include "fre.h"

static int fre_str_is(json_t *obj, const char *key, const char *want)
{
    json_t *v = json_object_get(obj, key);
    return v && json_is_string(v) && strcmp(json_string_value(v), want) == 0;
}

static int fre_int_field(json_t *obj, const char *key, json_int_t lo, json_int_t hi, json_int_t *out)
{
    json_t *v = json_object_get(obj, key);
    if (!v || !json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi)
        return 0;
    *out = json_integer_value(v);
    return 1;
}

/* The vocabulary of tokenizer.json, checked to be the pipeline csrc/wordpiece.c implements
 * (what fastroute/embedders/wordpiece.py:wordpiece checks). */
static int fre_tokenizer_open(fre_embedder *e, const char *path, fastroute_error *err)
{
    json_t *doc = fre_load_json(path, err);
    if (!doc)
        return err ? err->status : FASTROUTE_E_BUNDLE;
    int rc = FASTROUTE_OK;
    json_t *norm = json_object_get(doc, "normalizer"), *pre = json_object_get(doc, "pre_tokenizer"),
           *model = json_object_get(doc, "model"), *post = json_object_get(doc, "post_processor");
    if (!json_is_object(norm) || !fre_str_is(norm, "type", "BertNormalizer") ||
        !json_is_true(json_object_get(norm, "lowercase")) || !json_is_true(json_object_get(norm, "clean_text")) ||
        !json_is_object(pre) || !fre_str_is(pre, "type", "BertPreTokenizer") || !json_is_object(model) ||
        !fre_str_is(model, "type", "WordPiece") || !fre_str_is(model, "continuing_subword_prefix", "##") ||
        (post && !json_is_null(post))) {
        rc = fre_fail(err, FASTROUTE_E_BUNDLE,
                      "%s: not the uncased BERT WordPiece pipeline the native tokenizer implements", path);
        goto done;
    }
    json_t *sa = json_object_get(norm, "strip_accents");
    e->unicode = json_is_true(json_object_get(norm, "handle_chinese_chars")) && (!sa || json_is_null(sa) || json_is_true(sa));
    json_t *vocab = json_object_get(model, "vocab");
    if (!json_is_object(vocab) || json_object_size(vocab) == 0) {
        rc = fre_fail(err, FASTROUTE_E_BUNDLE, "%s: model.vocab must be an object of token -> id", path);
        goto done;
    }
    json_t *unk_tok = json_object_get(model, "unk_token");
    const char *unk_name = json_is_string(unk_tok) ? json_string_value(unk_tok) : "[UNK]";
    json_t *unk = json_object_get(vocab, unk_name);
    json_int_t max_chars = 100;
    if (json_object_get(model, "max_input_chars_per_word") &&
        !fre_int_field(model, "max_input_chars_per_word", 1, 128, &max_chars)) {
        rc = fre_fail(err, FASTROUTE_E_BUNDLE, "%s: max_input_chars_per_word must be in [1, 128]", path);
        goto done;
    }
    if (!json_is_integer(unk)) {
        rc = fre_fail(err, FASTROUTE_E_BUNDLE, "%s: the vocabulary has no unk token %s", path, unk_name);
        goto done;
    }
    e->wp_max_chars = (int)max_chars;
    const size_t n = json_object_size(vocab);
    size_t bytes = 0;
    const char *key;
    json_t *val;
    json_object_foreach(vocab, key, val) {
        if (!json_is_integer(val) || json_integer_value(val) < 0 || json_integer_value(val) > INT32_MAX) {
            rc = fre_fail(err, FASTROUTE_E_BUNDLE, "%s: token id of '%s' is not an int32 >= 0", path, key);
            goto done;
        }
        bytes += strlen(key);
    }
    char *blob = malloc(bytes + 1);
    int64_t *start = malloc(sizeof(int64_t) * (n + 1));
    int32_t *ids = malloc(sizeof(int32_t) * n);
    if (!blob || !start || !ids) {
        free(blob), free(start), free(ids);
        rc = fre_fail(err, FASTROUTE_E_NOMEM, "%s: out of memory", path);
        goto done;
    }
    size_t k = 0, at = 0;
    json_object_foreach(vocab, key, val) {
        const size_t len = strlen(key);
        memcpy(blob + at, key, len);
        start[k] = (int64_t)at;
        ids[k] = (int32_t)json_integer_value(val);
        at += len;
        k++;
    }
    start[n] = (int64_t)at;
    e->vocab = fr_wp_new(blob, start, ids, (int64_t)n);
    free(blob), free(start), free(ids);
    if (!e->vocab) {
        rc = fre_fail(err, FASTROUTE_E_BUNDLE, "%s: the vocabulary could not be built (duplicate tokens?)", path);
        goto done;
    }
    e->unk = (int32_t)json_integer_value(unk);
    json_t *added = json_object_get(doc, "added_tokens");
    if (added && json_is_array(added)) {
        const size_t m = json_array_size(added);
        e->added = calloc(m ? m : 1, sizeof *e->added);
        e->added_len = calloc(m ? m : 1, sizeof *e->added_len);
        if (!e->added || !e->added_len) {
            rc = fre_fail(err, FASTROUTE_E_NOMEM, "%s: out of memory", path);
            goto done;
        }
        for (size_t i = 0; i < m; i++) {
            json_t *t = json_array_get(added, i), *content = json_object_get(t, "content");
            if (!json_is_string(content) || !json_string_length(content))
                continue;
            /* Only tokens matched as written (normalized: false, not single_word, no strip) are
             * split natively; any other kind of added token makes the tokenizer unsupported. */
            if (json_is_true(json_object_get(t, "normalized")) || json_is_true(json_object_get(t, "single_word")) ||
                json_is_true(json_object_get(t, "lstrip")) || json_is_true(json_object_get(t, "rstrip")) ||
                !json_is_integer(json_object_get(t, "id"))) {
                rc = fre_fail(err, FASTROUTE_E_BUNDLE, "%s: added token %s is of a kind the native tokenizer lacks",
                              path, json_string_value(content));
                goto done;
            }
            e->added[e->n_added] = strdup(json_string_value(content));
            e->added_len[e->n_added] = strlen(json_string_value(content));
            if (!e->added[e->n_added]) {
                rc = fre_fail(err, FASTROUTE_E_NOMEM, "%s: out of memory", path);
                goto done;
            }
            e->n_added++;
        }
        e->added_ids = calloc((size_t)(e->n_added ? e->n_added : 1), sizeof(int32_t));
        if (!e->added_ids) {
            rc = fre_fail(err, FASTROUTE_E_NOMEM, "%s: out of memory", path);
            goto done;
        }
        int j = 0;
        for (size_t i = 0; i < m && j < e->n_added; i++) {
            json_t *t = json_array_get(added, i), *content = json_object_get(t, "content");
            if (!json_is_string(content) || !json_string_length(content))
                continue;
            e->added_ids[j++] = (int32_t)json_integer_value(json_object_get(t, "id"));
        }
    }
done:
    json_decref(doc);
    return rc;
}

int fre_embedder_open(fre_embedder *e, const char *dir, fastroute_error *err)
{
    memset(e, 0, sizeof *e);
    char path[1200];
    if (!dir || !*dir)
        return fre_fail(err, FASTROUTE_E_ARGUMENT, "no static embedder directory given (embedder_dir)");
    if (!fre_join(path, sizeof path, dir, "config.json"))
        return fre_fail(err, FASTROUTE_E_ARGUMENT, "embedder directory path too long");
    json_t *cfg = fre_load_json(path, err);
    if (!cfg)
        return err ? err->status : FASTROUTE_E_BUNDLE;
    json_int_t dim, max_tokens, median, unk = -1;
    json_t *fp = json_object_get(cfg, "fingerprint"), *unk_v = json_object_get(cfg, "unk_token_id");
    const int ok = fre_str_is(cfg, "name", "static") && fre_int_field(cfg, "dim", 1, 1 << 16, &dim) &&
                   fre_int_field(cfg, "max_tokens", 1, 1 << 20, &max_tokens) &&
                   fre_int_field(cfg, "median_token_length", 1, 1 << 10, &median) && json_is_string(fp) &&
                   json_string_length(fp) < sizeof e->fingerprint &&
                   (!unk_v || json_is_null(unk_v) || fre_int_field(cfg, "unk_token_id", 0, INT32_MAX, &unk));
    if (!ok) {
        json_decref(cfg);
        return fre_fail(err, FASTROUTE_E_BUNDLE,
                        "%s: expected name \"static\", dim, max_tokens, median_token_length, fingerprint", path);
    }
    e->dim = (int)dim;
    e->max_tokens = (int)max_tokens;
    e->max_chars = (int)(max_tokens * median);
    e->drop = (int32_t)unk; /* unknown tokens are dropped, after truncation (-1: none) */
    snprintf(e->fingerprint, sizeof e->fingerprint, "%s", json_string_value(fp));
    json_decref(cfg);
    fre_join(path, sizeof path, dir, "embeddings.safetensors");
    int rc = fre_tensors_load(path, &e->tensors, err);
    if (rc != FASTROUTE_OK)
        return rc;
    const int64_t tshape[2] = {-1, e->dim};
    const fre_tensor *table = fre_tensor_get(&e->tensors, "table", FRE_I8, 2, tshape, err);
    if (!table) {
        fre_embedder_close(e);
        return FASTROUTE_E_BUNDLE;
    }
    const int64_t sshape[1] = {table->shape[0]};
    const fre_tensor *scales = fre_tensor_get(&e->tensors, "scales", FRE_F32, 1, sshape, err);
    if (!scales) {
        fre_embedder_close(e);
        return FASTROUTE_E_BUNDLE;
    }
    e->table = table->data;
    e->scales = scales->data;
    e->vocab_size = table->shape[0];
    fre_join(path, sizeof path, dir, "tokenizer.json");
    rc = fre_tokenizer_open(e, path, err);
    if (rc != FASTROUTE_OK)
        fre_embedder_close(e);
    return rc;
}

void fre_embedder_close(fre_embedder *e)
{
    if (e->vocab)
        fr_wp_free(e->vocab);
    for (int i = 0; i < e->n_added; i++)
        free(e->added[i]);
    free(e->added);
    free(e->added_len);
    free(e->added_ids);
    fre_tensors_free(&e->tensors);
    memset(e, 0, sizeof *e);
}

size_t fre_embed_scratch(const fre_embedder *e)
{
    /* token ids (max_tokens + 1, kept before and after dropping) and the offsets */
    return sizeof(int32_t) * (size_t)(2 * e->max_tokens + 2) + 64 + 16 * 4;
}

/* Token ids of text[0:len] (valid UTF-8, already cut to max_chars) into ids, unk kept, at most
 * `room` counted; the number written, or -1 when the native tokenizer cannot read it. */
static int64_t fre_segment_ids(const fre_embedder *e, const char *text, size_t len, int32_t *ids, int64_t room)
{
    if (room <= 0 || len == 0)
        return 0;
    const int64_t offsets[2] = {0, (int64_t)len};
    int64_t count = 0;
    const int64_t cap = (int64_t)len + 1 < room ? (int64_t)len + 1 : room;
    if (fr_wp_encode_batch(e->vocab, text, offsets, 1, e->unk, e->wp_max_chars, room, -1, ids, cap, &count) != FR_OK)
        return -1;
    return count;
}

/* Where the leftmost added token starts in text (the longest one there goes in *which), or -1:
 * tokenizers matches added tokens in the raw text before anything else. */
static int64_t fre_next_added(const fre_embedder *e, const char *text, size_t len, int *which)
{
    for (size_t i = 0; e->n_added && i < len; i++) {
        int found = -1;
        for (int a = 0; a < e->n_added; a++)
            if (text[i] == e->added[a][0] && e->added_len[a] <= len - i &&
                memcmp(text + i, e->added[a], e->added_len[a]) == 0 && (found < 0 || e->added_len[a] > e->added_len[found]))
                found = a;
        if (found >= 0) {
            *which = found;
            return (int64_t)i;
        }
    }
    return -1;
}

int fre_embed(const fre_embedder *e, fre_arena *scratch, const char *text, size_t len, float *out,
              fastroute_error *err)
{
    const size_t mark = scratch->used;
    int32_t *ids = fre_alloc(scratch, sizeof(int32_t) * (size_t)(e->max_tokens + 1));
    if (!ids)
        return fre_fail(err, FASTROUTE_E_NOMEM, "the scratch is too small for the embedder");
    const size_t n = fre_utf8_prefix(text, len, (size_t)e->max_chars); /* Python's t[:max_chars] */
    int ascii = 1;
    for (size_t i = 0; i < n && ascii; i++)
        ascii = (unsigned char)text[i] < 0x80;
    if (!ascii && !e->unicode) {
        scratch->used = mark;
        return fre_fail(err, FASTROUTE_E_TEXT, "this tokenizer file is read natively for ASCII text only");
    }
    int64_t total = 0;
    size_t at = 0;
    while (at <= n && total < e->max_tokens) {
        int which = 0;
        const int64_t hit = fre_next_added(e, text + at, n - at, &which);
        const size_t seg = hit < 0 ? n - at : (size_t)hit;
        const int64_t got = fre_segment_ids(e, text + at, seg, ids + total, e->max_tokens - total);
        if (got < 0) {
            scratch->used = mark;
            return fre_fail(err, FASTROUTE_E_TEXT,
                            "the text holds a character the native tokenizer leaves to Hugging Face tokenizers");
        }
        total += got;
        if (hit < 0)
            break;
        if (total < e->max_tokens)
            ids[total++] = e->added_ids[which];
        at += seg + e->added_len[which];
    }
    int64_t kept = 0;
    for (int64_t i = 0; i < total; i++)
        if (ids[i] != e->drop)
            ids[kept++] = ids[i];
    const int64_t offsets[2] = {0, kept};
    const int rc = fr_embedding_bag_i8(e->table, e->scales, e->vocab_size, e->dim, ids, kept, offsets, 1, out, 1);
    scratch->used = mark;
    if (rc != FR_OK)
        return fre_fail(err, FASTROUTE_E_SCORING, "the embedding bag failed (%d)", rc);
    return FASTROUTE_OK;
}
