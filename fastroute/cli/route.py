"""fastroute route: the model each prompt should go to."""

from __future__ import annotations

import argparse
import sys

from .common import add_router_arguments, add_threshold_arguments, load_router_from_args, resolve_threshold


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_router_arguments(p)
    add_threshold_arguments(p, "the strong model when the win rate >= threshold")
    p.add_argument("--field", default="prompt", help="prompt field of a jsonl/parquet --calibrate-on file")
    p.add_argument(
        "--profile",
        default=None,
        metavar="NAME_OR_FILE",
        help="route among a routing profile's candidates instead (a shipped one: routerbench; or a JSON file); "
        "--verbose prints each choice's predicted quality and expected cost (default: none, the router's "
        "strong and weak model)",
    )
    p.add_argument("--verbose", "-v", action="store_true", help="also print the win rate and the threshold")
    p.add_argument("prompts", nargs="*", metavar="PROMPT", help="prompts to route (default: one per line on stdin)")


def _stdin_prompts() -> list[str]:
    """Non-blank lines of stdin, read as UTF-8 (errors name the line and byte offset)."""
    from .score import decode_text

    raw = getattr(sys.stdin, "buffer", None)  # absent when stdin was replaced by a text stream
    text = decode_text("<stdin>", raw.read()) if raw is not None else sys.stdin.read()
    return [line.rstrip("\r") for line in text.split("\n") if line.strip()]


def run(args: argparse.Namespace) -> int:
    from ..decision.model_string import PREFIX, parse_model_string
    from .score import read_prompts

    threshold, strong_pct = args.threshold, args.strong_pct
    if str(args.router).startswith(PREFIX):  # "router-mf-0.11593" (RouteLLM's raw threshold) or "router-mf-50%"
        if threshold is not None or strong_pct is not None:
            raise ValueError(f"{args.router!r} already names a threshold")
        parsed = parse_model_string(args.router)
        args.router, threshold, strong_pct = parsed.router, parsed.threshold, parsed.strong_pct
    prompts = args.prompts or _stdin_prompts()
    if not prompts:
        raise ValueError("no prompts given (pass them as arguments or on stdin)")
    if args.profile is not None:
        return _route_with_profile(args.profile, prompts, args.verbose)
    router = load_router_from_args(args)
    texts = read_prompts(args.calibrate_on, args.field) if args.calibrate_on else None
    t, how = resolve_threshold(router, threshold, strong_pct, texts)
    p = router.win_rates(prompts)
    if args.verbose:
        scored = (
            ""
            if router.targets == (router.strong_model, router.weak_model)
            else (f" (scored as {router.strong_model} vs {router.weak_model})")
        )
        print(
            f"# {router.kind}: {router.strong_target} if win rate >= {t:.5f} ({how}), else {router.weak_target}{scored}"
        )
    for prompt, rate, model in zip(prompts, p.tolist(), router.decide(p, t)):
        if args.verbose:
            print(f"{model}\t{rate:.6f}\t{prompt[:80]}")
        else:
            print(model)
    return 0


def _route_with_profile(profile: str, prompts: list[str], verbose: bool) -> int:
    from ..profile import load_profile

    prof = load_profile(profile)
    if verbose:
        print(f"# profile {profile}: {prof.policy} at {prof.value:g} among {', '.join(prof.names)}")
    for prompt, d in zip(prompts, prof.choose(prompts)):
        print(f"{d.model}\t{d.quality:.6f}\t{d.cost:.6g}\t{prompt[:80]}" if verbose else d.model)
    return 0
