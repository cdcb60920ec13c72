"""fastroute route: the model each prompt should go to."""
from __future__ import annotations

import argparse
import sys

from .common import add_router_arguments, load_router_from_args


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_router_arguments(p)
    p.add_argument("--threshold", type=float, default=None,
                   help="strong model when win rate >= threshold, in [0, 1] (default: 0.5)")
    p.add_argument("--verbose", "-v", action="store_true", help="also print the win rate")
    p.add_argument("prompts", nargs="*", metavar="PROMPT", help="prompts (default: one per line on stdin)")


def run(args: argparse.Namespace) -> int:
    from ..routers.base import check_threshold

    threshold = check_threshold(0.5 if args.threshold is None else args.threshold)
    prompts = args.prompts or [line.rstrip("\n") for line in sys.stdin if line.strip()]
    if not prompts:
        raise ValueError("no prompts given (pass them as arguments or on stdin)")
    router = load_router_from_args(args)
    p = router.win_rates(prompts)
    for prompt, rate, model in zip(prompts, p.tolist(), router.decide(p, threshold)):
        if args.verbose:
            print(f"{model}\t{rate:.6f}\t{prompt[:80]}")
        else:
            print(model)
    return 0
