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
    out = subprocess.run(
        [sys.executable, "-c", code],
        env={**__import__("os").environ, "FASTROUTE_NUM_THREADS": "1"},
        capture_output=True,
        text=True,
    )
    if "unavailable" in out.stderr:
        pytest.skip("C backend not built")
    assert out.stdout.strip() == "1", out.stderr


def test_gpu_only_backend_takes_host_data_only_when_it_says_so(monkeypatch):
    """On a real GPU the triton backend serves only "cuda"; asked for by name for host
    arrays it copies them over (ACCEPTS_HOST_ARRAYS). A backend without that flag refuses."""
    import types

    fake = types.SimpleNamespace(NAME="triton", DEVICES=("cuda",), ACCEPTS_HOST_ARRAYS=True)
    monkeypatch.setitem(ops._loaded, "triton", (fake, ""))
    assert ops.get_backend("triton", "cpu").module is fake
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


def _backends_here():
    """(name, device) for each backend that loads here (triton under the interpreter on CPU)."""
    out = []
    for name in ops._MODULES:
        mod, _ = ops._load(name)
        if mod is not None:
            out.append((name, "cpu" if "cpu" in mod.DEVICES or getattr(mod, "ACCEPTS_HOST_ARRAYS", False) else "cuda"))
    return out


def test_every_backend_defines_or_resolves_every_op():
    """A backend declares the ops it has (OPS) and defines each of them; any op of the registry
    it lacks resolves to a fallback backend, never to an AttributeError."""
    import warnings

    for name, device in _backends_here():
        mod = ops._load(name)[0]
        declared = set(getattr(mod, "OPS", ()))
        assert declared <= set(ops.OPS), (name, declared - set(ops.OPS))
        for op in declared:
            assert callable(getattr(mod, op, None)), f"{name} declares {op} but does not define it"
        b = ops.get_backend(name, device)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            for op in ops.OPS:
                assert callable(getattr(b, op)), (name, op)
                assert (b.provider(op) == name) == (op in declared), (name, op, b.provider(op))
    assert set(ops._load("numpy")[0].OPS) == set(ops.OPS)  # the reference has everything


def test_missing_op_falls_back_with_one_warning(monkeypatch):
    """A partial backend: its missing op runs on the next backend of its chain, with one
    RuntimeWarning naming the op and the backend used instead."""
    import types
    import warnings

    import numpy as np

    from fastroute.ops import reference

    fake = types.SimpleNamespace(
        NAME="triton", DEVICES=("cuda", "cpu"), OPS=("cosine_sim",), cosine_sim=reference.cosine_sim
    )
    monkeypatch.setitem(ops._loaded, "triton", (fake, ""))
    monkeypatch.setattr(ops, "_warned_ops", set())
    b = ops.get_backend("triton", "cpu")
    assert b.cosine_sim is reference.cosine_sim and b.NAME == "triton"
    first_choice = "c" if ops._load("c")[0] is not None else "numpy"
    with pytest.warns(RuntimeWarning, match=f"backend 'triton' has no 'embedding_bag_i8'; using the '{first_choice}'"):
        bag = b.embedding_bag_i8
    assert b.provider("embedding_bag_i8") == first_choice
    table = np.arange(12, dtype=np.int8).reshape(4, 3)
    args = (table, np.ones(4, np.float32), np.array([1, 2], np.int32), np.array([0, 2], np.int64))
    np.testing.assert_allclose(bag(*args), reference.embedding_bag_i8(*args), atol=1e-6)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ops.get_backend("triton", "cpu").embedding_bag_i8(*args)  # once only
    # with C gone too, the chain ends at numpy
    monkeypatch.setitem(ops._loaded, "c", (None, "ImportError: no compiler"))
    monkeypatch.setattr(ops, "_wrapped", {})
    with pytest.warns(RuntimeWarning, match="using the 'numpy' backend"):
        assert ops.get_backend("triton", "cpu").provider("gemv_sigmoid") == "numpy"


def test_triton_backend_routes_a_prompt_end_to_end(tmp_path):
    """FASTROUTE_BACKEND=triton fastroute route "..." died with AttributeError (no
    embedding_bag_i8); under TRITON_INTERPRET=1 it now routes, saying which op fell back.
    The mf router keeps it to seconds: the default sw_ranking bundle (165k battles) takes
    ~3 minutes in the interpreter (it routes too; its kernels are tested on small arenas)."""
    pytest.importorskip("torch")
    pytest.importorskip("triton")
    import os

    env = {**os.environ, "FASTROUTE_BACKEND": "triton", "TRITON_INTERPRET": "1"}
    env.pop("LD_PRELOAD", None)
    cmd = [
        sys.executable,
        "-m",
        "fastroute.cli",
        "route",
        "--verbose",
        "--router",
        "mf",
        "Prove that there are infinitely many primes.",
    ]
    res = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    assert res.returncode == 0, res.stderr[-3000:]
    assert "has no 'embedding_bag_i8'" in res.stderr
    ref = subprocess.run(cmd, capture_output=True, text=True, env={**env, "FASTROUTE_BACKEND": "numpy"}, timeout=300)
    assert ref.returncode == 0, ref.stderr[-3000:]
    got, want = res.stdout.strip().splitlines()[-1].split("\t"), ref.stdout.strip().splitlines()[-1].split("\t")
    assert got[0] == want[0]  # the same model
    assert abs(float(got[1]) - float(want[1])) < 1e-5
