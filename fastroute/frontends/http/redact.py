"""What of an upstream's answer may reach a client: an allow-list of response headers (no
Set-Cookie, Server or internal headers), and error bodies with keys and bearer tokens masked
(an upstream 401 often echoes the key it was sent)."""

from __future__ import annotations

import re
from typing import Iterable, Mapping

_ALLOWED = {
    "content-type",
    "retry-after",
    "x-request-id",
    "request-id",
    "openai-processing-ms",
    "openai-version",
    "openai-model",
}
_ALLOWED_PREFIXES = ("x-ratelimit-", "ratelimit-")
_TOKENS = [
    (re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]+"), r"\1 ***"),
    (re.compile(r"\bsk-[A-Za-z0-9_-]{4,}"), "sk-***"),
]
MASK = "***"


def response_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """The upstream response headers a client may see."""
    return {k: v for k, v in headers.items() if k.lower() in _ALLOWED or k.lower().startswith(_ALLOWED_PREFIXES)}


def mask(text: str, secrets: Iterable["str | None"] = ()) -> str:
    """Replaces each configured secret (4+ characters) and anything shaped like a bearer or
    sk- token with ***."""
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, MASK)
    for pattern, repl in _TOKENS:
        text = pattern.sub(repl, text)
    return text
