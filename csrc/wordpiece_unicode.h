/* The per-code-point table of BERT's uncased normalizer and pre-tokenizer, generated into
 * csrc/wordpiece_unicode.c by scripts/gen_wordpiece_unicode.py; internal to csrc/wordpiece.c. */
#ifndef FR_WORDPIECE_UNICODE_H
#define FR_WORDPIECE_UNICODE_H
#include <stdint.h>

/* How a code point enters the normalised text: kept in the word as itself (WORD) or as a
 * replacement (WORD_MAP: NFD minus accents, lowercased); removed (control, format, accent);
 * whitespace; a word of its own (ISOLATE: punctuation, CJK; ISOLATE_MAP: replaced); a Hangul
 * syllable (decomposed into its jamo in code); FALLBACK: Python and tokenizers disagree, or no
 * per-character rule: the whole text goes to tokenizers. */
enum { FR_WPU_WORD, FR_WPU_WORD_MAP, FR_WPU_REMOVE, FR_WPU_SPACE, FR_WPU_ISOLATE, FR_WPU_ISOLATE_MAP,
       FR_WPU_HANGUL, FR_WPU_FALLBACK };

/* Kind of code point cp >= 0x80; for the _MAP kinds the replacement's UTF-8 is rep[0 .. len). */
int fr_wpu_lookup(uint32_t cp, const unsigned char **rep, int *len);
#endif
