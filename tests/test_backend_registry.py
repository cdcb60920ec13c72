"""Backend selection: explicit requests fail loudly, automatic choice falls back."""
from __future__ import annotations

import subprocess
import sys

import pytest

from fastroute import ops


def test_explicit_backends(monkeypatch):
    assert ops.get_backend("numpy").NAME == "numpy"
    monkeypatch.setenv("FASTROUTE_BACKEND", "numpy")
    assert ops.get_backend().NAME == "numpy"
    monkeypatch.setenv("FASTROUTE_BACKEND", "bogus")
    with pytest.raises(ValueError, match="unknown backend 'bogus'"):
        ops.get_backend()


def test_unavailable_backend_names_cause(monkeypatch):
    monkeypatch.setitem(ops._loaded, "c", (None, "ImportError: no compiler"))
    with pytest.raises(ops.BackendUnavailable, match="no compiler"):
        ops.get_backend("c")
    monkeypatch.setenv("FASTROUTE_BACKEND", "c")
    with pytest.raises(ops.BackendUnavailable, match="FASTROUTE_BACKEND"):
        ops.get_backend()


def test_automatic_choice_falls_back_with_one_warning(monkeypatch):
    monkeypatch.delenv("FASTROUTE_BACKEND", raising=False)
    monkeypatch.setitem(ops._loaded, "c", (None, "ImportError: no compiler"))
    monkeypatch.setattr(ops, "_warned", False)
    with pytest.warns(RuntimeWarning, match="C kernels unavailable"):
        assert ops.get_backend().NAME == "numpy"
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert ops.get_backend().NAME == "numpy"  # once only


def test_cuda_device_needs_triton_backend():
    with pytest.raises(ops.BackendUnavailable):
        ops.get_backend("numpy", device="cuda")


def test_c_backend_is_built_when_required():
    """CI sets FASTROUTE_REQUIRE_C=1: the numpy fallback is for users without a compiler."""
    import os

    if os.environ.get("FASTROUTE_REQUIRE_C") != "1":
        pytest.skip("FASTROUTE_REQUIRE_C is not set")
    status = ops.backend_status()["c"]
    assert status.startswith("available"), status


def test_thread_count_from_environment():
    code = "from fastroute.ops import get_backend; print(get_backend('c').num_threads())"
    out = subprocess.run([sys.executable, "-c", code], env={**__import__("os").environ, "FASTROUTE_NUM_THREADS": "1"},
                         capture_output=True, text=True)
    if "unavailable" in out.stderr:
        pytest.skip("C backend not built")
    assert out.stdout.strip() == "1", out.stderr


def test_gpu_only_backend_takes_host_data_only_when_it_says_so(monkeypatch):
    """On a real GPU the triton backend serves only "cuda"; asked for by name for host
    arrays it copies them over (ACCEPTS_HOST_ARRAYS). A backend without that flag refuses."""
    import types

    fake = types.SimpleNamespace(NAME="triton", DEVICES=("cuda",), ACCEPTS_HOST_ARRAYS=True)
    monkeypatch.setitem(ops._loaded, "triton", (fake, ""))
    assert ops.get_backend("triton", "cpu") is fake
    monkeypatch.setattr(fake, "ACCEPTS_HOST_ARRAYS", False)
    with pytest.raises(ops.BackendUnavailable, match="serves \\['cuda'\\], not 'cpu'"):
        ops.get_backend("triton", "cpu")


def test_triton_autotune_switch(monkeypatch):
    from fastroute.ops.triton_backend import kernel_module

    config = kernel_module("config")
    monkeypatch.delenv("TRITON_INTERPRET", raising=False)
    monkeypatch.delenv("FASTROUTE_TRITON_AUTOTUNE", raising=False)
    assert config.autotuning()
    monkeypatch.setenv("FASTROUTE_TRITON_AUTOTUNE", "0")
    assert not config.autotuning()
    monkeypatch.delenv("FASTROUTE_TRITON_AUTOTUNE")
    monkeypatch.setenv("TRITON_INTERPRET", "1")
    assert not config.autotuning()  # the interpreter runs one config only
