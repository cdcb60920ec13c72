"""The backend contract: what every op takes and returns, and what a backend may declare.

A backend module declares NAME, DEVICES, OPS (the ops it implements, a subset of the
contract's) and CAPABILITIES (a frozenset of the names below). `check_backend` is run when
the registry loads a backend: an op it declares but lacks, or defines with other
parameters, or a capability whose functions are missing, makes the backend unavailable
with that reason. To add an op: an OpSpec here, the numpy reference (ops/reference.py),
then any fast versions (csrc/<op>.c, kernels/<op>.py), and a case in
tests/ops/test_op_conformance.py (which fails for an op without one).
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Any

__all__ = [
    "CAPABILITIES",
    "CONTRACT",
    "DEVICE_ARRAYS",
    "FUSED_SW_STATS",
    "Capability",
    "OPS",
    "OpSpec",
    "Param",
    "SPECS",
    "check_backend",
    "signature_problem",
]

# The backend computes on its own device tensors: it has `to_device(a)`, and its ops return
# tensors on that device for tensor inputs (Triton). Routers keep data there between calls.
DEVICE_ARRAYS = "device_arrays"
# The backend has `sw_weighted_stats(E, arena, A, sharpness)` (similarities, weights and the
# statistics in one fused two-pass kernel, nothing [B, N] in memory) and
# `dense_stats_matrix(A, device)` (the CSR statistics matrix as its dense operand) (Triton).
FUSED_SW_STATS = "fused_sw_stats"


@dataclass(frozen=True)
class Param:
    """One parameter: its name, the dtypes the op accepts for it (numpy names; "CSRMatrix",
    "int", "float" or "None" for non-arrays), and whether it has a default."""

    name: str
    dtypes: tuple[str, ...]
    optional: bool = False


@dataclass(frozen=True)
class OpSpec:
    """An op: its name (also the function's name in every backend), parameters in order,
    and what it returns. Array inputs may come in any memory layout (strides, broadcast,
    byte order): backends copy what they cannot read."""

    name: str
    params: tuple[Param, ...]
    result: str


@dataclass(frozen=True)
class Capability:
    """Something beyond the ops a backend may offer, and the functions (name, parameters)
    that declaring it promises."""

    name: str
    members: tuple[tuple[str, tuple[Param, ...]], ...]


_F = ("float32", "float64", "float16")
CONTRACT: tuple[OpSpec, ...] = (
    OpSpec(
        "cosine_sim",
        (Param("Q", _F + ("int16",)), Param("X", ("float32", "float16")), Param("out", ("float32",), optional=True)),
        "float32 [B, N]: cosine of each query with each unit-norm arena row (zero query: 0)",
    ),
    OpSpec(
        "gemv_sigmoid",
        (Param("E", _F + ("int8",)), Param("u", ("float32", "float64")), Param("bias", ("float",), optional=True)),
        "float32 [B]: sigmoid(E u + bias)",
    ),
    OpSpec(
        "linear_scores",
        (Param("E", _F), Param("W", ("float32", "float64"))),
        "float32 [B, M]: E W^T, a score per row of E and row of W (accumulated in double)",
    ),
    OpSpec(
        "field_win_rates",
        (Param("S", ("float64", "float32")),),
        "float64 [B, K]: each column's mean sigmoid(S[b, k] - S[b, j]) over the other columns j",
    ),
    OpSpec(
        "sw_stats",
        (
            Param("sims", ("float32", "float64")),
            Param("A", ("CSRMatrix",)),
            Param("sharpness", ("float", "None"), optional=True),
        ),
        "(float64 [B, K] statistics A w per row of weights, float32 [B] row maxima)",
    ),
    OpSpec(
        "bt_fit",
        (Param("S", ("float64", "float32")), Param("T", ("int",))),
        "float64 [B, T]: Bradley-Terry coefficients of each row of counts",
    ),
    OpSpec(
        "embedding_bag_i8",
        (
            Param("table", ("int8",)),
            Param("scales", _F),
            Param("ids", ("int32", "int64", "uint16", "int16")),
            Param("offsets", ("int64", "int32")),
        ),
        "float32 [B, d]: normalised mean of scales[t] * table[t] over each bag of ids",
    ),
)
SPECS = {op.name: op for op in CONTRACT}
OPS: tuple[str, ...] = tuple(SPECS)

CAPABILITIES = {
    DEVICE_ARRAYS: Capability(DEVICE_ARRAYS, (("to_device", (Param("a", _F),)),)),
    FUSED_SW_STATS: Capability(
        FUSED_SW_STATS,
        (
            (
                "sw_weighted_stats",
                (
                    Param("E", _F),
                    Param("arena", _F),
                    Param("A", ("float32",)),
                    Param("sharpness", ("float", "None"), optional=True),
                ),
            ),
            ("dense_stats_matrix", (Param("A", ("CSRMatrix",)), Param("device", ("None",), optional=True))),
        ),
    ),
}


def signature_problem(fn: Any, params: "tuple[Param, ...]") -> str:
    """Why `fn` does not take `params` (same names, in order, defaults where optional, any
    further parameter optional), or "" when it does."""
    try:
        sig = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError) as exc:
        return f"no signature ({exc})"
    positional = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    want = "(" + ", ".join(p.name + ("=..." if p.optional else "") for p in params) + ")"
    for i, p in enumerate(params):
        if i >= len(sig) or sig[i].name != p.name or sig[i].kind not in positional:
            return f"parameters {[q.name for q in sig]}, expected {want}"
        if (sig[i].default is not inspect.Parameter.empty) != p.optional:
            return f"parameter {p.name!r} {'needs' if p.optional else 'must not have'} a default, expected {want}"
    for extra in sig[len(params) :]:
        required = extra.default is inspect.Parameter.empty
        if required and extra.kind not in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD):
            return f"extra parameter {extra.name!r} has no default, expected {want}"
    return ""


def check_backend(module: Any) -> str:
    """Why the backend module breaks the contract, or "" when it keeps it."""
    name = getattr(module, "NAME", "?")
    problems = []
    for op in getattr(module, "OPS", ()):
        spec = SPECS.get(op)
        fn = getattr(module, op, None)
        if spec is None:
            problems.append(f"declares {op!r}, which is not an op of the contract")
        elif not callable(fn):
            problems.append(f"declares {op!r} but does not define it")
        elif why := signature_problem(fn, spec.params):
            problems.append(f"{op}: {why}")
    for cap in getattr(module, "CAPABILITIES", frozenset()):
        if cap not in CAPABILITIES:
            problems.append(f"declares unknown capability {cap!r} (known: {sorted(CAPABILITIES)})")
            continue
        for member, params in CAPABILITIES[cap].members:
            fn = getattr(module, member, None)
            if not callable(fn):
                problems.append(f"declares {cap!r} but has no {member}()")
            elif why := signature_problem(fn, params):
                problems.append(f"{member} ({cap}): {why}")
    return f"backend {name!r} breaks the op contract: " + "; ".join(problems) if problems else ""
