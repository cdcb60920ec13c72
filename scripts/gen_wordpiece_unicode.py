"""Writes csrc/wordpiece_unicode.c: what BERT's uncased normalizer and pre-tokenizer do to each
non-ASCII code point, so csrc/wordpiece.c can tokenize any text as `tokenizers` does.

Why a generated table: the C code must agree with `tokenizers` character for character, and
`tokenizers` (Rust) has its own Unicode tables, not Python's. So each code point's behaviour is
derived from Python's `unicodedata` (clean_text, Chinese-character padding, NFD, accent
stripping, lowercasing, then whitespace/punctuation splitting), then checked against the
installed `tokenizers` on that character in context; where the two disagree (Unicode versions
differ) the code point is marked FALLBACK, and a text holding one goes to `tokenizers` whole.

    .venv/bin/python scripts/gen_wordpiece_unicode.py            # rewrite the table
    .venv/bin/python scripts/gen_wordpiece_unicode.py --check    # exit 1 when it is stale
"""

from __future__ import annotations

import argparse
import sys
import unicodedata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HEADER = ROOT / "csrc" / "wordpiece_unicode.c"
TOKENIZER = ROOT / "fastroute" / "embedders" / "static_model" / "tokenizer.json"
# Kinds (FR_WPU_* in csrc/wordpiece_unicode.h): how a code point enters the normalised, pre-tokenised text.
WORD, WORD_MAP, REMOVE, SPACE, ISOLATE, ISOLATE_MAP, HANGUL, FALLBACK = range(8)
# Rust's char::is_whitespace (the White_Space property), stable since Unicode 6.3.
WHITE_SPACE = {*range(9, 14), 0x20, 0x85, 0xA0, 0x1680, *range(0x2000, 0x200B), 0x2028, 0x2029, 0x202F, 0x205F, 0x3000}
CJK = [(0x4E00, 0x9FFF), (0x3400, 0x4DBF), (0x20000, 0x2A6DF), (0x2A700, 0x2B73F), (0x2B740, 0x2B81F),
       (0x2B820, 0x2CEAF), (0xF900, 0xFAFF), (0x2F800, 0x2FA1F)]  # fmt: skip


def _punct(c: str) -> bool:
    return (c.isascii() and not c.isalnum() and c.isprintable() and c != " ") or unicodedata.category(c)[0] == "P"


def model(cp: int) -> tuple[int, str]:
    """(kind, normalised text) of one code point, from unicodedata (tokenizers' BertNormalizer
    with clean_text, handle_chinese_chars, strip_accents and lowercase, then BertPreTokenizer)."""
    c, cat = chr(cp), unicodedata.category(chr(cp))
    if 0xD800 <= cp < 0xE000:
        return FALLBACK, ""
    if cp in (0, 0xFFFD) or (c not in "\t\n\r" and cat in ("Cc", "Cf", "Co")):
        return REMOVE, ""
    if cp in WHITE_SPACE:
        return SPACE, ""
    if cat == "Cn":  # unassigned here: no decomposition, no case, no class (tokenizers may know better)
        return (ISOLATE if any(lo <= cp <= hi for lo, hi in CJK) else WORD), c
    out = "".join(ch for ch in unicodedata.normalize("NFD", c) if unicodedata.category(ch) != "Mn")
    out = "".join(ch.lower() for ch in out)
    if any(unicodedata.combining(ch) for ch in out) or any(ord(ch) in WHITE_SPACE for ch in out):
        return FALLBACK, out  # NFD reordering or a split inside: not a per-character rule
    if not out:
        return REMOVE, ""
    if any(lo <= cp <= hi for lo, hi in CJK) or (len(out) == 1 and _punct(out)):
        return (ISOLATE, out) if out == c else (ISOLATE_MAP, out)
    if any(_punct(ch) for ch in out):
        return FALLBACK, out
    if 0xAC00 <= cp <= 0xD7A3:
        return HANGUL, out
    return (WORD, out) if out == c else (WORD_MAP, out)


def expected(kind: int, out: str) -> list[str]:
    """The pre-tokens tokenizers should give for "a" + the character + "b"."""
    return {REMOVE: ["ab"], SPACE: ["a", "b"], ISOLATE: ["a", out, "b"], ISOLATE_MAP: ["a", out, "b"]}.get(
        kind, ["a" + out + "b"]
    )


def observed(cps: list[int]) -> list[list[str]]:
    """tokenizers' pre-tokens of "a" + c + "b" for each code point, many per call ("|" apart)."""
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(TOKENIZER))
    norm, pre = tok.normalizer, tok.pre_tokenizer
    result: list[list[str]] = []
    for i in range(0, len(cps), 4096):
        chunk = cps[i : i + 4096]
        toks = [t for t, _ in pre.pre_tokenize_str(norm.normalize_str("|".join("a" + chr(c) + "b" for c in chunk)))]
        groups: list[list[str]] = [[]]
        for t in toks:
            groups.append([]) if t == "|" else groups[-1].append(t)
        if len(groups) != len(chunk):  # a character made or ate a "|": ask one by one
            groups = [[t for t, _ in pre.pre_tokenize_str(norm.normalize_str("a" + chr(c) + "b"))] for c in chunk]
        result.extend(groups)
    return result


def table() -> tuple[list[tuple[int, int, str]], dict[str, int]]:
    """Ranges (first code point, kind, text) over 0x80..0x10FFFF, and disagreement counts."""
    cps = [cp for cp in range(0x80, 0x110000) if not 0xD800 <= cp < 0xE000]
    seen = observed(cps)
    kinds = {cp: (FALLBACK, "") for cp in range(0xD800, 0xE000)}
    stats = {"fallback_by_model": 0, "disagree_with_tokenizers": 0}
    for cp, got in zip(cps, seen):
        kind, out = model(cp)
        if kind == FALLBACK:
            stats["fallback_by_model"] += 1
        elif got != expected(kind, out) or len(out.encode()) > 31 or len(out) > len(chr(cp).encode()):
            stats["disagree_with_tokenizers"] += 1
            kind, out = FALLBACK, ""
        kinds[cp] = (kind, out if kind in (WORD_MAP, ISOLATE_MAP) else "")
    ranges: list[tuple[int, int, str]] = []
    for cp in range(0x80, 0x110000):
        kind, out = kinds[cp]
        if not ranges or ranges[-1][1] != kind or out or ranges[-1][2]:
            ranges.append((cp, kind, out))
    return ranges, stats


def render() -> str:
    import tokenizers

    ranges, stats = table()
    pool, where, vals = b"", {}, []
    for _, kind, out in ranges:
        raw = out.encode()
        if raw and raw not in where:
            where[raw], pool = len(pool), pool + raw
        vals.append(kind | (len(raw) << 3) | (where.get(raw, 0) << 8))
    lines = [
        "/* Generated by scripts/gen_wordpiece_unicode.py: do not edit. What BERT's uncased normalizer and",
        " * pre-tokenizer do to each code point >= 0x80; range k covers [fr_wpu_lo[k], fr_wpu_lo[k+1]).",
        " * fr_wpu_val: kind (bits 0-2: FR_WPU_*), replacement length (bits 3-7), pool offset (8-31).",
        f" * Python unicodedata {unicodedata.unidata_version}, checked against tokenizers {tokenizers.__version__}:",
        f" * {stats['disagree_with_tokenizers']} code points disagree and {stats['fallback_by_model']} are not"
        " per-character rules (both FR_WPU_FALLBACK). */",
        '#include "fr_internal.h"',
        '#include "wordpiece_unicode.h"',
        "",
        f"#define FR_WPU_N {len(ranges)}",
        "static const uint32_t fr_wpu_lo[FR_WPU_N] = {",
    ]
    lines += _rows([f"0x{lo:x}" for lo, _, _ in ranges])
    lines += ["};", "static const uint32_t fr_wpu_val[FR_WPU_N] = {"]
    lines += _rows([f"0x{v:x}" for v in vals])
    lines += ["};", f"static const unsigned char fr_wpu_pool[{max(len(pool), 1)}] = {{"]
    lines += _rows([str(b) for b in pool] or ["0"])
    lines += [
        "};",
        "",
        "const char *fr_wp_unicode_version(void)",
        "{",
        f'    return "unicodedata={unicodedata.unidata_version} tokenizers={tokenizers.__version__}";',
        "}",
        "",
        "int fr_wpu_lookup(uint32_t cp, const unsigned char **rep, int *len)",
        "{",
        "    int64_t lo = 0, hi = FR_WPU_N - 1;",
        "    if (cp < 0x80 || cp > 0x10ffff)",
        "        return FR_WPU_FALLBACK;",
        "    while (lo < hi) { /* the last range starting at or below cp */",
        "        int64_t mid = (lo + hi + 1) / 2;",
        "        if (fr_wpu_lo[mid] <= cp)",
        "            lo = mid;",
        "        else",
        "            hi = mid - 1;",
        "    }",
        "    uint32_t v = fr_wpu_val[lo];",
        "    *rep = fr_wpu_pool + (v >> 8), *len = (int)((v >> 3) & 31);",
        "    return (int)(v & 7);",
        "}",
        "",
    ]
    return "\n".join(lines)


def _rows(items: list[str], width: int = 110) -> list[str]:
    rows, cur = [], "   "
    for it in items:
        if len(cur) + len(it) + 2 > width:
            rows.append(cur)
            cur = "   "
        cur += " " + it + ","
    return rows + [cur]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare with the checked-in header, write nothing")
    args = parser.parse_args()
    text = render()
    if args.check:
        same = HEADER.is_file() and HEADER.read_text() == text
        print("up to date" if same else f"{HEADER} is stale: rerun {Path(__file__).name}")
        return 0 if same else 1
    HEADER.write_text(text)
    print(f"wrote {HEADER} ({len(text)} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
