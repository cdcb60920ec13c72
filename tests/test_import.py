"""`import fastroute` is cheap: no torch, no numpy, no work."""

from __future__ import annotations

import subprocess
import sys


def test_import_is_light():
    code = (
        "import sys, time; t = time.perf_counter(); import fastroute; dt = time.perf_counter() - t; "
        "print(dt, 'torch' in sys.modules, 'numpy' in sys.modules, 'faiss' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out[1:] == ["False", "False", "False"]
    assert float(out[0]) < 0.3


def test_default_path_imports_no_torch():
    code = (
        "import sys, numpy as np, fastroute; from fastroute import RandomRouter; "
        "from fastroute.embedders import get_embedder; get_embedder('static').encode(['hello']); "
        "print('torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "False"
