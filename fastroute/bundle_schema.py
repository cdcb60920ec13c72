"""Checks of a bundle's manifest before any router sees it: its keys' types and ranges, per
router kind (the tensors are bundle_tensors' job). A bundle may come from anywhere, so every
error names the file, the key, the value and what was expected, and nothing is coerced
(booleans are not integers, 1e30 is not a tier)."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any, Callable, NoReturn

from .errors import BundleError

MAX_DIM = 1 << 20  # embedding widths and similar sizes: far above any real one, far below overflow
MAX_COUNT = 1 << 31


def read_json(path: Path, what: str = "JSON file") -> Any:
    """The JSON document at `path`; a BundleError naming the file for anything unreadable,
    including nesting too deep to parse, NaN/Infinity literals and duplicate keys."""

    def no_constants(name: str) -> Any:
        raise ValueError(f"non-standard JSON constant {name}")

    def no_duplicates(pairs: list) -> dict:
        out: dict = {}
        for k, v in pairs:
            if k in out:
                raise ValueError(f"duplicate key {k!r}")
            out[k] = v
        return out

    try:
        text = path.read_bytes().decode("utf-8")
        return json.loads(text, parse_constant=no_constants, object_pairs_hook=no_duplicates)
    except UnicodeDecodeError as exc:
        raise BundleError(f"{path}: {what} is not UTF-8 (byte offset {exc.start})") from None
    except json.JSONDecodeError as exc:
        raise BundleError(f"{path}: not valid JSON ({exc})") from None
    except RecursionError:
        raise BundleError(f"{path}: not valid JSON (nested too deeply)") from None
    except ValueError as exc:
        raise BundleError(f"{path}: not valid JSON ({exc})") from None
    except OSError as exc:
        raise BundleError(f"{path}: unreadable ({exc})") from None


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


class _Manifest:
    """Typed access to one manifest's keys; each failed check is a BundleError naming file and key."""

    def __init__(self, doc: dict, where: Path) -> None:
        self.doc, self.where = doc, where

    def fail(self, key: str, expected: str) -> NoReturn:
        got = _show(self.doc[key]) if key in self.doc else "nothing"
        raise BundleError(f"{self.where}: key {key!r}: expected {expected}, got {got}")

    def integer(self, key: str, lo: int, hi: int, *, optional: bool = False, null: bool = False) -> None:
        if key not in self.doc and optional:
            return
        v = self.doc.get(key)
        if v is None and null and key in self.doc:
            return
        if type(v) is not int or not lo <= v <= hi:  # type(): True is an int to isinstance
            self.fail(key, f"an integer in [{lo}, {hi}]" + (" or null" if null else ""))

    def number(
        self, key: str, check: Callable[[float], bool], expected: str, *, optional: bool = False, null: bool = False
    ) -> None:
        if key not in self.doc and optional:
            return
        v: Any = self.doc.get(key)  # a JSON value: the checks below narrow it
        if v is None and null and key in self.doc:
            return
        if type(v) not in (int, float) or not math.isfinite(v) or not check(v):
            self.fail(key, expected + (" or null" if null else ""))

    def string(self, key: str, *, choices: "tuple[str, ...] | None" = None, optional: bool = False) -> None:
        if key not in self.doc and optional:
            return
        v = self.doc.get(key)
        if not isinstance(v, str) or not v or (choices is not None and v not in choices):
            self.fail(key, f"one of {list(choices)}" if choices else "a non-empty string")

    def boolean(self, key: str, *, optional: bool = False) -> None:
        if key not in self.doc and optional:
            return
        if not isinstance(self.doc.get(key), bool):
            self.fail(key, "true or false")

    def per_model(self, key: str, models: list[str], check: Callable[[Any], bool], expected: str) -> None:
        v = self.doc.get(key)
        if not isinstance(v, dict) or set(v) != set(models):
            self.fail(key, f"an object with one entry per model ({len(models)})")
        for m in models:
            if not check(v[m]):
                raise BundleError(f"{self.where}: key {key!r}: entry {m!r}: expected {expected}, got {_show(v[m])}")


def check_format_version(doc: dict, where: Path) -> int:
    v = doc.get("format_version")
    if type(v) is not int or v < 1:
        raise BundleError(
            f"{where}: key 'format_version': expected a positive integer, got "
            f"{_show(v) if 'format_version' in doc else 'nothing'}"
        )
    return v


def _is_int(lo: int, hi: int) -> Callable[[Any], bool]:
    return lambda v: type(v) is int and lo <= v <= hi


def _is_finite(v: Any) -> bool:
    return type(v) in (int, float) and math.isfinite(v)


def _sw_ranking(m: _Manifest, models: list[str]) -> None:
    m.integer("num_tiers", 1, max(1, len(models)))
    m.per_model(
        "tiers", models, _is_int(0, m.doc["num_tiers"] - 1), f"an integer tier in [0, {m.doc['num_tiers'] - 1}]"
    )
    m.per_model("model_ratings", models, _is_finite, "a finite number")
    m.string("storage", choices=("float32", "float16"), optional=True)
    m.integer("nprobe", 1, MAX_COUNT, optional=True, null=True)
    m.integer("ivf_nlist", 1, MAX_COUNT, optional=True, null=True)
    m.number("sharpness", lambda x: x > 0, "a finite number > 0", optional=True, null=True)
    m.string("balance", choices=("battle", "prompt"), optional=True)


def _mf(m: _Manifest, models: list[str]) -> None:
    m.integer("dim", 1, MAX_DIM, optional=True)
    m.boolean("use_proj", optional=True)


def _random(m: _Manifest, models: list[str]) -> None:
    m.integer("seed", 0, 2**63 - 1, optional=True, null=True)


def _classifier(m: _Manifest, models: list[str]) -> None:
    m.string("checkpoint", optional=True)
    m.integer("batch_size", 1, MAX_COUNT, optional=True)
    if m.doc.get("kind") == "bert":
        m.integer("max_length", 1, MAX_DIM, optional=True, null=True)
    else:
        m.integer("score_threshold", 1, 5, optional=True)
        m.integer("max_new_tokens", 1, MAX_DIM, optional=True)


def _is_embedder_spec(emb: Any) -> bool:
    return (
        isinstance(emb, dict)
        and not set(emb) - {"name", "dim", "fingerprint"}
        and isinstance(emb.get("name"), str)
        and bool(emb["name"])
        and type(emb.get("dim")) is int
        and 1 <= emb["dim"] <= MAX_DIM
        and isinstance(emb.get("fingerprint"), (str, type(None)))
    )


def _length(m: _Manifest, models: list[str]) -> None:
    m.number("half_chars", lambda x: x > 0, "a finite number > 0", optional=True)


KIND_CHECKS = {
    "mf": _mf,
    "sw_ranking": _sw_ranking,
    "random": _random,
    "length": _length,
    "bert": _classifier,
    "causal_llm": _classifier,
}
NEEDS_EMBEDDER = ("mf", "sw_ranking")


def validate_manifest(doc: dict, where: Path) -> None:
    """Raises a BundleError naming `where` and the key unless `doc` is a well-formed manifest."""
    check_format_version(doc, where)
    m = _Manifest(doc, where)
    kind = doc.get("kind")
    if not isinstance(kind, str) or kind not in KIND_CHECKS:
        raise BundleError(f"{where}: key 'kind': unknown router kind {_show(kind)}; known: {sorted(KIND_CHECKS)}")
    m.string("fastroute_version", optional=True)
    models = doc.get("models")
    if (
        not isinstance(models, list)
        or len(models) < 2
        or len(models) > MAX_COUNT
        or not all(isinstance(x, str) and x for x in models)
    ):
        m.fail("models", "a list of at least two non-empty model names (strings)")
    if len(set(models)) != len(models):
        m.fail("models", "distinct model names")
    for key in ("strong_model", "weak_model"):
        if doc.get(key) not in models or not isinstance(doc.get(key), str):
            m.fail(key, "one of the names in 'models'")
    emb = doc.get("embedder")
    if not (emb is None and doc["kind"] not in NEEDS_EMBEDDER) and not _is_embedder_spec(emb):
        m.fail(
            "embedder",
            f'{{"name": <string>, "dim": <integer in [1, {MAX_DIM}]>, "fingerprint": <string, optional>}}'
            + ("" if doc["kind"] in NEEDS_EMBEDDER else " or null"),
        )
    pair = doc.get("win_rate_quantiles_pair")
    if "win_rate_quantiles_pair" in doc and (
        not isinstance(pair, list) or len(pair) != 2 or not all(isinstance(x, str) for x in pair)
    ):
        m.fail("win_rate_quantiles_pair", "[strong model, weak model]")
    KIND_CHECKS[doc["kind"]](m, models)
