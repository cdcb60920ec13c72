"""fastroute calibrate: the threshold that sends a given share of prompts to the strong model."""

from __future__ import annotations

import argparse
from pathlib import Path

from .common import add_router_arguments, load_router_from_args


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_router_arguments(p)
    p.add_argument("--strong-pct", required=True, type=float, help="share of prompts for the strong model, in [0, 1]")
    p.add_argument(
        "--prompts",
        type=Path,
        default=None,
        help="prompts to calibrate on (.txt/.jsonl/.parquet); default: the bundle's training prompts",
    )
    p.add_argument("--field", default="prompt", help="prompt field of jsonl/parquet input")


def run(args: argparse.Namespace) -> int:
    from ..model_string import router_model
    from .score import read_prompts

    router = load_router_from_args(args)
    texts = read_prompts(args.prompts, args.field) if args.prompts else None
    threshold = router.threshold_for(args.strong_pct, texts)
    name = args.router if "/" not in str(args.router) and not Path(str(args.router)).exists() else router.kind
    print(f"{threshold:.5f}")
    print(
        f'{args.strong_pct * 100:g}% strong-model calls for {router.kind}: model="{router_model(name, round(threshold, 5))}"',
        file=__import__("sys").stderr,
    )
    return 0
