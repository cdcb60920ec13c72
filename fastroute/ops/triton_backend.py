"""Triton kernels (kernels/, installed as fastroute.kernels): the GPU path.

Functions take and return torch tensors on the GPU; numpy inputs are moved there (and
results brought back) so the same tests run every backend. Under TRITON_INTERPRET=1
the kernels run on the CPU, on CPU tensors: that is how CI tests them.
"""
from __future__ import annotations

import importlib
import os
import sys
from pathlib import Path
from typing import Any

import numpy as np

NAME = "triton"
DEVICES = ("cuda", "cpu") if os.environ.get("TRITON_INTERPRET", "") == "1" else ("cuda",)
# Asked for by name, it also takes host (numpy) data: copied to the GPU, results copied back.
ACCEPTS_HOST_ARRAYS = True
# embedding_bag_i8 (the static embedder, host data) is not here: the registry runs it on c/numpy.
OPS = ("cosine_sim", "gemv_sigmoid", "sw_stats", "bt_fit")


def kernel_module(name: str):
    """fastroute.kernels.<name>; in a source checkout that was not installed (e.g. on a GPU
    machine that cannot pip install), the repository's kernels/ directory itself."""
    try:
        return importlib.import_module(f"fastroute.kernels.{name}")
    except ModuleNotFoundError:
        root = Path(__file__).resolve().parents[2]
        if not (root / "kernels" / "__init__.py").is_file():
            raise
        if str(root) not in sys.path:
            sys.path.insert(0, str(root))
        return importlib.import_module(f"kernels.{name}")


def unavailable_reason() -> str:
    try:
        import torch
        import triton  # noqa: F401
    except ImportError as exc:
        return f"needs torch and triton (pip install 'fastroute[gpu]'): {exc}"
    if not torch.cuda.is_available() and os.environ.get("TRITON_INTERPRET", "") != "1":
        return "no CUDA device (set TRITON_INTERPRET=1 to run the kernels on the CPU)"
    return ""


def device():
    import torch

    return torch.device("cuda") if torch.cuda.is_available() else torch.device("cpu")


def describe() -> str:
    import torch
    import triton

    where = torch.cuda.get_device_name(torch.cuda.current_device()) if torch.cuda.is_available() else "CPU interpreter"
    return f"triton {triton.__version__} on {where}"


def to_device(a, dtype=None, like=None):
    """A torch tensor on the kernels' device: a tensor already on a GPU stays on that GPU;
    anything else goes to `like`'s GPU when that is a GPU tensor, else to the current device."""
    import torch

    if isinstance(a, torch.Tensor) and a.device.type == "cuda":
        return a.to(dtype) if dtype is not None else a

    if not isinstance(a, torch.Tensor):
        a = np.asarray(a)
        if a.dtype.kind not in "biuf":
            raise ValueError(f"expected an array of real numbers, got dtype {a.dtype}")
        # torch.from_numpy takes only native byte order and warns on read-only data: a copy
        # in native order, aligned and writable (none when the array already is one).
        a = np.require(a, a.dtype.newbyteorder("="), ["C", "A", "W"])
        if any(st % a.itemsize for st in a.strides):  # "C contiguous" size-1 axes may keep odd strides
            a = a.copy()
    t = a if isinstance(a, torch.Tensor) else torch.from_numpy(a)
    target = like.device if isinstance(like, torch.Tensor) and like.device.type == "cuda" else device()
    t = t.to(target)
    return t.to(dtype) if dtype is not None else t


def _like(result, template):
    """numpy out for numpy in, torch out for torch in."""
    import torch

    return result if isinstance(template, torch.Tensor) else result.cpu().numpy()


def cosine_sim(Q, X, out=None):
    import torch

    kernel = kernel_module("cosine").cosine_sim

    Qt = to_device(Q, torch.float32, like=X)
    Xt = to_device(X, like=Qt)
    if Xt.dtype not in (torch.float32, torch.float16, torch.bfloat16):
        Xt = Xt.to(torch.float32)
    res = _like(kernel(Qt, Xt), Q)
    if out is not None:
        out[...] = res
        return out
    return res


def gemv_sigmoid(E, u, bias: float = 0.0):
    import torch

    kernel = kernel_module("mf").gemv_sigmoid

    Et = to_device(E, like=u)
    if Et.dtype not in (torch.float32, torch.float16, torch.bfloat16):
        Et = Et.to(torch.float32)
    return _like(kernel(Et, to_device(u, torch.float32).to(Et.device), bias), E)


def dense_stats_matrix(A, on=None) -> Any:
    """The CSR statistics matrix as a dense [N, K] float32 tensor (the fused kernel's operand),
    on device `on` (default: the current one)."""
    import torch

    K, U = A.shape
    where = device() if on is None else on
    dense = torch.zeros((U, K), dtype=torch.float32, device=where)
    rows = np.repeat(np.arange(K), np.diff(A.indptr))
    idx = torch.from_numpy(np.stack([A.indices.astype(np.int64), rows])).to(where)
    dense.index_put_((idx[0], idx[1]), torch.from_numpy(A.values.astype(np.float32)).to(where), accumulate=True)
    return dense


def sw_weighted_stats(Q, X, A_dense, sharpness: "float | None" = None):
    """Fused: (S [B, K] float64, row maxima [B]) from queries, arena and dense statistics."""
    kernel = kernel_module("sw_stats").sw_weighted_stats

    S, m = kernel(to_device(Q), to_device(X), to_device(A_dense), sharpness)
    return _like(S, Q), _like(m, Q)


def sw_stats(sims, A, sharpness: "float | None" = None):
    """From precomputed similarities (the CPU backends' interface): weights, then S = W A^T."""
    import torch

    k = kernel_module("sw_stats")
    EXP2_MIN, LOG2_10, LOG2_E = k.EXP2_MIN, k.LOG2_10, k.LOG2_E

    s = to_device(sims, torch.float32)
    m = s.max(dim=1).values if s.shape[1] else torch.full((s.shape[0],), float("-inf"), device=s.device)
    if sharpness is not None:
        if not sharpness > 0:
            raise ValueError(f"sharpness must be > 0 (or None for RouteLLM's weights), got {sharpness}")
        e = (s - m[:, None]) * (float(sharpness) * LOG2_E)
    else:
        ok = m > 0
        inv = torch.where(ok, 1.0 / torch.where(ok, m, torch.ones_like(m)), torch.zeros_like(m))
        e = LOG2_10 * (s * inv[:, None] + 1.0)
    w = torch.exp2(torch.clamp(e, min=EXP2_MIN)).to(torch.float64)
    S = w @ dense_stats_matrix(A, s.device).to(torch.float64)
    return _like(S, sims), _like(m, sims)


def bt_fit(S, T: int):
    """[B, T] Bradley-Terry coefficients by the batched device Newton solve; rows it does not
    converge on (or cannot solve) are solved again by the numpy reference, as c_backend does."""
    import torch

    kernel = kernel_module("bt_newton").bt_fit

    St = to_device(S)
    beta, converged = kernel(St, T)
    if not bool(converged.all()):
        from .reference import bt_fit as reference_fit

        bad = torch.nonzero(~converged).flatten()
        redo = reference_fit(St[bad].detach().cpu().numpy().astype(np.float64), T)
        beta[bad] = torch.from_numpy(redo).to(beta.device, beta.dtype)
    return _like(beta, S)
