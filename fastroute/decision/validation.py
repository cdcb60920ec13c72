"""Reading a request body strictly, so that nothing malformed reaches a router or an upstream:
UTF-8 only, no NaN/Infinity, bounded nesting, no text that cannot be encoded as UTF-8 (a lone
surrogate from a "\\ud800" escape), and JSON types checked, never coerced."""

from __future__ import annotations

import json
import math
import re
from typing import Any, Mapping

from ..embedders.base import lone_surrogate
from .errors import APIError, bad_request

try:
    import orjson
except ImportError:  # pragma: no cover - orjson comes with the serve extra
    orjson = None  # type: ignore[assignment]

MAX_DEPTH = 64  # request bodies nest a few levels; anything deeper is rejected before use
_MODEL_NAME = re.compile(r"[\x20-\x7e]{1,256}")


class _Bad(Exception):
    def __init__(self, message: str, shallow: bool = False) -> None:
        self.path: list[str | int] = []  # the keys and indices down to the bad value
        self.message, self.shallow = message, shallow  # shallow: name the top-level field only


def _reject_constant(name: str) -> Any:
    raise ValueError(f"the request body holds {name}, which is not JSON (numbers must be finite)")


def _finite_float(text: str) -> float:
    x = float(text)
    if not math.isfinite(x):
        raise ValueError(f"the number {text[:40]} is not finite as a double")
    return x


# Built once: json.loads with keyword arguments builds a new decoder on every call.
_DECODER = json.JSONDecoder(parse_constant=_reject_constant, parse_float=_finite_float)
# A lone surrogate can only come from a \uD800-\uDFFF escape: UTF-8 text cannot hold one.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
_SURROGATE_ESCAPE_B = re.compile(rb"\\u[dD][89a-fA-F]")


def parse_json(raw: bytes, charset: "str | None" = None) -> dict:
    """Parses a request body into a JSON object, or raises an APIError saying what is wrong."""
    if charset is not None and charset.lower().replace("_", "-") not in ("utf-8", "utf8"):
        raise APIError(415, f"unsupported charset {charset!r}: send JSON as UTF-8", "invalid_request_error")
    fast = _fast_loads(raw)
    if fast is not None:
        return fast
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise bad_request(f"the request body is not valid UTF-8 (byte {exc.start})") from None
    try:
        body = _DECODER.decode(text)
    except RecursionError:
        raise bad_request(f"the request body is JSON nested deeper than {MAX_DEPTH} levels") from None
    except json.JSONDecodeError as exc:
        raise bad_request(
            f"the request body is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from None
    except ValueError as exc:
        message = str(exc)
        if "integer string conversion" in message:
            message = "the request body holds an integer with too many digits"
        raise bad_request(message) from None
    if not isinstance(body, dict):
        raise bad_request("the request body must be a JSON object")
    # The tree walk is needed only when the text could hold a surrogate escape or nest deeply:
    # two C-speed scans skip it for nearly every real request.
    if _SURROGATE_ESCAPE.search(text) or raw.count(b"[") + raw.count(b"{") >= MAX_DEPTH:
        check_tree(body)
    return body


# orjson reads an integer of 19 or more digits as a float: such bodies take the standard path.
_LONG_NUMBER = re.compile(rb"\d{19}")


def _fast_loads(raw: bytes) -> "dict | None":
    """The body through orjson when that gives exactly what the standard path would (a JSON
    object, no long integer, shallow, no surrogate escape); None sends it the standard way,
    which also words every error."""
    if orjson is None or _LONG_NUMBER.search(raw) or raw.count(b"[") + raw.count(b"{") >= MAX_DEPTH:
        return None
    try:
        body = orjson.loads(raw)  # refuses NaN, infinity, invalid UTF-8 and lone surrogates
    except orjson.JSONDecodeError:
        return None
    return body if isinstance(body, dict) and not _SURROGATE_ESCAPE_B.search(raw) else None


def _path(parts: list) -> "str | None":
    out = ""
    for p in reversed(parts):
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out or None


def _utf8_ok(s: str) -> bool:
    return lone_surrogate(s) is None


def _walk(obj: Any, depth: int) -> None:
    if isinstance(obj, str):
        if not _utf8_ok(obj):
            raise _Bad("holds a lone UTF-16 surrogate (such as \\ud800): text must be encodable as UTF-8")
    elif isinstance(obj, dict):
        if depth >= MAX_DEPTH:
            raise _Bad(f"is JSON nested deeper than {MAX_DEPTH} levels", shallow=True)
        for k, v in obj.items():
            if not _utf8_ok(k):
                raise _Bad("has a key with a lone UTF-16 surrogate: text must be encodable as UTF-8")
            try:
                _walk(v, depth + 1)
            except _Bad as bad:
                bad.path.append(k)
                raise
    elif isinstance(obj, list):
        if depth >= MAX_DEPTH:
            raise _Bad(f"is JSON nested deeper than {MAX_DEPTH} levels", shallow=True)
        for i, v in enumerate(obj):
            try:
                _walk(v, depth + 1)
            except _Bad as bad:
                bad.path.append(i)
                raise


def check_tree(body: dict) -> None:
    """Rejects deep nesting and text that is not encodable as UTF-8, naming the field."""
    try:
        _walk(body, 0)
    except _Bad as bad:
        param = _path(bad.path[-1:] if bad.shallow else bad.path)
        raise bad_request(f"'{param}' {bad.message}" if param else f"the request body {bad.message}", param) from None


def json_bool(body: Mapping[str, Any], key: str) -> bool:
    """A JSON boolean (absent or null: false). "yes", "false", 1 are errors, not coerced."""
    value = body.get(key)
    if value is None:
        return False
    if not isinstance(value, bool):
        raise bad_request(f"'{key}' must be true or false, got {json.dumps(value)[:60]}", key)
    return value


def json_number(value: Any, key: str) -> float:
    """A JSON number; booleans and strings are not numbers, nor is an integer beyond a double."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise bad_request(f"{key} {json.dumps(value)[:60]} is not a number", key)
    try:
        return float(value)
    except OverflowError:
        raise bad_request(f"{key} {str(value)[:40]}... is too large for a double", key) from None


def loads_strict(data: "bytes | str") -> Any:
    """JSON from an upstream or a client, strictly: ValueError for anything that is not plain
    JSON (NaN/Infinity, numbers beyond a double, nesting too deep for the parser)."""
    if (
        orjson is not None
        and isinstance(data, bytes)
        and not _LONG_NUMBER.search(data)
        and data.count(b"[") + data.count(b"{") < MAX_DEPTH  # orjson nests deeper than the standard path
    ):
        try:
            return orjson.loads(data)  # the same values; anything it refuses takes the standard path
        except orjson.JSONDecodeError:
            pass
    try:
        return _DECODER.decode(data.decode("utf-8") if isinstance(data, bytes) else data)
    except RecursionError:
        raise ValueError("JSON nested too deeply") from None


def json_str(value: Any, key: str, what: str = "a string") -> str:
    if not isinstance(value, str):
        raise bad_request(f"'{key}' must be {what}, got {json.dumps(value)[:60]}", key)
    return value


def model_name(value: Any) -> str:
    """A model name fit to forward and to echo in a response header: printable ASCII."""
    name = json_str(value, "model")
    if not _MODEL_NAME.fullmatch(name):
        raise bad_request("'model' must be 1-256 printable ASCII characters (no control characters)", "model")
    return name
