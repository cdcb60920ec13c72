"""Kernel backends behind one registry.

Each backend is a module exposing plain functions over arrays, the ops named in
OPS below, plus NAME, DEVICES and its own OPS tuple (the ops it implements).
`reference` (numpy) defines the results and has every op; `c` is the CPU fast
path; `triton` serves CUDA tensors. `get_backend()` picks one: an explicit name
(the argument, else FASTROUTE_BACKEND=numpy|c|triton) fails loudly, naming the
cause, when it cannot be had; automatic choice falls back quietly, except for a
one-line warning when the C kernels are missing on the CPU.

An op a backend lacks resolves per op to the next backend in its FALLBACK chain
(triton: c, then numpy), with a one-time RuntimeWarning naming the op and the
backend used instead, so a partial backend never fails with an AttributeError.

Every op has one name, used by all of its versions (the contract, with each op's
parameters, dtypes and result, is in contract.py; the shared numbers in constants.py and
csrc/fr_constants.h):

    op                numpy reference           C (csrc/, fr_<op>)        Triton / GPU (kernels/)
    cosine_sim        reference.cosine_sim      cosine_sim.c              cosine_sim.py
    gemv_sigmoid      reference.gemv_sigmoid    gemv_sigmoid.c            gemv_sigmoid.py
    linear_scores     reference.linear_scores   linear_scores.c           (torch: cuBLAS, in triton_backend)
    field_win_rates   reference.field_win_rates field_win_rates.c         - (falls back to C)
    sw_stats          reference.sw_stats        sw_stats.c                sw_stats.py (+ the fused
                                                                          sw_weighted_stats)
    bt_fit            reference_bt.bt_fit       bt_fit.c                  bt_fit.py (torch)
    embedding_bag_i8  reference.embedding_bag_i8  embedding_bag_i8.c      - (falls back to C)

A backend declares what it offers beyond the ops in CAPABILITIES (`Backend.capabilities`):
DEVICE_ARRAYS (its own device tensors, `to_device`) and FUSED_SW_STATS
(`sw_weighted_stats`, `dense_stats_matrix`); routers test those, never a backend's name.
"""

from __future__ import annotations

import importlib
import os
import threading
import warnings
from types import ModuleType
from typing import Any

from .checks import check_sharpness
from .contract import CONTRACT, DEVICE_ARRAYS, FUSED_SW_STATS, OPS, check_backend
from .csr import CSRMatrix

__all__ = [
    "BackendUnavailable",
    "CONTRACT",
    "CSRMatrix",
    "Backend",
    "DEVICE_ARRAYS",
    "FUSED_SW_STATS",
    "OPS",
    "available_backends",
    "backend_status",
    "check_sharpness",
    "get_backend",
    "known_backends",
]

_MODULES = {
    "numpy": "fastroute.ops.reference",
    "c": "fastroute.ops.c_backend",
    "triton": "fastroute.ops.triton_backend",
}
_AUTO_ORDER = {"cpu": ("c", "numpy"), "cuda": ("triton",)}
# Where an op a backend lacks comes from (on host arrays), first available wins.
FALLBACK = {"triton": ("c", "numpy"), "c": ("numpy",), "numpy": ()}

_lock = threading.Lock()
_loaded: dict[str, tuple[ModuleType | None, str]] = {}
_wrapped: dict[int, "Backend"] = {}
_warned = False
_warned_ops: set[tuple[str, str]] = set()


class BackendUnavailable(RuntimeError):
    """An explicitly requested kernel backend cannot be used here."""


class Backend:
    """A backend module whose missing ops resolve to the next backend of its fallback chain.

    Every other attribute (NAME, DEVICES, to_device, set_simd_level, ...) is the module's own;
    `capabilities` is the frozenset the module declares (contract.DEVICE_ARRAYS, ...).
    """

    def __init__(self, module: Any) -> None:
        self.module = module
        self.NAME, self.DEVICES = module.NAME, module.DEVICES  # read on every call: plain attributes
        self.capabilities: frozenset[str] = frozenset(getattr(module, "CAPABILITIES", ()))

    def __getattr__(self, attr: str) -> Any:
        if attr == "module":  # not set yet (e.g. while unpickling): no recursion
            raise AttributeError(attr)
        if attr in OPS:
            # Resolved once and stored on the instance, so later lookups never come here.
            fn = _resolve_op(self.module, attr)
            setattr(self, attr, fn)
            return fn
        return getattr(self.module, attr)

    def provider(self, op: str) -> str:
        """The name of the backend that runs `op`."""
        fn = getattr(self, op)
        return getattr(fn, "_fastroute_backend", self.module.NAME)

    def __repr__(self) -> str:
        return f"<fastroute backend {self.module.NAME!r}>"


def _declared_ops(module: Any) -> tuple[str, ...]:
    return tuple(getattr(module, "OPS", ()))


def _resolve_op(module: Any, op: str) -> Any:
    if op in _declared_ops(module) and callable(getattr(module, op, None)):
        return getattr(module, op)
    name = module.NAME
    tried = []
    for cand in FALLBACK.get(name, ("numpy",)):
        mod, reason = _load(cand)
        if mod is None or op not in _declared_ops(mod):
            tried.append(f"{cand}: {reason or 'lacks it'}")
            continue
        fn = getattr(mod, op)
        with _lock:
            first = (name, op) not in _warned_ops
            _warned_ops.add((name, op))
        if first:
            warnings.warn(
                f"fastroute: backend {name!r} has no {op!r}; using the {cand!r} backend for it",
                RuntimeWarning,
                stacklevel=3,
            )

        def fallback(*args: Any, _fn: Any = fn, **kwargs: Any) -> Any:
            return _fn(*args, **kwargs)

        fallback._fastroute_backend = cand  # type: ignore[attr-defined]
        fallback.__doc__ = fn.__doc__
        fallback.__name__ = op
        return fallback
    raise BackendUnavailable(f"backend {name!r} has no {op!r} and no fallback has it ({'; '.join(tried)})")


def _load(name: str) -> tuple[ModuleType | None, str]:
    with _lock:
        if name not in _loaded:
            try:
                mod = importlib.import_module(_MODULES[name])
                check = getattr(mod, "unavailable_reason", None)
                reason = (check() if check else "") or check_backend(mod)
                _loaded[name] = (None, reason) if reason else (mod, "")
            except Exception as exc:  # noqa: BLE001 - any import failure means unavailable
                _loaded[name] = (None, f"{type(exc).__name__}: {exc}")
        return _loaded[name]


def _wrap(module: Any) -> Backend:
    """One Backend per module, so repeated get_backend calls share resolved ops."""
    with _lock:
        b = _wrapped.get(id(module))
        if b is None or b.module is not module:
            b = _wrapped[id(module)] = Backend(module)
        return b


def get_backend(name: str | None = None, device: str = "cpu") -> Backend:
    """The kernels to use for data on `device` ("cpu" or "cuda")."""
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
        return _wrap(mod)
    reasons: list[str] = []
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
            return _wrap(mod)
        reasons.append(f"{cand}: {reason}")
    raise BackendUnavailable(f"no kernel backend for {device!r}: " + "; ".join(reasons))


def backend_status() -> dict[str, str]:
    """For each backend, 'available (...)' or why not; a partial backend names its fallbacks."""
    status = {}
    for name in _MODULES:
        mod, reason = _load(name)
        if mod is None:
            status[name] = f"unavailable: {reason}"
        else:
            desc = getattr(mod, "describe", None)
            missing = [op for op in OPS if op not in _declared_ops(mod)]
            extra = f"; falls back for {', '.join(missing)}" if missing else ""
            status[name] = "available" + (f" ({desc()}{extra})" if desc else (f" ({extra[2:]})" if extra else ""))
    return status


def known_backends() -> list[str]:
    """Every backend name the registry knows, available here or not."""
    return list(_MODULES)


def available_backends(device: str = "cpu") -> list[str]:
    return [n for n in _MODULES if (mod := _load(n)[0]) is not None and device in mod.DEVICES]
