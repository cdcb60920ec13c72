"""Options and helpers shared by the commands that load a router."""

from __future__ import annotations

import argparse
from pathlib import Path


def default_text(value: object) -> str:
    """How a default reads in help: a list as its items, space-separated, as typed."""
    if isinstance(value, (list, tuple)):
        return " ".join(str(v) for v in value)
    return str(value)


def shows_default(value: object) -> bool:
    """Whether a default is worth printing: not None (the help says what that means), not
    a store_true's False, not an empty list of a repeatable option, not suppressed."""
    if value is None or value is False or value is argparse.SUPPRESS:
        return False
    return not (isinstance(value, (list, tuple)) and not value)


class DefaultsHelpFormatter(argparse.HelpFormatter):
    """Ends every option's help with "(default: X)", so `--help` answers what happens
    without the option; help that already says "(default" is left as written."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if "%(default)" in text or "(default" in text or not shows_default(action.default):
            return text
        if not action.option_strings and action.nargs not in (argparse.OPTIONAL, argparse.ZERO_OR_MORE):
            return text  # a required positional
        return f"{text} (default: {default_text(action.default).replace('%', '%%')})"


class Parser(argparse.ArgumentParser):
    """The fastroute parser: its subparsers (add_subparsers makes them of this class, nested
    ones too) all show defaults the same way."""

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("formatter_class", DefaultsHelpFormatter)
        super().__init__(*args, **kwargs)


def router_names_help() -> str:
    """The router names a command accepts, from the router registry."""
    from ..routers.registry import ROUTERS

    return ", ".join(k for k, r in ROUTERS.items() if r.shipped_default or not r.needs_bundle)


def embedder_names_help() -> str:
    """The embedder names the commands accept, from the embedder registry."""
    from ..embedders.registry import known_embedders

    return ", ".join(known_embedders())


def add_backend_argument(p: argparse.ArgumentParser) -> None:
    """--backend, its choices from the kernel registry."""
    from ..ops import known_backends

    p.add_argument(
        "--backend",
        default=None,
        choices=known_backends(),
        help="kernel backend for the scoring (default: $FASTROUTE_BACKEND, else the fastest available here)",
    )


def add_router_arguments(p: argparse.ArgumentParser, default_router: str = "sw_ranking") -> None:
    """--router (one router; --routers is the same option, the spelling of the commands that
    take several), the targets and the backend."""
    p.add_argument(
        "--router",
        "--routers",
        default=default_router,
        metavar="ROUTER",
        help=f"router name ({router_names_help()}) or bundle directory; also --routers",
    )
    add_target_arguments(p)
    add_backend_argument(p)


def add_target_arguments(p: argparse.ArgumentParser) -> None:
    """--strong-model / --weak-model (the names routed to) and --scored-as."""
    p.add_argument(
        "--strong-model",
        default=None,
        help="model to route strong calls to, any name (default: the bundle's own strong model)",
    )
    p.add_argument(
        "--weak-model", default=None, help="model to route weak calls to, any name (default: the bundle's own)"
    )
    p.add_argument(
        "--scored-as",
        action="append",
        default=[],
        metavar="NAME=MODEL",
        help="score the model NAME as the router's model MODEL (repeatable); by default a name the router "
        "knows (or an alias of one) is scored as itself, any other as the router's own strong / weak model",
    )


def scored_as_from_args(args: argparse.Namespace) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in getattr(args, "scored_as", None) or []:
        name, sep, model = item.partition("=")
        if not sep or not name.strip() or not model.strip():
            raise ValueError(f"--scored-as {item!r}: expected NAME=MODEL, e.g. gpt-4o=gpt-4-1106-preview")
        if out.get(name.strip(), model.strip()) != model.strip():
            raise ValueError(f"--scored-as names {name.strip()!r} twice")
        out[name.strip()] = model.strip()
    return out


def add_threshold_arguments(p: argparse.ArgumentParser, what: str, pct_default: str = "0.5") -> None:
    """--threshold | --strong-pct, and --calibrate-on FILE for the share; `pct_default` says
    what happens when neither is given."""
    g = p.add_mutually_exclusive_group()
    g.add_argument(
        "--threshold",
        type=float,
        default=None,
        help=f"a raw threshold in [0, 1]: {what} (default: none, the threshold of --strong-pct)",
    )
    g.add_argument(
        "--strong-pct",
        type=float,
        default=None,
        help="send this share of prompts (in [0, 1]) to the strong model: the threshold is calibrated on "
        f"--calibrate-on's prompts, else on the win-rate quantiles the bundle stores (default: {pct_default})",
    )
    p.add_argument(
        "--calibrate-on",
        type=Path,
        default=None,
        metavar="FILE",
        help="prompts (.txt/.jsonl/.parquet, field --field) to calibrate --strong-pct on "
        "(default: none, the bundle's stored quantiles)",
    )


def resolve_threshold(
    router, threshold: "float | None", strong_pct: "float | None", texts: "list[str] | None" = None
) -> tuple[float, str]:
    """decision.request.resolve_threshold for the command line: the threshold to route at and
    how it was chosen, the flags checked and named in errors (--threshold, --strong-pct,
    --calibrate-on)."""
    from ..decision.request import resolve_threshold as resolve

    if threshold is not None and texts is not None:
        raise ValueError("--calibrate-on calibrates --strong-pct; it does nothing with a raw --threshold")
    if strong_pct is not None and not 0.0 <= strong_pct <= 1.0:
        raise ValueError(f"--strong-pct must be a share in [0, 1], got {strong_pct!r}")
    return resolve(
        router,
        threshold,
        strong_pct,
        texts,
        hint="pass --calibrate-on FILE with prompts to calibrate on, or a raw --threshold",
    )


def load_router_from_args(args: argparse.Namespace):
    from ..loader import load_router

    return load_router(
        args.router,
        strong_model=args.strong_model,
        weak_model=args.weak_model,
        backend=args.backend,
        scored_as=scored_as_from_args(args),
    )


def server_environment() -> None:
    """serve.environment.SERVER_ENVIRONMENT, unless set already (before the kernels load)."""
    import os

    from ..decision.environment import SERVER_ENVIRONMENT

    for var, value in SERVER_ENVIRONMENT.items():
        os.environ.setdefault(var, value)


def routing_options(args: argparse.Namespace) -> dict:
    """The decision's options (decision.build_decision's keywords) that `serve` and `extproc` share."""
    return {
        "backend": args.backend,
        "scored_as": scored_as_from_args(args),
        "profiles": args.profile,
        "route_on": args.route_on,
        "max_batch": args.max_batch,
        "max_queue": args.max_queue,
        "inline_below": args.inline_below_ms / 1000.0,
    }


def decision_config(args: argparse.Namespace):
    """The DecisionConfig of a command that only decides (`extproc`): routers, targets, the
    upstreams file's prices, scored_as and profiles, batching."""
    from ..decision.build import build_decision
    from ..decision.targets import read_upstreams

    upstreams = read_upstreams(args.upstreams) if args.upstreams else None
    return build_decision(
        args.routers, args.strong_model, args.weak_model, upstreams=upstreams, **routing_options(args)
    )


def add_server_options(p: argparse.ArgumentParser, *, port: int, port_help: str, profile_note: str = "") -> None:
    """The options `serve` and `extproc` share: profiles, where to listen, what to score, batching."""
    p.add_argument(
        "--profile",
        action="append",
        default=[],
        metavar="NAME_OR_FILE",
        help="serve a routing profile (N candidates with prices): a shipped one (routerbench) or a JSON "
        f"file; requests address it by name as their model (repeatable{profile_note})",
    )
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (0.0.0.0: every interface)")
    p.add_argument("--port", type=int, default=port, help=port_help)
    p.add_argument(
        "--route-on",
        choices=["last_user", "conversation"],
        default="last_user",
        help="what a chat request is scored on: its last user message, or the whole conversation",
    )
    p.add_argument("--max-batch", type=int, default=256, help="most prompts scored in one call")
    p.add_argument("--max-queue", type=int, default=4096, help="waiting prompts before answering 503")
    p.add_argument(
        "--inline-below-ms",
        type=float,
        default=0.5,
        help="score a batch on the event loop's thread when it is expected to take less than this "
        "(skips the hop to the scoring thread; 0: always hop; default: %(default)s)",
    )


def add_served_routers(p: argparse.ArgumentParser, default: str) -> None:
    """`--routers` of the commands that serve (serve, extproc)."""
    p.add_argument(
        "--routers",
        "--router",
        nargs="+",
        default=[default],
        metavar="ROUTER",
        help=f"routers to serve, each requested as model router-NAME-PCT%% or router-NAME-THRESHOLD: names "
        f"({router_names_help()}) or bundle directories; also --router",
    )
