"""Triton kernels (kernels/, installed as fastroute.kernels): the GPU path.

Functions take and return torch tensors on the GPU; numpy inputs are moved there (and
results brought back) so the same tests run every backend. Under TRITON_INTERPRET=1
the kernels run on the CPU, on CPU tensors: that is how CI tests them.
"""

from __future__ import annotations

import importlib
import importlib.machinery
import importlib.util
import os
import sys
from pathlib import Path
from typing import Any

import numpy as np

from .checks import check_sharpness
from .contract import DEVICE_ARRAYS, FUSED_SW_STATS

NAME = "triton"
DEVICES = ("cuda", "cpu") if os.environ.get("TRITON_INTERPRET", "") == "1" else ("cuda",)
# Asked for by name, it also takes host (numpy) data: copied to the GPU, results copied back.
ACCEPTS_HOST_ARRAYS = True
# embedding_bag_i8 (the static embedder, host data) is not here: the registry runs it on c/numpy.
OPS = ("cosine_sim", "gemv_sigmoid", "linear_scores", "sw_stats", "bt_fit")
CAPABILITIES = frozenset({DEVICE_ARRAYS, FUSED_SW_STATS})


def _kernels_package() -> None:
    """Makes fastroute.kernels importable. Installed, setup.py maps it to kernels/; in a
    source checkout on PYTHONPATH that was not installed (benchmarks/gpu_check.sh on a GPU
    machine that cannot pip install), the repository's kernels/ directory is loaded under
    that name (never as a top-level `kernels`, which is also a PyPI package's name)."""
    if "fastroute.kernels" in sys.modules or importlib.util.find_spec("fastroute.kernels") is not None:
        return
    here = Path(__file__).resolve().parents[2] / "kernels"
    if not (here / "bt_fit.py").is_file():
        raise ModuleNotFoundError(
            "fastroute.kernels is not installed and no kernels/ directory is beside fastroute/",
            name="fastroute.kernels",
        )
    # A package with no __init__ (kernels/ has none, so it is never a top-level `kernels`).
    spec = importlib.machinery.ModuleSpec("fastroute.kernels", None, is_package=True)
    spec.submodule_search_locations = [str(here)]
    sys.modules["fastroute.kernels"] = importlib.util.module_from_spec(spec)


def kernel_module(name: str):
    """fastroute.kernels.<name>: the GPU versions of op <name> (kernels/<name>.py), or a helper."""
    _kernels_package()
    return importlib.import_module(f"fastroute.kernels.{name}")


def unavailable_reason() -> str:
    try:
        import torch
        import triton  # noqa: F401
    except ImportError as exc:
        return f"needs torch and triton (pip install 'fastroute[gpu]'): {exc}"
    if not torch.cuda.is_available() and os.environ.get("TRITON_INTERPRET", "") != "1":
        return "no CUDA device (set TRITON_INTERPRET=1 to run the kernels on the CPU)"
    return ""


def current_device():
    """The device the kernels run on by default: the current GPU, else the CPU (interpreter)."""
    import torch

    return torch.device("cuda") if torch.cuda.is_available() else torch.device("cpu")


device = current_device  # the older name


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
    target = like.device if isinstance(like, torch.Tensor) and like.device.type == "cuda" else current_device()
    t = t.to(target)
    return t.to(dtype) if dtype is not None else t


def _like(result, template):
    """numpy out for numpy in, torch out for torch in."""
    import torch

    return result if isinstance(template, torch.Tensor) else result.cpu().numpy()


def cosine_sim(Q, X, out=None):
    import torch

    kernel = kernel_module("cosine_sim").cosine_sim

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

    kernel = kernel_module("gemv_sigmoid").gemv_sigmoid

    Et = to_device(E, like=u)
    if Et.dtype not in (torch.float32, torch.float16, torch.bfloat16):
        Et = Et.to(torch.float32)
    return _like(kernel(Et, to_device(u, torch.float32).to(Et.device), bias), E)


def linear_scores(E, W):
    """[B, M] E W^T on the device. A GEMM with M <= a few dozen rows is bound by reading E,
    which cuBLAS (through torch) already does at the copy rate: no Triton kernel of our own."""
    import torch

    Et = to_device(E, like=W)
    Wt = to_device(W, torch.float32).to(Et.device)
    if Et.ndim != 2 or Wt.ndim != 2 or Wt.shape[1] != Et.shape[1]:
        raise ValueError(f"weights of shape {tuple(Wt.shape)} do not match embeddings of shape {tuple(Et.shape)}")
    return _like(Et.to(torch.float32) @ Wt.T, E)


def dense_stats_matrix(A, device=None) -> Any:
    """The CSR statistics matrix as a dense [N, K] float32 tensor (the fused kernel's operand),
    on `device` (default: the current one)."""
    import torch

    K, U = A.shape
    where = current_device() if device is None else device
    dense = torch.zeros((U, K), dtype=torch.float32, device=where)
    rows = np.repeat(np.arange(K), np.diff(A.indptr))
    idx = torch.from_numpy(np.stack([A.indices.astype(np.int64), rows])).to(where)
    dense.index_put_((idx[0], idx[1]), torch.from_numpy(A.values.astype(np.float32)).to(where), accumulate=True)
    return dense


def sw_weighted_stats(E, arena, A, sharpness: "float | None" = None):
    """Fused: (S [B, K] float64, row maxima [B]) from queries E, the arena and the dense
    statistics matrix A (dense_stats_matrix)."""
    kernel = kernel_module("sw_stats").sw_weighted_stats

    S, m = kernel(to_device(E), to_device(arena), to_device(A), check_sharpness(sharpness))
    return _like(S, E), _like(m, E)


def sw_stats(sims, A, sharpness: "float | None" = None):
    """From precomputed similarities (the CPU backends' interface): weights, then S = W A^T."""
    import torch

    sharpness = check_sharpness(sharpness)
    s = to_device(sims, torch.float32)
    S, m = kernel_module("sw_stats").stats_from_similarities(s, dense_stats_matrix(A, s.device), sharpness)
    return _like(S, sims), _like(m, sims)


def host_solve_below() -> int:
    """FASTROUTE_BT_HOST_BELOW: batches of at most this many rows are solved on the host (the
    C solver, else the numpy reference) after one copy, instead of by the device kernel; for
    the tiny batches where a launch costs more than the solve (benchmarks/gpu_bench.py times
    both). Default 0: always the device."""
    raw = os.environ.get("FASTROUTE_BT_HOST_BELOW", "0")
    if not raw.isdigit():
        raise ValueError(f"FASTROUTE_BT_HOST_BELOW must be a whole number of rows >= 0, got {raw!r}")
    return int(raw)


def bt_fit(S, T: int):
    """[B, T] Bradley-Terry coefficients by the batched device Newton solve; rows it does not
    converge on (or cannot solve) are solved again by the numpy reference, as c_backend does."""
    import torch

    St = to_device(S)
    if St.shape[0] <= host_solve_below():
        try:
            from .c_backend import bt_fit as host_fit
        except ImportError:  # C kernels not built (a bare GPU machine): the reference
            from .reference_bt import bt_fit as host_fit
        beta_host = host_fit(St.detach().cpu().numpy().astype(np.float64), T)
        return _like(torch.from_numpy(np.ascontiguousarray(beta_host)).to(St.device), S)
    kernel = kernel_module("bt_fit").bt_fit
    beta, converged = kernel(St, T)
    if not bool(converged.all()):
        from .reference_bt import bt_fit as reference_fit

        bad = torch.nonzero(~converged).flatten()
        redo = reference_fit(St[bad].detach().cpu().numpy().astype(np.float64), T)
        beta[bad] = torch.from_numpy(redo).to(beta.device, beta.dtype)
    return _like(beta, S)
