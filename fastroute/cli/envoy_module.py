"""fastroute envoy-module: fastroute inside Envoy, as a dynamic module (no separate process).

Prints where the module is (the folder Envoy's ENVOY_DYNAMIC_MODULES_SEARCH_PATH names), the
module's own config (--filter-config), or a whole Envoy config around it (--envoy-config)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .common import add_served_routers, add_target_arguments, scored_as_from_args


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_served_routers(p, default="sw_ranking")
    add_target_arguments(p)
    p.add_argument(
        "--profile",
        action="append",
        default=[],
        metavar="NAME_OR_FILE",
        help="serve a routing profile: a shipped one (routerbench) or a JSON file (repeatable)",
    )
    p.add_argument(
        "--alias",
        action="append",
        default=[],
        metavar="NAME=MODEL",
        help="a model name clients send that routes as MODEL (a router model string or a profile), e.g. "
        "auto=router-mf-50%% (repeatable)",
    )
    p.add_argument(
        "--route-on", choices=["last_user", "conversation"], default="last_user", help="what a chat is scored on"
    )
    p.add_argument("--max-body-bytes", type=int, default=1 << 20, help="longest chat body the module reads (else 413)")
    p.add_argument(
        "--fail-open",
        action="store_true",
        help="when routing itself fails (a 5xx), let the request go on unrouted to the default route "
        "(default: answer the 5xx)",
    )
    g = p.add_mutually_exclusive_group()
    g.add_argument("--filter-config", action="store_true", help="print the module's config (JSON)")
    g.add_argument("--envoy-config", action="store_true", help="print a whole Envoy config (YAML) around the module")
    p.add_argument(
        "--upstream",
        action="append",
        default=[],
        metavar="MODEL=HOST:PORT",
        help="with --envoy-config: a model the module may choose and its upstream (repeatable; default: the "
        "strong model at 127.0.0.1:8001, the weak one at 127.0.0.1:8002)",
    )
    p.add_argument("--output", type=Path, default=None, metavar="FILE", help="write the config here (default: stdout)")
    p.add_argument("--listen-port", type=int, default=10000, help="with --envoy-config: Envoy's listener port")
    p.add_argument("--admin-port", type=int, default=9901, help="with --envoy-config: Envoy's admin port")
    p.add_argument(
        "--relative-to",
        default=None,
        metavar="DIR",
        help="write paths under DIR relative to it (a config to run from a checkout's root) (default: absolute)",
    )


def _pairs(items: list[str], flag: str, sep: str = "=") -> dict[str, str]:
    out = {}
    for item in items:
        name, ok, value = item.partition(sep)
        if not ok or not name or not value:
            raise ValueError(f"{flag} {item!r}: expected NAME{sep}VALUE")
        out[name] = value
    return out


def run(args: argparse.Namespace) -> int:
    from .. import native
    from ..native.envoy_config import envoy_config, relative_decider, relative_path

    cfg = native.decider_config(
        args.routers,
        args.strong_model,
        args.weak_model,
        scored_as=scored_as_from_args(args),
        route_on=args.route_on,
        profiles=args.profile,
        aliases=_pairs(args.alias, "--alias"),
        max_body_bytes=args.max_body_bytes,
        fail_open=args.fail_open,
    )
    if args.relative_to:
        cfg = relative_decider(cfg, str(args.relative_to))
    if args.filter_config:
        print(json.dumps(cfg, indent=1))
        return 0
    if args.envoy_config:
        strong, weak = args.strong_model or "gpt-4o", args.weak_model or "gpt-4o-mini"
        models = _pairs(args.upstream, "--upstream") or {strong: "127.0.0.1:8001", weak: "127.0.0.1:8002"}
        cfg.setdefault("strong_model", strong)
        cfg.setdefault("weak_model", weak)
        module = str(native.library_path(native.ENVOY_MODULE))
        text = envoy_config(
            cfg,
            models,
            listen_port=args.listen_port,
            admin_port=args.admin_port,
            module_path=relative_path(module, str(args.relative_to)) if args.relative_to else module,
        )
        if args.output:
            args.output.write_text(text)
        else:
            sys.stdout.write(text)
        return 0
    why = native.missing(native.ENVOY_MODULE)
    if why:
        print(f"fastroute envoy-module: {why}", file=sys.stderr)
        return 2
    path = native.library_path(native.ENVOY_MODULE)
    print(f"{path}\nENVOY_DYNAMIC_MODULES_SEARCH_PATH={path.parent}  (the module's name: {native.ENVOY_MODULE_NAME})")
    return 0
