"""fastroute calibrate: the threshold that sends a given share of prompts to the strong model."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .common import add_router_arguments, load_router_from_args


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_router_arguments(p)
    p.add_argument(
        "--strong-pct",
        "--strong-model-pct",
        required=True,
        type=float,
        help="share of prompts for the strong model, in [0, 1]; also --strong-model-pct (RouteLLM's name)",
    )
    p.add_argument(
        "--prompts",
        "--calibrate-on",
        type=Path,
        default=None,
        metavar="FILE",
        help="prompts to calibrate on (.txt/.jsonl/.parquet); also --calibrate-on "
        "(default: none, the bundle's training prompts, from the win-rate quantiles it stores)",
    )
    p.add_argument("--field", default="prompt", help="prompt field of jsonl/parquet input")


def run(args: argparse.Namespace) -> int:
    from ..decision.model_string import router_model
    from ..routers.inputs import NoCalibrationError
    from .score import read_prompts

    router = load_router_from_args(args)
    texts = read_prompts(args.prompts, args.field) if args.prompts else None
    try:
        threshold = router.threshold_for(args.strong_pct, texts)
    except NoCalibrationError as exc:
        raise exc.with_hint("pass --prompts FILE with prompts to calibrate on") from None
    name = args.router if "/" not in str(args.router) and not Path(str(args.router)).exists() else router.kind
    print(f"{threshold:.5f}")
    share = f' (or model="{router_model(name, strong_pct=args.strong_pct)}")' if texts is None else ""
    print(
        f"{args.strong_pct * 100:g}% strong-model calls for {router.kind}: "
        f'model="{router_model(name, round(threshold, 5))}"{share}',
        file=sys.stderr,
    )
    return 0
