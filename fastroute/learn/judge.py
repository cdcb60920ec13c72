"""Labels a pair of answers: an LLM judge's pairwise verdict, or a grade against a reference.

The judge is asked, as RouteLLM's GPT-4 judge was (MT Bench's pairwise format), which of two
answers is better or whether they tie, ending with [[A]], [[B]] or [[C]]. It is asked twice,
with the answers in both orders; the two verdicts are averaged (strong better = 1, tie = 1/2,
weak better = 0), so a judge that favours a position cancels out. A reply without exactly one
verdict is off-format: counted, and the pair is left unlabelled, never guessed.

Graders score each answer against the prompt's reference: `exact` (case- and
space-insensitive equality), `regex:PATTERN` (the pattern's first group, or match, in the
answer's last match, compared the same way), or `python:module:function` (called as
function(prompt, answer, reference) -> bool or a float in [0, 1]).
"""

from __future__ import annotations

import importlib
import re
from typing import Callable

VERDICTS = {"[[A]]": "A", "[[B]]": "B", "[[C]]": "tie"}
_VERDICT = re.compile(r"\[\[(A|B|C)\]\]")

SYSTEM = (
    "You compare two AI assistants' answers to a user's request, impartially. Judge which answer "
    "serves the user better: correctness first, then helpfulness, relevance and clarity. The order "
    "in which the answers appear and their length must not sway you. Think briefly if you need to, "
    "then end with your verdict on a line of its own: [[A]] if answer A is better, [[B]] if answer B "
    "is better, [[C]] if neither is better."
)


def judge_messages(prompt: str, answer_a: str, answer_b: str) -> list[dict]:
    user = (
        f"[Request]\n{prompt}\n\n[Answer A]\n{answer_a}\n[End of answer A]\n\n[Answer B]\n{answer_b}\n[End of answer B]"
    )
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": user}]


def parse_verdict(reply: str) -> "str | None":
    """'A', 'B' or 'tie'; None when the reply holds no verdict or more than one kind."""
    found = set(_VERDICT.findall(reply))
    if len(found) != 1:
        return None
    return {"A": "A", "B": "B", "C": "tie"}[found.pop()]


def strong_score(strong_first: "str | None", weak_first: "str | None") -> "float | None":
    """P(strong better) from the verdicts with the strong answer as A, then as B; None when
    either is off-format."""
    if strong_first is None or weak_first is None:
        return None
    first = {"A": 1.0, "tie": 0.5, "B": 0.0}[strong_first]
    second = {"B": 1.0, "tie": 0.5, "A": 0.0}[weak_first]
    return (first + second) / 2


def _normal(text: str) -> str:
    return " ".join(text.casefold().split()).rstrip(".")


Grader = Callable[[str, str, str], float]


def grader(spec: str) -> Grader:
    """A grader from its spec: exact, regex:PATTERN or python:module:function."""
    if spec == "exact":
        return lambda prompt, answer, ref: float(_normal(answer) == _normal(ref))
    if spec.startswith("regex:"):
        try:
            pattern = re.compile(spec[len("regex:") :], re.S)
        except re.error as exc:
            raise ValueError(f"--grader {spec!r}: not a regular expression ({exc})") from None

        def by_regex(prompt: str, answer: str, ref: str) -> float:
            matches = list(pattern.finditer(answer))
            if not matches:
                return 0.0
            m = matches[-1]
            return float(_normal(m.group(1) if m.groups() else m.group(0)) == _normal(ref))

        return by_regex
    if spec.startswith("python:"):
        module, _, name = spec[len("python:") :].rpartition(":")
        if not module or not name:
            raise ValueError(f"--grader {spec!r}: write python:module:function")
        fn = getattr(importlib.import_module(module), name, None)
        if not callable(fn):
            raise ValueError(f"--grader {spec!r}: {module} has no function {name!r}")

        def by_function(prompt: str, answer: str, ref: str) -> float:
            score = fn(prompt, answer, ref)
            if isinstance(score, bool):
                return float(score)
            if not isinstance(score, (int, float)) or not 0.0 <= score <= 1.0:
                raise ValueError(f"grader {spec} returned {score!r}: it must return a bool or a number in [0, 1]")
            return float(score)

        return by_function
    raise ValueError(f"--grader {spec!r}: use exact, regex:PATTERN or python:module:function")
