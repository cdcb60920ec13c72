"""The sanitizer build (`make asan`): the C kernels compiled with AddressSanitizer and
UBSan, loaded through FASTROUTE_C_MODULE, run the C op tests (test_ops.py,
test_ops_layouts.py) and this file. Here: that build is really the one loaded, and it
really reports an out-of-bounds read (so a clean run means something)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

SANITIZED = os.environ.get("FASTROUTE_EXPECT_SANITIZERS") == "1"
needs_asan = pytest.mark.skipif(not SANITIZED, reason="runs under `make asan` (FASTROUTE_EXPECT_SANITIZERS=1)")


@needs_asan
def test_the_sanitized_build_is_loaded():
    from fastroute.ops import get_backend

    c = get_backend("c")
    assert os.path.samefile(c._C.__file__, os.environ["FASTROUTE_C_MODULE"])
    assert c.lib.fr_sanitized() == 1


@needs_asan
def test_asan_reports_an_out_of_bounds_read():
    """A row stride past the buffer, handed to C directly (the Python wrapper would copy):
    ASan must abort with a heap-buffer-overflow report."""
    code = (
        "import numpy as np\n"
        "from fastroute.ops import c_backend as c\n"
        "E = np.ones((1, 64), np.float32); u = np.ones(64, np.float32); out = np.zeros(4, np.float32)\n"
        "p = lambda a, t: c.ffi.cast(t, a.ctypes.data)\n"
        "c.lib.fr_gemv_sigmoid_f32(p(E, 'float *'), 4, 64, 64, p(u, 'float *'), 0.0, p(out, 'float *'), 1)\n"
        "print('no report')\n"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert res.returncode != 0, res.stdout
    assert "AddressSanitizer: heap-buffer-overflow" in res.stderr, res.stderr[-2000:]


def test_c_module_override_names_a_missing_file(tmp_path):
    """FASTROUTE_C_MODULE pointing nowhere makes the C backend unavailable, naming the path."""
    missing = tmp_path / "_C.so"
    code = "from fastroute import ops; print(ops.backend_status()['c'])"
    env = {**os.environ, "FASTROUTE_C_MODULE": str(missing)}
    env.pop("LD_PRELOAD", None)
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert res.returncode == 0, res.stderr
    assert "unavailable" in res.stdout and str(missing) in res.stdout
