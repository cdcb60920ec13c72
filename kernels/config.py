"""Launch settings shared by the kernels: the interpreter takes small blocks, a GPU large ones."""
from __future__ import annotations

import os


def interpreting() -> bool:
    """True under TRITON_INTERPRET=1 (CPU tests): one small configuration, no autotuning."""
    return os.environ.get("TRITON_INTERPRET", "") == "1"
