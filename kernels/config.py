"""Launch settings shared by the kernels: the interpreter takes small blocks, a GPU large ones."""

from __future__ import annotations

import os

if not __name__.startswith("fastroute.kernels."):  # kernels/ is no top-level package (kernels/README.md)
    raise ImportError(
        f"{__name__}: fastroute's Triton kernels load as fastroute.kernels (fastroute.ops.triton_backend.kernel_module)"
    )


def interpreting() -> bool:
    """True under TRITON_INTERPRET=1 (CPU tests): one small configuration, no autotuning."""
    return os.environ.get("TRITON_INTERPRET", "") == "1"


def autotuning() -> bool:
    """False under the interpreter (more than one config fails there) or with
    FASTROUTE_TRITON_AUTOTUNE=0 (GPU tests: one compile per shape instead of one per config)."""
    return not interpreting() and os.environ.get("FASTROUTE_TRITON_AUTOTUNE", "1") != "0"


def autotune_configs(options: "list[dict]", warps: "list[int]", stages: "list[int]"):
    """triton.Config list for @triton.autotune; only the first one when not autotuning."""
    import triton

    configs = [triton.Config(dict(o), num_warps=w, num_stages=s) for o in options for w in warps for s in stages]
    return configs if autotuning() else configs[:1]


def on_device(t):
    """Context making `t`'s GPU the current one, so a launch runs where the data is (not on
    device 0); nothing to do for CPU tensors (the interpreter)."""
    import contextlib

    import torch

    return torch.cuda.device(t.device) if t.device.type == "cuda" else contextlib.nullcontext()
