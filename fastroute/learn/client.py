"""One chat completion from an OpenAI-compatible upstream, with retries: a connection error,
a timeout, 408/409/429/5xx or a body that is not a chat completion (garbage) is retried with
exponential backoff and jitter, honouring Retry-After; any other 4xx fails at once (the same
request will not do better). A call that still fails raises CallFailed with the reason: the
pipeline records it against that prompt alone.
"""

from __future__ import annotations

import asyncio
import json
import random
from dataclasses import dataclass
from typing import Any, Awaitable, Callable, Sequence

from ..decision.targets import Upstream

RETRIED_STATUSES = frozenset({408, 409, 429, 500, 502, 503, 504})


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 6
    base_delay: float = 0.5  # seconds; doubles each retry
    max_delay: float = 30.0
    timeout: float = 120.0  # per attempt

    def __post_init__(self) -> None:
        if self.attempts < 1 or self.base_delay < 0 or self.max_delay < 0 or self.timeout <= 0:
            raise ValueError(f"bad retry policy {self}")

    def delay(self, attempt: int, retry_after: "float | None", rng: random.Random) -> float:
        backoff = min(self.max_delay, self.base_delay * 2**attempt) * (0.5 + rng.random())
        return min(self.max_delay, max(backoff, retry_after or 0.0))


@dataclass(frozen=True)
class Reply:
    text: str
    input_tokens: "int | None"  # as the upstream reported them (None: not reported)
    output_tokens: "int | None"
    attempts: int


class CallFailed(Exception):
    def __init__(self, reason: str, attempts: int) -> None:
        super().__init__(f"{reason} (after {attempts} attempt{'s' if attempts > 1 else ''})")
        self.reason, self.attempts = reason, attempts


class _Retry(Exception):
    def __init__(self, reason: str, retry_after: "float | None" = None) -> None:
        super().__init__(reason)
        self.reason, self.retry_after = reason, retry_after


def _retry_after(value: "str | None") -> "float | None":
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:  # an HTTP date: fall back to the backoff
        return None


def parse_completion(raw: bytes) -> "tuple[str, int | None, int | None]":
    """(text, input tokens, output tokens) of a chat completion body; _Retry if it is not one."""
    try:
        doc = json.loads(raw)
        text = doc["choices"][0]["message"]["content"]
    except (ValueError, KeyError, IndexError, TypeError):
        raise _Retry(f"not a chat completion: {raw[:80]!r}") from None
    if not isinstance(text, str):
        raise _Retry("the completion has no text content")
    usage = doc.get("usage") if isinstance(doc.get("usage"), dict) else {}

    def count(key: str) -> "int | None":
        n = usage.get(key)
        return n if isinstance(n, int) and not isinstance(n, bool) and n >= 0 else None

    return text, count("prompt_tokens"), count("completion_tokens")


async def chat(
    session: Any,
    upstream: Upstream,
    model: str,
    messages: Sequence[dict],
    *,
    max_tokens: int,
    temperature: float = 0.0,
    policy: RetryPolicy = RetryPolicy(),
    rng: "random.Random | None" = None,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> Reply:
    """One completion of `messages` by `model` at `upstream` (an aiohttp ClientSession)."""
    import aiohttp

    rng = rng or random.Random()
    body = {"model": model, "messages": list(messages), "max_tokens": max_tokens, "temperature": temperature}
    headers = {"content-type": "application/json", **upstream.headers()}
    last = ""
    for attempt in range(policy.attempts):
        try:
            timeout = aiohttp.ClientTimeout(total=policy.timeout)
            async with session.post(upstream.chat_url, json=body, headers=headers, timeout=timeout) as resp:
                raw = await resp.read()
                if resp.status in RETRIED_STATUSES:
                    raise _Retry(
                        f"HTTP {resp.status} from {upstream.display}", _retry_after(resp.headers.get("retry-after"))
                    )
                if resp.status != 200:
                    raise CallFailed(f"HTTP {resp.status} from {upstream.display}: {raw[:120]!r}", attempt + 1)
                text, n_in, n_out = parse_completion(raw)
                return Reply(text, n_in, n_out, attempt + 1)
        except _Retry as exc:
            last, wait = exc.reason, exc.retry_after
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
            last, wait = f"{type(exc).__name__} calling {upstream.display}", None
        if attempt + 1 < policy.attempts:
            await sleep(policy.delay(attempt, wait, rng))
    raise CallFailed(last, policy.attempts)
