"""Any OpenAI-compatible `/v1/embeddings` endpoint (OpenAI itself, vLLM, TEI, ...).

Standard library only (urllib), batched, with a per-request timeout and retries
with exponential back-off on 429, 5xx and connection errors (honouring
Retry-After). RouteLLM's published checkpoints need `openai:text-embedding-3-small`.
"""

from __future__ import annotations

import json
import os
import random
import time
import urllib.error
import urllib.request
from typing import Sequence

import numpy as np

from .base import as_text_batch

KNOWN_DIMS = {"text-embedding-3-small": 1536, "text-embedding-3-large": 3072, "text-embedding-ada-002": 1536}
KNOWN_MAX_TOKENS = {"text-embedding-3-small": 8191, "text-embedding-3-large": 8191, "text-embedding-ada-002": 8191}
_RETRY_STATUS = {408, 409, 429, 500, 502, 503, 504}


class EmbeddingRequestError(RuntimeError):
    """The embeddings endpoint refused a request, or kept failing after the retries."""


class OpenAIEmbedder:
    """Embeds through POST {base_url}/embeddings.

    Inputs are cut to `max_tokens * 3` characters (no tokenizer offline); when the
    server still answers that an input is too long, that batch is retried with
    inputs cut in half, up to three times.
    """

    @classmethod
    def described(cls, model: "str | None" = None) -> "tuple[int | None, str | None]":
        """(width, fingerprint) without a request: the width is known only for OpenAI's own models."""
        return KNOWN_DIMS.get(model or ""), None

    def __init__(
        self,
        model: str,
        *,
        base_url: "str | None" = None,
        api_key_env: "str | None" = "OPENAI_API_KEY",
        dim: "int | None" = None,
        max_tokens: "int | None" = None,
        batch_size: int = 256,
        timeout: float = 30.0,
        max_retries: int = 4,
        backoff: float = 0.5,
    ) -> None:
        if batch_size < 1 or max_retries < 0 or timeout <= 0:
            raise ValueError("batch_size must be >= 1, max_retries >= 0 and timeout > 0")
        self.model = model
        self.name = f"openai:{model}"
        self.base_url = (base_url or os.environ.get("OPENAI_BASE_URL") or "https://api.openai.com/v1").rstrip("/")
        self.api_key_env = api_key_env
        self._dim = dim or KNOWN_DIMS.get(model)
        self.max_tokens = int(max_tokens or KNOWN_MAX_TOKENS.get(model, 8191))
        self.fingerprint = None
        self.batch_size = batch_size
        self.timeout = timeout
        self.max_retries = max_retries
        self.backoff = backoff

    @property
    def dim(self) -> int:
        if self._dim is None:  # unknown model: ask once
            self._dim = int(self.encode(["dimension probe"]).shape[1])
        return self._dim

    def _headers(self) -> dict[str, str]:
        headers = {"Content-Type": "application/json"}
        if self.api_key_env:
            key = os.environ.get(self.api_key_env)
            if not key:
                raise EmbeddingRequestError(
                    f"{self.api_key_env} is not set (embedder {self.name} at {self.base_url}); "
                    "set it, or pass api_key_env=None for an endpoint without authentication"
                )
            headers["Authorization"] = f"Bearer {key}"
        return headers

    def _post(self, inputs: list[str]) -> list[list[float]]:
        body = json.dumps({"model": self.model, "input": inputs, "encoding_format": "float"}).encode()
        url = f"{self.base_url}/embeddings"
        last = ""
        for attempt in range(self.max_retries + 1):
            req = urllib.request.Request(url, data=body, headers=self._headers(), method="POST")
            delay = self.backoff * (2**attempt) * (0.5 + random.random())
            try:
                with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                    payload = json.loads(resp.read())
                data = sorted(payload["data"], key=lambda d: d["index"])
                if len(data) != len(inputs):
                    raise EmbeddingRequestError(f"{url} returned {len(data)} embeddings for {len(inputs)} inputs")
                if [d["index"] for d in data] != list(range(len(inputs))):
                    raise ValueError(f"indices are not 0..{len(inputs) - 1}")
                rows = [[float(x) for x in d["embedding"]] for d in data]  # numbers, not null or base64
                if len({len(r) for r in rows}) > 1:
                    raise ValueError("embeddings of different widths")
                return rows
            except urllib.error.HTTPError as err:
                detail = err.read().decode("utf-8", "replace")[:500]
                last = f"HTTP {err.code}: {detail}"
                if err.code not in _RETRY_STATUS:
                    raise EmbeddingRequestError(f"{url} refused the request: {last}") from None
                retry_after = err.headers.get("Retry-After") if err.headers else None
                if retry_after:
                    try:
                        delay = max(delay, float(retry_after))
                    except ValueError:
                        pass
            except (urllib.error.URLError, TimeoutError, ConnectionError, OSError) as err:
                last = f"{type(err).__name__}: {getattr(err, 'reason', err)}"
            except (KeyError, TypeError, ValueError) as err:
                raise EmbeddingRequestError(f"{url} sent a malformed response: {err}") from None
            if attempt < self.max_retries:
                time.sleep(delay)
        raise EmbeddingRequestError(f"{url} failed after {self.max_retries + 1} attempts; last error: {last}")

    def _embed_batch(self, inputs: list[str]) -> list[list[float]]:
        limit = self.max_tokens * 3
        for _ in range(4):
            clipped = [t[:limit] if t else " " for t in inputs]  # the API rejects empty strings
            try:
                return self._post(clipped)
            except EmbeddingRequestError as err:
                msg = str(err).lower()
                if "http 400" not in msg or not any(
                    s in msg for s in ("too long", "maximum", "context length", "token")
                ):
                    raise
                last = err
            # halve what was sent, not the cap: the inputs may all be shorter than it already
            sent = max(len(t) for t in clipped)
            limit = max(1, sent // 2)
        raise EmbeddingRequestError(
            f"{self.name}: inputs still too long after truncating to {sent} characters; last error: {last}"
        )

    def encode(self, texts: "str | Sequence[str]") -> np.ndarray:
        batch = as_text_batch(texts)
        rows: list[list[float]] = []
        for lo in range(0, len(batch), self.batch_size):
            rows.extend(self._embed_batch(batch[lo : lo + self.batch_size]))
        if not rows:
            return np.zeros((0, self._dim or 0), dtype=np.float32)
        try:
            E = np.asarray(rows, dtype=np.float32)
        except ValueError:  # each batch is checked in _post; the width changed between batches
            raise EmbeddingRequestError(f"{self.name} returned embeddings of different widths") from None
        if self._dim is not None and E.shape[1] != self._dim:
            raise EmbeddingRequestError(f"{self.name} returned width {E.shape[1]}, expected {self._dim}")
        self._dim = E.shape[1]
        return np.ascontiguousarray(E)
