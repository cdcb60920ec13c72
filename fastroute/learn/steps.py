"""The steps of `fastroute learn`, each from the work directory's files to its own: prepare
(sample), answer (strong and weak), label (judge or grader; battles and the held-out table),
fit (train, choose, evaluate, report). `run` is all four, its budget checked before the first call.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from ..data.battles import BattleTable
from ..decision.targets import read_upstreams
from .budget import Budget, BudgetExceeded, Price
from .cache import CallCache
from .caller import Caller, Endpoint
from .client import RetryPolicy
from .label import CallSettings, answer_all, answers_estimate, grade_all, judge_all, judge_estimate
from .workdir import WorkDir, read_jsonl, write_jsonl

Log = Callable[[str], None]


@dataclass
class Calling:
    """How calls are made: the models, the settings, the bound, the retries, the budget."""

    upstreams: "str | Path"
    strong: str
    weak: str
    judge: "str | None" = None  # None: grade against references
    grader: "str | None" = None
    settings: CallSettings = field(default_factory=CallSettings)
    concurrency: int = 16
    policy: RetryPolicy = field(default_factory=RetryPolicy)
    budget: Budget = field(default_factory=lambda: Budget(None))

    def endpoint(self, model: str) -> Endpoint:
        ups = read_upstreams(self.upstreams).models
        if model not in ups:
            from ..errors import UnknownModelError

            raise UnknownModelError(model, list(ups), what=f"model in {self.upstreams}")
        return Endpoint(model, ups[model], Price.of(model, ups[model], needed=self.budget.cap is not None))


def prepare(
    source: "str | Path", wd: WorkDir, *, max_prompts: int, heldout: float, seed: int, embedder: str, log: Log
) -> None:
    from ..embedders import get_embedder
    from .inputs import read_prompts
    from .sample import sample

    prompts, read = read_prompts(source)
    for line in read.lines():
        log(line)
    rows, report = sample(
        prompts, max_prompts=max_prompts, heldout_fraction=heldout, seed=seed, embedder=get_embedder(embedder)
    )
    for line in report.lines():
        log(line)
    if wd.prompts.is_file() and {r["id"] for r in read_jsonl(wd.prompts)} != {r.id for r in rows}:
        log(f"{wd.prompts}: replaced by the new sample (cached calls are kept and reused)")
    write_jsonl(wd.prompts, (r.record() for r in rows))


async def _calls(c: Calling, wd: WorkDir, total: int, work: Callable[[Caller], Any], what: str, log: Log) -> Any:
    import aiohttp

    from ..progress import Progress

    with CallCache(wd.calls) as cache, Progress(total, what, unit="calls") as bar:
        if cache.torn_lines:
            log(f"{wd.calls}: {cache.torn_lines} torn lines ignored (a crash mid-write); those calls are made again")
        connector = aiohttp.TCPConnector(limit=c.concurrency)
        async with aiohttp.ClientSession(connector=connector) as session:
            caller = Caller(session, cache, c.budget, concurrency=c.concurrency, policy=c.policy, bar=bar)
            result = await work(caller)
    for line in caller.counts.lines():
        log(line)
    log(f"spent: ${c.budget.spent:.4f} in this run")
    return result, caller.stopped


def _stop_if(stopped: "str | None") -> None:
    """After a step's outputs are written: a budget stop ends the run, resumably."""
    if stopped:
        raise BudgetExceeded(f"{stopped}; what was done is kept: rerun with a larger --budget-usd to go on")


def answer(c: Calling, wd: WorkDir, log: Log, *, plan_judge: bool = False) -> None:
    rows = wd.read_prompts()
    strong, weak = c.endpoint(c.strong), c.endpoint(c.weak)
    judge = c.endpoint(c.judge) if c.judge else None
    wd.write_models({"strong": c.strong, "weak": c.weak})
    with CallCache(wd.calls) as cache:
        probe = Caller(None, cache, Budget(None), concurrency=1, policy=c.policy)
        estimate = answers_estimate(rows, [strong, weak], c.settings, probe.is_cached)
    what = "answering"
    if plan_judge and judge is not None:
        estimate += judge_estimate(rows, judge, c.settings)
        what = "answering and judging"
    log(f"estimate: up to ${estimate:.2f} for {what} {len(rows)} prompts (cached calls cost nothing)")
    c.budget.check_plan(estimate, what.capitalize() + f" {len(rows)} prompts")
    answers, stopped = asyncio.run(
        _calls(c, wd, 2 * len(rows), lambda k: answer_all(k, rows, strong, weak, c.settings), "answering", log)
    )
    write_jsonl(wd.answers, ({"id": i, **{k: _slim(v) for k, v in a.items()}} for i, a in sorted(answers.items())))
    costs = {
        role: float(np.mean([a[role]["cost_usd"] for a in answers.values() if "cost_usd" in a[role]] or [0.0]))
        for role in ("strong", "weak")
    }
    wd.write_models({"strong": c.strong, "weak": c.weak, "mean_answer_cost_usd": costs})
    _stop_if(stopped)


def _slim(result: dict) -> dict:
    return {"text": result["text"]} if "text" in result else {"error": result["error"]}


def label(c: Calling, wd: WorkDir, log: Log) -> None:
    rows = wd.read_prompts()
    answers = {r.pop("id"): r for r in read_jsonl(wd.need(wd.answers, "answer"))}
    models = wd.read_models()
    if (models["strong"], models["weak"]) != (c.strong, c.weak):
        raise ValueError(f"{wd.root} was answered by {models['strong']} / {models['weak']}, not {c.strong} / {c.weak}")
    if c.grader:
        from .judge import grader

        labels, stopped = grade_all(rows, answers, grader(c.grader)), None
        wd.write_models({"grader": c.grader, "judge": None})
    else:
        if not c.judge:
            raise ValueError("label needs --judge-model (an LLM judge) or --grader (references)")
        judge = c.endpoint(c.judge)
        wd.write_models({"judge": c.judge, "grader": None})
        estimate = judge_estimate(rows, judge, c.settings, answers)
        log(f"estimate: up to ${estimate:.2f} for judging {len(rows)} pairs in both orders")
        c.budget.check_plan(estimate, f"Judging {len(rows)} pairs")
        labels, stopped = asyncio.run(
            _calls(c, wd, 2 * len(rows), lambda k: judge_all(k, rows, answers, judge, c.settings), "judging", log)
        )
    by_id = {r.id: r for r in rows}
    write_jsonl(
        wd.labels,
        (
            {"id": i, "split": by_id[i].split, "status": x.status, "score": x.score, **x.detail}
            for i, x in sorted(labels.items())
        ),
    )
    status: dict[str, int] = {}
    for x in labels.values():
        status[x.status] = status.get(x.status, 0) + 1
    log("labels: " + ", ".join(f"{n} {s}" for s, n in sorted(status.items())) + " (only 'ok' pairs are used)")
    ok = [(by_id[i], x) for i, x in sorted(labels.items()) if x.status == "ok"]
    train = [(r, x) for r, x in ok if r.split == "train"]
    battles = BattleTable(
        [r.prompt.text for r, _ in train],
        [c.strong] * len(train),
        [c.weak] * len(train),
        ["model_a" if x.score > 0.5 else "model_b" if x.score < 0.5 else "tie" for _, x in train],
        np.array([x.score for _, x in train], dtype=np.float64),
        ["fastroute learn"] * len(train),
    )
    battles.to_jsonl(wd.battles)
    write_jsonl(
        wd.heldout,
        (
            {"prompt": r.prompt.text, c.strong: x.quality[0], c.weak: x.quality[1]}
            for r, x in ok
            if r.split == "heldout"
        ),
    )
    log(f"wrote {wd.battles} ({len(battles)} battles) and {wd.heldout} ({len(ok) - len(train)} held-out prompts)")
    _stop_if(stopped)
