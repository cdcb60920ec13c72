"""fastroute route: the model each prompt should go to."""

from __future__ import annotations

import argparse
import sys

from .common import add_router_arguments, load_router_from_args


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_router_arguments(p)
    g = p.add_mutually_exclusive_group()
    g.add_argument("--threshold", type=float, default=None, help="strong model when win rate >= threshold, in [0, 1]")
    g.add_argument(
        "--strong-pct",
        type=float,
        default=None,
        help="calibrated threshold sending this share of the bundle's training prompts to the strong "
        "model (default 0.5 when the bundle stores its win-rate quantiles, else threshold 0.5)",
    )
    p.add_argument("--verbose", "-v", action="store_true", help="also print the win rate and the threshold")
    p.add_argument("prompts", nargs="*", metavar="PROMPT", help="prompts (default: one per line on stdin)")


def resolve_threshold(router, threshold: "float | None", strong_pct: "float | None") -> tuple[float, str]:
    from ..routers.inputs import check_threshold

    if threshold is not None:
        return check_threshold(threshold), "given"
    if strong_pct is not None or router.win_rate_quantiles is not None:
        pct = 0.5 if strong_pct is None else strong_pct
        return router.threshold_for(pct), f"calibrated for {pct:g} strong calls"
    return 0.5, "default"


def _stdin_prompts() -> list[str]:
    """Non-blank lines of stdin, read as UTF-8 (errors name the line and byte offset)."""
    from .score import decode_text

    raw = getattr(sys.stdin, "buffer", None)  # absent when stdin was replaced by a text stream
    text = decode_text("<stdin>", raw.read()) if raw is not None else sys.stdin.read()
    return [line.rstrip("\r") for line in text.split("\n") if line.strip()]


def run(args: argparse.Namespace) -> int:
    from ..model_string import PREFIX, parse_router_model

    threshold = args.threshold
    if str(args.router).startswith(PREFIX):  # RouteLLM's "router-mf-0.11593": a raw threshold
        if threshold is not None or args.strong_pct is not None:
            raise ValueError(f"{args.router!r} already names a threshold")
        args.router, threshold = parse_router_model(args.router)
    prompts = args.prompts or _stdin_prompts()
    if not prompts:
        raise ValueError("no prompts given (pass them as arguments or on stdin)")
    router = load_router_from_args(args)
    t, how = resolve_threshold(router, threshold, args.strong_pct)
    p = router.win_rates(prompts)
    if args.verbose:
        print(f"# {router.kind}: {router.strong_model} if win rate >= {t:.5f} ({how}), else {router.weak_model}")
    for prompt, rate, model in zip(prompts, p.tolist(), router.decide(p, t)):
        if args.verbose:
            print(f"{model}\t{rate:.6f}\t{prompt[:80]}")
        else:
            print(model)
    return 0
