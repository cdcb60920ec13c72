"""Kernel backends behind one registry.

Each backend is a module exposing the same plain functions over arrays
(`cosine_sim`, `gemv_sigmoid`, `sw_stats`, `embedding_bag_i8`) plus NAME and
DEVICES. `reference` (numpy) defines the results; `c` is the CPU fast path;
`triton` serves CUDA tensors. `get_backend()` picks one: an explicit name (the
argument, else FASTROUTE_BACKEND=numpy|c|triton) fails loudly, naming the
cause, when it cannot be had; automatic choice falls back quietly, except for
a one-line warning when the C kernels are missing on the CPU.
"""
from __future__ import annotations

import importlib
import os
import threading
import warnings
from types import ModuleType

from .csr import CSRMatrix

__all__ = ["BackendUnavailable", "CSRMatrix", "available_backends", "backend_status", "get_backend"]

_MODULES = {
    "numpy": "fastroute.ops.reference",
    "c": "fastroute.ops.c_backend",
    "triton": "fastroute.ops.triton_backend",
}
_AUTO_ORDER = {"cpu": ("c", "numpy"), "cuda": ("triton",)}

_lock = threading.Lock()
_loaded: dict[str, tuple[ModuleType | None, str]] = {}
_warned = False


class BackendUnavailable(RuntimeError):
    """An explicitly requested kernel backend cannot be used here."""


def _load(name: str) -> tuple[ModuleType | None, str]:
    with _lock:
        if name not in _loaded:
            try:
                mod = importlib.import_module(_MODULES[name])
                check = getattr(mod, "unavailable_reason", None)
                reason = check() if check else ""
                _loaded[name] = (None, reason) if reason else (mod, "")
            except Exception as exc:  # noqa: BLE001 - any import failure means unavailable
                _loaded[name] = (None, f"{type(exc).__name__}: {exc}")
        return _loaded[name]


def get_backend(name: str | None = None, device: str = "cpu") -> ModuleType:
    """The kernel module to use for data on `device` ("cpu" or "cuda")."""
    global _warned
    requested = name or os.environ.get("FASTROUTE_BACKEND", "").strip() or "auto"
    if device not in _AUTO_ORDER:
        raise ValueError(f"unknown device {device!r}; known: {sorted(_AUTO_ORDER)}")
    if requested != "auto":
        if requested not in _MODULES:
            raise ValueError(f"unknown backend {requested!r}; known: {sorted(_MODULES)} or 'auto'")
        mod, reason = _load(requested)
        source = "argument" if name else "FASTROUTE_BACKEND"
        if mod is None:
            raise BackendUnavailable(f"backend {requested!r} (from {source}) is unavailable: {reason}")
        if device not in mod.DEVICES and not (device == "cpu" and getattr(mod, "ACCEPTS_HOST_ARRAYS", False)):
            raise BackendUnavailable(
                f"backend {requested!r} (from {source}) serves {list(mod.DEVICES)}, not {device!r}"
            )
        return mod
    reasons = []
    for cand in _AUTO_ORDER[device]:
        mod, reason = _load(cand)
        if mod is not None:
            if cand == "numpy" and not _warned:
                _warned = True
                warnings.warn(
                    f"fastroute: C kernels unavailable ({reasons[-1] if reasons else '?'}); "
                    "using the slower numpy reference kernels",
                    RuntimeWarning,
                    stacklevel=2,
                )
            return mod
        reasons.append(f"{cand}: {reason}")
    raise BackendUnavailable(f"no kernel backend for {device!r}: " + "; ".join(reasons))


def backend_status() -> dict[str, str]:
    """For each backend, 'available (...)' or why not."""
    status = {}
    for name in _MODULES:
        mod, reason = _load(name)
        if mod is None:
            status[name] = f"unavailable: {reason}"
        else:
            desc = getattr(mod, "describe", None)
            status[name] = "available" + (f" ({desc()})" if desc else "")
    return status


def available_backends(device: str = "cpu") -> list[str]:
    return [n for n in _MODULES if _load(n)[0] is not None and device in _load(n)[0].DEVICES]
