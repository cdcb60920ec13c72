"""Where each model is served: an OpenAI-compatible base URL, the environment variable
holding its key, and optionally its price per million input/output tokens.

A TOML upstreams file:

    [models."gpt-4-1106-preview"]
    base_url = "https://api.openai.com/v1"
    api_key_env = "OPENAI_API_KEY"
    price_per_1m_input = 10.0
    price_per_1m_output = 30.0

    [models."gpt-4o"]                 # any name: the model the router routes to
    base_url = "https://api.openai.com/v1"
    scored_as = "gpt-4-1106-preview"  # optional: the router's model it is scored as

A model's name is what `--strong-model` / `--weak-model` name and what is sent upstream;
`scored_as` says which of the router's own models it is scored as (default: the model of
that name or alias, else the router's own strong / weak model; see fastroute.load_router).

A base URL must not hold credentials (`http://user:pass@host/v1`): they would be sent in
the clear to every log on the way and are refused at start-up; put the key in the
environment variable named by `api_key_env` (sent as `Authorization: Bearer <key>`). A query
string (e.g. Azure's `?api-version=`) is kept and sent, but never shown: errors and metrics
name an upstream by scheme://host:port only.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit


def _check_base_url(url: str) -> None:
    if "@" in url:
        # Refused before any parsing: a password holding '/', '?' or '#' is misparsed as a host,
        # port or path, and could then be echoed in an error message.
        raise ValueError(
            "upstream base URL holds '@': credentials (user:password@) are not supported; put the key "
            "in the environment variable named by --api-key-env / api_key_env (write an '@' in a "
            "path or query as %40)"
        )
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        raise ValueError("upstream base URL is malformed (a bad host or port)") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"upstream base URL must be http(s)://host[:port]/path, got scheme {parts.scheme!r}")
    if parts.fragment:
        raise ValueError(f"upstream base URL {display_url(url)} has a #fragment")


def display_url(url: str) -> str:
    """How an upstream is named in errors, logs and metrics: scheme://host:port, never its
    path, query string or credentials."""
    try:
        parts = urlsplit(url)
        port = parts.port or {"http": 80, "https": 443}.get(parts.scheme, 0)
        host = parts.hostname or "?"
    except ValueError:
        return "<malformed upstream URL>"
    host = f"[{host}]" if ":" in host else host
    return f"{parts.scheme}://{host}:{port}"


@dataclass(frozen=True)
class Upstream:
    base_url: str
    api_key_env: "str | None" = None
    price_per_1m_input: "float | None" = None
    price_per_1m_output: "float | None" = None
    scored_as: "str | None" = None  # the router's model this model is scored as

    def __post_init__(self) -> None:
        _check_base_url(self.base_url)

    @property
    def display(self) -> str:
        return display_url(self.base_url)

    @property
    def chat_url(self) -> str:
        """<base path>/chat/completions, keeping the base URL's query string."""
        parts = urlsplit(self.base_url)
        url = f"{parts.scheme}://{parts.netloc}{parts.path.rstrip('/')}/chat/completions"
        return f"{url}?{parts.query}" if parts.query else url

    def api_key(self) -> "str | None":
        return os.environ.get(self.api_key_env) or None if self.api_key_env else None

    def secrets(self) -> list[str]:
        """What must never reach a client: the key and the base URL's query values."""
        from urllib.parse import parse_qsl

        values = [v for _, v in parse_qsl(urlsplit(self.base_url).query, keep_blank_values=False)]
        return [x for x in (self.api_key(), *values) if x]

    def headers(self) -> dict[str, str]:
        key = self.api_key()
        return {"Authorization": f"Bearer {key}"} if key else {}


@dataclass(frozen=True)
class UpstreamsFile:
    """An upstreams file, read: its `models` ([models."<name>"]) and its routing `profiles`
    tables as written ([profiles."<name>"], made into profiles by decision.build)."""

    path: Path
    models: dict[str, Upstream]
    profiles: Any


def read_upstreams(path: "str | Path") -> UpstreamsFile:
    """The upstreams file at `path`; a ValueError naming the file and the key for anything wrong."""
    try:
        import tomllib
    except ImportError:  # Python < 3.11
        import tomli as tomllib  # type: ignore[no-redef, unused-ignore]  # redefined only where tomllib exists
    p = Path(path)
    try:
        doc = tomllib.loads(p.read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ValueError(f"{p}: unreadable upstreams file ({exc})") from None
    unknown = sorted(set(doc) - {"models", "profiles"})
    if unknown:
        raise ValueError(f"{p}: unknown table(s) {unknown}; an upstreams file has [models.*] and [profiles.*]")
    return UpstreamsFile(p, _models(p, doc.get("models")), doc.get("profiles", {}))


def _models(p: Path, models: Any) -> dict[str, Upstream]:
    if not isinstance(models, dict) or not models:
        raise ValueError(f'{p}: expected a [models."<name>"] table per model')
    out = {}
    for name, spec in models.items():
        if not isinstance(spec, dict) or not isinstance(spec.get("base_url"), str):
            raise ValueError(f"{p}: model {name!r} needs a base_url")
        unknown = set(spec) - {"base_url", "api_key_env", "price_per_1m_input", "price_per_1m_output", "scored_as"}
        if unknown:
            raise ValueError(f"{p}: model {name!r} has unknown keys {sorted(unknown)}")
        if not isinstance(spec.get("scored_as", ""), str) or spec.get("scored_as") == "":
            raise ValueError(f"{p}: model {name!r}: scored_as must name one of the router's models")
        try:
            out[name] = Upstream(
                spec["base_url"].rstrip("/"),
                spec.get("api_key_env"),
                spec.get("price_per_1m_input"),
                spec.get("price_per_1m_output"),
                spec.get("scored_as"),
            )
        except ValueError as exc:
            raise ValueError(f"{p}: model {name!r}: {exc}") from None
    return out
