"""Options and helpers shared by the commands that load a router."""

from __future__ import annotations

import argparse
import sys


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
        help="kernel backend (default: automatic, or FASTROUTE_BACKEND)",
    )


def add_router_arguments(p: argparse.ArgumentParser, default_router: str = "sw_ranking") -> None:
    p.add_argument(
        "--router",
        default=default_router,
        help=f"router name ({router_names_help()}) or bundle directory (default: {default_router})",
    )
    p.add_argument("--strong-model", default=None, help="strong model (default: the bundle's)")
    p.add_argument("--weak-model", default=None, help="weak model (default: the bundle's)")
    add_backend_argument(p)


def load_router_from_args(args: argparse.Namespace):
    from ..loader import load_router

    return load_router(args.router, strong_model=args.strong_model, weak_model=args.weak_model, backend=args.backend)


class Progress:
    """A one-line progress counter on stderr, shown only on a terminal."""

    def __init__(self, total: int, label: str) -> None:
        self.total, self.label, self.done = total, label, 0
        self.enabled = sys.stderr.isatty()

    def update(self, n: int) -> None:
        self.done += n
        if self.enabled:
            pct = 100.0 * self.done / max(self.total, 1)
            sys.stderr.write(f"\r{self.label}: {self.done}/{self.total} ({pct:5.1f}%)")
            sys.stderr.flush()

    def close(self) -> None:
        if self.enabled:
            sys.stderr.write("\n")
