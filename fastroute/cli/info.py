"""fastroute info: what this installation has and which kernels are active."""

from __future__ import annotations

import argparse
import importlib.metadata
import importlib.util
import platform


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--require-c", action="store_true", help="exit 1 unless the C kernels are built (for CI)")


def _version(dist: str) -> str:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def _extra_installed(extra: str) -> bool:
    """Whether the packages of a pip extra are importable (only the extras embedders name)."""
    modules = {"minilm": "sentence_transformers"}
    return importlib.util.find_spec(modules.get(extra, extra)) is not None


def run(args: argparse.Namespace) -> int:
    from .. import __version__
    from ..bundle import META_FILE
    from ..embedders.registry import EMBEDDERS
    from ..loader import DEFAULTS_DIR
    from ..ops import backend_status, get_backend
    from ..routers.registry import ROUTERS

    print(f"fastroute {__version__} (Python {platform.python_version()}, {platform.machine()})")
    status = backend_status()
    active = get_backend(None, "cpu").NAME
    print("kernel backends:")
    for name, state in status.items():
        mark = "*" if name == active else " "
        print(f"  {mark} {name:7s} {state}")
    print(
        f"packages: numpy {_version('numpy')}, faiss-cpu {_version('faiss-cpu')}, "
        f"tokenizers {_version('tokenizers')}, torch {_version('torch')}, triton {_version('triton')}"
    )
    shipped = (
        sorted(p.name for p in DEFAULTS_DIR.glob("*") if (p / META_FILE).is_file()) if DEFAULTS_DIR.is_dir() else []
    )
    weightless = ", ".join(k for k, r in ROUTERS.items() if not r.needs_bundle)
    print(f"default routers: {', '.join(shipped) if shipped else 'none shipped'} (+ {weightless})")
    print("router kinds: " + ", ".join(f"{k} ({r.summary})" for k, r in ROUTERS.items()))
    print(
        "embedders: "
        + ", ".join(
            f"{e.usage}" + (f" (needs fastroute[{e.extra}])" if e.extra and not _extra_installed(e.extra) else "")
            for e in EMBEDDERS.values()
        )
    )
    from .. import native

    why = native.missing() or native.missing(native.ENVOY_MODULE)
    print(
        f"native engine and Envoy module: {native.library_path().parent}"
        if not why
        else f"native engine: not built ({why})"
    )
    if args.require_c and not status["c"].startswith("available"):
        print("error: the C kernels are not built")
        return 1
    return 0
