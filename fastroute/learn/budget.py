"""What labelling costs, and a cap that is never crossed knowingly.

The plan is estimated before any call: each call's input at one token per CHARS_PER_TOKEN
characters (as routing profiles estimate), its output at the `max_tokens` it asks for; a plan
over `--budget-usd` is refused before anything is spent. While the run goes on, each call
reserves the most it can be billed (its input at one token per UTF-8 byte, the most a
byte-level tokenizer gives, plus a chat template's overhead; its output at `max_tokens`), and
starts only if what was spent (the upstreams' reported usage) plus every reservation in
flight plus its own stays within the cap. So a run never crosses the cap, whatever the
tokenizer; when the next call could, it stops, keeps what it has, and a rerun with a larger
cap goes on from there. Calls answered from the cache cost nothing.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

from ..decision.targets import Upstream

CHARS_PER_TOKEN = 4.0


class BudgetExceeded(Exception):
    """The next call could cross the cap: nothing more is started."""


@dataclass(frozen=True)
class Price:
    input_per_1m: float
    output_per_1m: float

    @classmethod
    def of(cls, model: str, upstream: Upstream, needed: bool) -> "Price":
        i, o = upstream.price_per_1m_input, upstream.price_per_1m_output
        if i is None or o is None:
            if needed:
                raise ValueError(
                    f"model {model!r} has no price_per_1m_input / price_per_1m_output in the upstreams file: "
                    "a --budget-usd cap needs every called model's prices"
                )
            return cls(0.0, 0.0)
        return cls(float(i), float(o))

    def cost(self, input_tokens: float, output_tokens: float) -> float:
        return (input_tokens * self.input_per_1m + output_tokens * self.output_per_1m) / 1e6


TEMPLATE_TOKENS = 8  # per message, and once per request: role markers and separators


def tokens(chars: int) -> int:
    return int(math.ceil(chars / CHARS_PER_TOKEN))


def message_chars(messages: "Sequence[dict]") -> int:
    total = 0
    for m in messages:
        c = m.get("content")
        total += len(c) if isinstance(c, str) else sum(len(p.get("text", "")) for p in c or [] if isinstance(p, dict))
    return total


def most_input_tokens(messages: "Sequence[dict]") -> int:
    """An upper bound on a request's input tokens: UTF-8 bytes plus the template's overhead."""
    total = TEMPLATE_TOKENS * (len(messages) + 1)
    for m in messages:
        c = m.get("content")
        parts = [c] if isinstance(c, str) else [p.get("text", "") for p in c or [] if isinstance(p, dict)]
        total += sum(len(t.encode("utf-8")) for t in parts)
    return total


class Budget:
    """Spent and reserved USD against a cap (None: no cap, costs still counted)."""

    def __init__(self, cap_usd: "float | None") -> None:
        if cap_usd is not None and not (cap_usd >= 0 and math.isfinite(cap_usd)):
            raise ValueError(f"--budget-usd must be a finite number >= 0, got {cap_usd}")
        self.cap, self.spent, self.reserved = cap_usd, 0.0, 0.0

    def check_plan(self, estimate_usd: float, what: str) -> None:
        if self.cap is not None and estimate_usd > self.cap - self.spent:
            raise BudgetExceeded(
                f"{what} is estimated at up to ${estimate_usd:.2f}, over the ${self.cap - self.spent:.2f} left of "
                f"--budget-usd {self.cap:g}: raise the cap, or label fewer prompts (--max-prompts)"
            )

    def reserve(self, estimate_usd: float) -> float:
        if self.cap is not None and self.spent + self.reserved + estimate_usd > self.cap:
            raise BudgetExceeded(
                f"stopped at ${self.spent:.4f} spent: the next call (up to ${estimate_usd:.4f}) could cross "
                f"--budget-usd {self.cap:g}"
            )
        self.reserved += estimate_usd
        return estimate_usd

    def settle(self, reservation: float, actual_usd: float) -> None:
        self.reserved -= reservation
        self.spent += actual_usd
