"""Where each model is served: an OpenAI-compatible base URL, the environment variable
holding its key, and optionally its price per million input/output tokens.

A TOML upstreams file:

    [models."gpt-4-1106-preview"]
    base_url = "https://api.openai.com/v1"
    api_key_env = "OPENAI_API_KEY"
    price_per_1m_input = 10.0
    price_per_1m_output = 30.0
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Upstream:
    base_url: str
    api_key_env: "str | None" = None
    price_per_1m_input: "float | None" = None
    price_per_1m_output: "float | None" = None

    def headers(self) -> dict[str, str]:
        if not self.api_key_env:
            return {}
        key = os.environ.get(self.api_key_env)
        return {"Authorization": f"Bearer {key}"} if key else {}


def load_upstreams(path: "str | Path") -> dict[str, Upstream]:
    try:
        import tomllib
    except ImportError:  # Python < 3.11
        import tomli as tomllib  # type: ignore[no-redef]
    p = Path(path)
    try:
        doc = tomllib.loads(p.read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ValueError(f"{p}: unreadable upstreams file ({exc})") from None
    models = doc.get("models")
    if not isinstance(models, dict) or not models:
        raise ValueError(f"{p}: expected a [models.\"<name>\"] table per model")
    out = {}
    for name, spec in models.items():
        if not isinstance(spec, dict) or not isinstance(spec.get("base_url"), str):
            raise ValueError(f"{p}: model {name!r} needs a base_url")
        unknown = set(spec) - {"base_url", "api_key_env", "price_per_1m_input", "price_per_1m_output"}
        if unknown:
            raise ValueError(f"{p}: model {name!r} has unknown keys {sorted(unknown)}")
        out[name] = Upstream(spec["base_url"].rstrip("/"), spec.get("api_key_env"),
                             spec.get("price_per_1m_input"), spec.get("price_per_1m_output"))
    return out
