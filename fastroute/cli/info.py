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


def run(args: argparse.Namespace) -> int:
    from .. import __version__
    from ..bundle import DEFAULTS_DIR, META_FILE
    from ..ops import backend_status, get_backend

    print(f"fastroute {__version__} (Python {platform.python_version()}, {platform.machine()})")
    status = backend_status()
    active = get_backend(None, "cpu").NAME
    print("kernel backends:")
    for name, state in status.items():
        mark = "*" if name == active else " "
        print(f"  {mark} {name:7s} {state}")
    print(f"packages: numpy {_version('numpy')}, faiss-cpu {_version('faiss-cpu')}, "
          f"tokenizers {_version('tokenizers')}, torch {_version('torch')}, triton {_version('triton')}")
    shipped = sorted(p.name for p in DEFAULTS_DIR.glob("*") if (p / META_FILE).is_file()) if DEFAULTS_DIR.is_dir() else []
    print(f"default routers: {', '.join(shipped) if shipped else 'none shipped'} (+ random)")
    print(f"embedders: static (shipped), minilm ({'available' if importlib.util.find_spec('sentence_transformers') else 'needs fastroute[minilm]'}), openai:<model>")
    if args.require_c and not status["c"].startswith("available"):
        print("error: the C kernels are not built")
        return 1
    return 0
