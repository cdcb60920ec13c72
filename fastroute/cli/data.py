"""fastroute data: import battle sources into one table, and decontaminate it."""

from __future__ import annotations

import argparse
from pathlib import Path

from .common import embedder_names_help

SOURCES = ("alpaca_eval", "arena", "mmlu", "routerbench", "llmrouter", "mt_bench")


def add_arguments(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    imp = sub.add_parser("import", help="convert a source file into a battles .jsonl")
    imp.add_argument("source", choices=SOURCES, help="the source's format")
    imp.add_argument("path", type=Path, help="file or directory of that source")
    imp.add_argument("--output", required=True, type=Path, help="battles .jsonl to write")
    imp.add_argument(
        "--mmlu-split",
        choices=["train", "eval", "all"],
        default="train",
        help="mmlu: which half to import (train: the half never evaluated on)",
    )
    dec = sub.add_parser("decontaminate", help="drop training prompts too close to evaluation prompts")
    dec.add_argument("--battles", required=True, type=Path, help="battles .jsonl")
    dec.add_argument("--eval", nargs="*", type=Path, default=[], help="evaluation prompt files (.txt/.jsonl/.csv)")
    dec.add_argument(
        "--benchmark",
        nargs="*",
        default=[],
        choices=["mmlu", "mt-bench"],
        help="RouteLLM benchmarks to protect (their files under --data)",
    )
    dec.add_argument(
        "--data", type=Path, default=Path("../shared/data"), help="the data directory --benchmark reads from"
    )
    dec.add_argument(
        "--threshold",
        type=float,
        default=0.95,
        help="drop a training prompt whose cosine similarity to an evaluation prompt is at least this",
    )
    dec.add_argument("--embedder", default="static", help=f"prompt embedder: {embedder_names_help()}")
    dec.add_argument("--output", required=True, type=Path, help="battles .jsonl to write (the kept battles)")


def _import(args: argparse.Namespace):
    from ..data.battles import BattleTable

    if args.source == "alpaca_eval":
        from ..data.alpaca_eval import read_alpaca_eval

        table, dropped = read_alpaca_eval(args.path)
        print(f"dropped {dropped} records without a valid judgment")
        return table
    if args.source == "arena":
        from ..data.arena import read_arena

        return read_arena(args.path)
    if args.source == "mt_bench":
        from ..data.mt_bench import judgment_battles, read_judgments, read_questions

        return judgment_battles(
            read_questions(args.path / "question.jsonl"), read_judgments(args.path / "judgements.jsonl")
        )
    from ..data.correctness import correctness_battles, read_correctness_csv, read_llmrouter

    if args.source == "mmlu":
        from ..eval.pair.benchmarks import load_mmlu

        es = load_mmlu(args.path, split=args.mmlu_split)
        return correctness_battles(es.prompts, es.scores, f"mmlu_{args.mmlu_split}")
    reader = read_llmrouter if args.source == "llmrouter" else read_correctness_csv
    prompts, scores = reader(args.path)
    return BattleTable.concat([correctness_battles(prompts, scores, args.source)])


def _eval_prompts(args: argparse.Namespace) -> list[str]:
    from .score import read_prompts

    prompts: list[str] = []
    for f in args.eval:
        if f.suffix == ".csv":
            from ..data.tables import columns, read_records

            prompts.extend(columns(read_records(f), ["prompt"], str(f))["prompt"])
        else:
            prompts.extend(read_prompts(f, "prompt"))
    if "mmlu" in args.benchmark:
        from ..eval.pair.benchmarks import load_mmlu

        prompts.extend(load_mmlu(args.data / "routellm" / "mmlu", split="eval").prompts)
    if "mt-bench" in args.benchmark:
        from ..eval.pair.benchmarks import load_mt_bench

        mt = load_mt_bench(args.data / "routellm" / "mt_bench")
        prompts.extend(mt.prompts + mt.extra_prompts)
    if not prompts:
        raise ValueError("no evaluation prompts: pass --eval files or --benchmark")
    return prompts


def run(args: argparse.Namespace) -> int:
    from ..data.battles import BattleTable

    if args.action == "import":
        table = _import(args)
        table.to_jsonl(args.output)
        print(f"{len(table)} battles among {len(table.models())} models -> {args.output}")
        return 0
    from ..data.decontaminate import contaminated
    from ..data.tables import read_records
    from ..embedders import get_embedder

    battles = BattleTable.from_records(read_records(args.battles), str(args.battles))
    bad, report = contaminated(battles.prompt, _eval_prompts(args), get_embedder(args.embedder), args.threshold)
    battles.select(~bad).to_jsonl(args.output)
    print(report.summary())
    print(f"kept {int((~bad).sum())} of {len(battles)} battles -> {args.output}")
    for ex in report.examples[:5]:
        print(f"  {ex['similarity']:.3f}  train: {ex['train'][:70]!r}  eval: {ex['eval'][:70]!r}")
    return 0
