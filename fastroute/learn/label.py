"""Steps 2 and 3 of `fastroute learn`: answer every sampled prompt with the strong and the
weak model, then label each pair (the judge, both orders; or a grader against references).

Each step reads the work directory's files and writes its own, and every call goes through
the cache, so a step can be rerun, alone or after a crash, without paying again.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Callable

from .budget import CHARS_PER_TOKEN, message_chars
from .caller import Caller, Endpoint
from .judge import Grader, judge_messages, parse_verdict, strong_score
from .sample import Labelled


@dataclass(frozen=True)
class CallSettings:
    max_tokens: int = 512  # per answer
    judge_max_tokens: int = 512
    temperature: float = 0.0  # answers; the judge always runs at 0

    def __post_init__(self) -> None:
        if self.max_tokens < 1 or self.judge_max_tokens < 1:
            raise ValueError("--max-tokens and --judge-max-tokens must be at least 1")
        if not 0.0 <= self.temperature <= 2.0:
            raise ValueError(f"--temperature must be in [0, 2], got {self.temperature}")


def answers_estimate(rows: "list[Labelled]", models: "list[Endpoint]", s: CallSettings, cached: Callable) -> float:
    """Most the answer calls not yet cached can cost."""
    return sum(
        ep.estimate(message_chars(r.prompt.messages), s.max_tokens)
        for r in rows
        for ep in models
        if not cached(ep, r.prompt.messages, s.max_tokens, s.temperature)
    )


def judge_estimate(rows: "list[Labelled]", judge: Endpoint, s: CallSettings, answers: "dict | None" = None) -> float:
    """Most the judge calls can cost: with the answers when known, else answers of max_tokens."""
    base = len(judge_messages("", "", "")[0]["content"]) + len(judge_messages("", "", "")[1]["content"])
    total = 0.0
    for r in rows:
        got = (answers or {}).get(r.id)
        chars = sum(len(a.get("text", "")) for a in got.values()) if got else int(2 * s.max_tokens * CHARS_PER_TOKEN)
        total += 2 * judge.estimate(base + len(r.prompt.text) + chars, s.judge_max_tokens)
    return total


async def answer_all(caller: Caller, rows: "list[Labelled]", strong: Endpoint, weak: Endpoint, s: CallSettings) -> dict:
    """{id: {"strong": result, "weak": result}}, a result being {"text", ...} or {"error"}."""

    async def one(r: Labelled) -> tuple:
        a, b = await asyncio.gather(
            caller(strong, r.prompt.messages, s.max_tokens, s.temperature),
            caller(weak, r.prompt.messages, s.max_tokens, s.temperature),
        )
        return r.id, {"strong": a, "weak": b}

    return dict(await asyncio.gather(*(one(r) for r in rows)))


@dataclass
class Label:
    """A pair's label: P(strong better) in [0, 1] or None, and why not."""

    score: "float | None"
    status: str  # ok | no answers | no reference | off-format | call failed
    detail: dict
    quality: "tuple[float, float] | None" = None  # (strong, weak) for evaluation: grades, or P(better)


async def judge_all(caller: Caller, rows: "list[Labelled]", answers: dict, judge: Endpoint, s: CallSettings) -> dict:
    async def one(r: Labelled) -> tuple:
        pair = answers.get(r.id, {})
        if any("text" not in pair.get(k, {}) for k in ("strong", "weak")):
            return r.id, Label(None, "no answers", {k: v.get("error") for k, v in pair.items()})
        st, wk = pair["strong"]["text"], pair["weak"]["text"]
        first, second = await asyncio.gather(
            caller(judge, judge_messages(r.prompt.text, st, wk), s.judge_max_tokens, 0.0),
            caller(judge, judge_messages(r.prompt.text, wk, st), s.judge_max_tokens, 0.0),
        )
        if "text" not in first or "text" not in second:
            return r.id, Label(None, "call failed", {"error": first.get("error") or second.get("error")})
        v1, v2 = parse_verdict(first["text"]), parse_verdict(second["text"])
        detail = {"strong_first": v1, "weak_first": v2}
        score = strong_score(v1, v2)
        if score is None:
            return r.id, Label(None, "off-format", detail)
        return r.id, Label(score, "ok", detail, (score, 1.0 - score))

    return dict(await asyncio.gather(*(one(r) for r in rows)))


def grade_all(rows: "list[Labelled]", answers: dict, grade: Grader) -> dict:
    """Labels from a grader: the strong answer's grade against the weak one's (higher wins)."""
    out = {}
    for r in rows:
        pair = answers.get(r.id, {})
        if r.prompt.reference is None:
            out[r.id] = Label(None, "no reference", {})
        elif any("text" not in pair.get(k, {}) for k in ("strong", "weak")):
            out[r.id] = Label(None, "no answers", {})
        else:
            gs = grade(r.prompt.text, pair["strong"]["text"], r.prompt.reference)
            gw = grade(r.prompt.text, pair["weak"]["text"], r.prompt.reference)
            out[r.id] = Label(0.5 + (gs - gw) / 2, "ok", {"strong_grade": gs, "weak_grade": gw}, (gs, gw))
    return out
