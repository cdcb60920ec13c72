"""fastroute learn: from your own prompts to a calibrated, evaluated router, in one command
(`run`) or step by step (prepare, answer, label, fit), each resumable in one work directory."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

STEPS = {
    "run": "every step: sample, answer, label, fit (the budget checked before the first call)",
    "prepare": "sample and decontaminate your prompts into WORKDIR/prompts.jsonl",
    "answer": "answer every sampled prompt with the strong and the weak model",
    "label": "judge each pair (both orders) or grade it against references; write the battles",
    "fit": "train, choose and calibrate a router; evaluate it on the held-out prompts",
}


def _prepare_args(q: argparse.ArgumentParser) -> None:
    q.add_argument(
        "--prompts",
        required=True,
        type=Path,
        help="a .txt (a prompt a line), .jsonl/.json/.parquet file (`prompt`, `messages`, or a logged "
        "chat request body under request/body/request_body; optional `reference`), or a directory of them",
    )
    q.add_argument(
        "--max-prompts", type=int, default=2000, help="prompts to sample (each costs 2 answers + 2 judge calls)"
    )
    q.add_argument("--heldout", type=float, default=0.25, help="share of the prompts held out for the evaluation")


def _calling_args(q: argparse.ArgumentParser, judge: bool, answer: bool) -> None:
    q.add_argument(
        "--upstreams", required=True, type=Path, help="upstreams TOML: where each model is served, its price"
    )
    q.add_argument("--strong-model", required=True, help="the strong model, as the upstreams file names it")
    q.add_argument("--weak-model", required=True, help="the weak model, as the upstreams file names it")
    if judge:
        q.add_argument(
            "--judge-model",
            default=None,
            help="the judge model, as the upstreams file names it (default: none: --grader must be given)",
        )
        q.add_argument(
            "--grader",
            default=None,
            help="grade against each prompt's `reference` instead of judging: exact, regex:PATTERN or "
            "python:module:function (default: none: --judge-model judges)",
        )
    if answer:
        q.add_argument("--max-tokens", type=int, default=512, help="most tokens per answer")
        q.add_argument("--temperature", type=float, default=0.0, help="answers' sampling temperature")
    if judge:
        q.add_argument("--judge-max-tokens", type=int, default=512, help="most tokens per verdict")
    q.add_argument("--budget-usd", type=float, default=None, help="spend at most this (default: no cap)")
    q.add_argument("--concurrency", type=int, default=16, help="calls in flight at once")
    q.add_argument("--retries", type=int, default=5, help="retries per call (429, 5xx, timeouts, garbage)")
    q.add_argument("--retry-delay", type=float, default=0.5, help="first backoff in seconds (doubles each retry)")
    q.add_argument("--timeout", type=float, default=120.0, help="seconds per attempt")


def _fit_args(q: argparse.ArgumentParser) -> None:
    q.add_argument(
        "--target-quality", type=float, default=0.95, help="share of the strong model's quality gain to keep"
    )
    q.add_argument("--bootstrap", type=int, default=1000, help="bootstrap resamples for the 95%% intervals")


def add_arguments(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="step", required=True, metavar="STEP")
    for name, help_text in STEPS.items():
        q = sub.add_parser(name, help=help_text, description=help_text)
        q.add_argument("--workdir", required=True, type=Path, help="where every step reads and writes its files")
        if name in ("run", "prepare"):
            _prepare_args(q)
        if name in ("run", "answer", "label"):
            _calling_args(q, judge=name != "answer", answer=name != "label")
        if name in ("run", "fit"):
            _fit_args(q)
        q.add_argument("--embedder", default="static", help="prompt embedder for decontamination and the router")
        q.add_argument("--seed", type=int, default=0, help="seed of the sample, the validation split and the bootstrap")


def _calling(args: argparse.Namespace):
    from ..learn.budget import Budget
    from ..learn.client import RetryPolicy
    from ..learn.label import CallSettings
    from ..learn.steps import Calling

    judge, grader = getattr(args, "judge_model", None), getattr(args, "grader", None)
    if args.step in ("run", "label") and bool(judge) == bool(grader):
        raise ValueError("pass one of --judge-model (an LLM judge) or --grader (references)")
    settings = CallSettings(
        max_tokens=getattr(args, "max_tokens", 512),
        judge_max_tokens=getattr(args, "judge_max_tokens", 512),
        temperature=getattr(args, "temperature", 0.0),
    )
    if args.retries < 0:
        raise ValueError(f"--retries must be >= 0, got {args.retries}")
    return Calling(
        args.upstreams,
        args.strong_model,
        args.weak_model,
        judge,
        grader,
        settings,
        args.concurrency,
        RetryPolicy(attempts=args.retries + 1, base_delay=args.retry_delay, timeout=args.timeout),
        Budget(args.budget_usd),
    )


def run(args: argparse.Namespace) -> int:
    from ..learn import steps
    from ..learn.budget import BudgetExceeded
    from ..learn.report import fit_step
    from ..learn.workdir import WorkDir

    wd = WorkDir(args.workdir)

    def log(line: str) -> None:
        print(line, file=sys.stderr if args.step != "fit" else sys.stdout, flush=True)

    try:
        if args.step in ("run", "prepare"):
            steps.prepare(
                args.prompts, wd, max_prompts=args.max_prompts, heldout=args.heldout, seed=args.seed,
                embedder=args.embedder, log=log,
            )  # fmt: skip
        if args.step in ("run", "answer", "label"):
            c = _calling(args)
            if args.step in ("run", "answer"):
                steps.answer(c, wd, log, plan_judge=args.step == "run")
            if args.step in ("run", "label"):
                steps.label(c, wd, log)
        if args.step in ("run", "fit"):
            fit_step(
                wd, embedder=args.embedder, seed=args.seed, n_boot=args.bootstrap, target=args.target_quality, log=print
            )
    except BudgetExceeded as exc:
        print(f"fastroute learn {args.step}: budget: {exc}", file=sys.stderr)
        return 3
    return 0
