"""Launch settings shared by the kernels: the interpreter takes small blocks, a GPU large ones."""
from __future__ import annotations

import os


def interpreting() -> bool:
    """True under TRITON_INTERPRET=1 (CPU tests): one small configuration, no autotuning."""
    return os.environ.get("TRITON_INTERPRET", "") == "1"


def autotune_configs(options: "list[dict]", warps: "list[int]", stages: "list[int]"):
    """triton.Config list for @triton.autotune; under the interpreter only the first one
    (more than one config fails there)."""
    import triton

    configs = [triton.Config(dict(o), num_warps=w, num_stages=s) for o in options for w in warps for s in stages]
    return configs[:1] if interpreting() else configs
