"""Every paid call of `fastroute learn` goes through one Caller: answered from the cache if it
was made before, else made under the concurrency bound and the budget, then cached. A call
that fails (after its retries) or that the budget stops is an error for its prompt alone.
"""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass, field
from typing import Any, Sequence

from ..decision.targets import Upstream
from ..progress import Progress
from .budget import Budget, BudgetExceeded, Price, message_chars, most_input_tokens, tokens
from .cache import CallCache, call_key
from .client import CallFailed, RetryPolicy, chat


@dataclass(frozen=True)
class Endpoint:
    """A model to call: its name upstream, where it is served and its price."""

    model: str
    upstream: Upstream
    price: Price

    def estimate(self, input_chars: int, max_tokens: int) -> float:
        """What a call is expected to cost at most (output at max_tokens; input at chars / 4)."""
        return self.price.cost(tokens(input_chars), max_tokens)

    def bound(self, messages: Sequence[dict], max_tokens: int) -> float:
        """The most a call can be billed (budget.most_input_tokens, output at max_tokens)."""
        return self.price.cost(most_input_tokens(messages), max_tokens)


@dataclass
class CallCounts:
    made: int = 0
    cached: int = 0
    retried: int = 0  # attempts beyond the first, over all calls
    failed: dict[str, int] = field(default_factory=dict)  # reason -> calls
    budget_stopped: int = 0

    def lines(self) -> list[str]:
        out = [f"calls: {self.made} made ({self.retried} retries), {self.cached} answered from the cache"]
        out += [f"failed: {n} x {why}" for why, n in sorted(self.failed.items(), key=lambda kv: -kv[1])]
        if self.budget_stopped:
            out.append(f"not made: {self.budget_stopped} calls the budget did not allow")
        return out


class Caller:
    def __init__(
        self,
        session: Any,
        cache: CallCache,
        budget: Budget,
        *,
        concurrency: int,
        policy: RetryPolicy,
        bar: "Progress | None" = None,
        seed: int = 0,
    ) -> None:
        if concurrency < 1:
            raise ValueError(f"--concurrency must be at least 1, got {concurrency}")
        self.session, self.cache, self.budget, self.policy, self.bar = session, cache, budget, policy, bar
        self.sem = asyncio.Semaphore(concurrency)
        self.counts = CallCounts()
        self.stopped: "str | None" = None  # why the budget stopped the run
        self.rng = random.Random(seed)

    def is_cached(self, ep: Endpoint, messages: Sequence[dict], max_tokens: int, temperature: float) -> bool:
        return self.cache.get(self._key(ep, messages, max_tokens, temperature)) is not None

    @staticmethod
    def _key(ep: Endpoint, messages: Sequence[dict], max_tokens: int, temperature: float) -> str:
        return call_key(ep.model, messages, {"max_tokens": max_tokens, "temperature": temperature})

    async def __call__(self, ep: Endpoint, messages: Sequence[dict], max_tokens: int, temperature: float) -> dict:
        """{"text", "cost_usd"} or {"error"}."""
        key = self._key(ep, messages, max_tokens, temperature)
        hit = self.cache.get(key)
        if hit is not None:
            self.counts.cached += 1
            self._tick()
            return hit
        async with self.sem:
            if self.stopped:
                self.counts.budget_stopped += 1
                self._tick()
                return {"error": self.stopped}
            chars = message_chars(messages)
            try:
                held = self.budget.reserve(ep.bound(messages, max_tokens))
            except BudgetExceeded as exc:
                self.stopped = str(exc)
                self.counts.budget_stopped += 1
                self._tick()
                return {"error": self.stopped}
            try:
                reply = await chat(
                    self.session,
                    ep.upstream,
                    ep.model,
                    messages,
                    max_tokens=max_tokens,
                    temperature=temperature,
                    policy=self.policy,
                    rng=self.rng,
                )
            except CallFailed as exc:
                self.budget.settle(held, 0.0)
                self.counts.made += 1
                self.counts.retried += exc.attempts - 1
                self.counts.failed[exc.reason] = self.counts.failed.get(exc.reason, 0) + 1
                self._tick()
                return {"error": str(exc)}
            n_in = reply.input_tokens if reply.input_tokens is not None else tokens(chars)
            n_out = reply.output_tokens if reply.output_tokens is not None else tokens(len(reply.text))
            cost = ep.price.cost(n_in, n_out)
            self.budget.settle(held, cost)
            self.counts.made += 1
            self.counts.retried += reply.attempts - 1
            row = {
                "model": ep.model,
                "text": reply.text,
                "input_tokens": n_in,
                "output_tokens": n_out,
                "cost_usd": cost,
            }
            self.cache.put(key, row)
            self._tick()
            return self.cache.get(key) or row

    def _tick(self) -> None:
        if self.bar is not None:
            self.bar.update(1)
