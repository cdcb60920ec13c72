"""The backend contract (fastroute/ops/contract.py): declared ops must exist with the
contract's parameters, declared capabilities must come with their functions, and a
backend that breaks it is reported unavailable, with the reason."""

from __future__ import annotations

import subprocess
import sys
import types

import numpy as np
import pytest

from fastroute import ops
from fastroute.ops import contract, reference


def _fake_backend(**attrs) -> types.ModuleType:
    mod = types.ModuleType("fastroute_fake_backend")
    mod.NAME, mod.DEVICES, mod.OPS, mod.CAPABILITIES = "fake", ("cpu",), ("cosine_sim",), frozenset()
    mod.cosine_sim = reference.cosine_sim
    for k, v in attrs.items():
        setattr(mod, k, v)
    return mod


@pytest.fixture
def register(monkeypatch):
    """Registers a module as backend 'fake' (loaded through the registry's own _load)."""

    def add(mod: types.ModuleType) -> tuple:
        monkeypatch.setitem(sys.modules, mod.__name__, mod)
        monkeypatch.setitem(ops._MODULES, "fake", mod.__name__)
        monkeypatch.delitem(ops._loaded, "fake", raising=False)
        return ops._load("fake")

    yield add
    ops._loaded.pop("fake", None)


def test_the_contract_names_every_op_once():
    assert ops.OPS == contract.OPS == tuple(op.name for op in contract.CONTRACT)
    assert set(ops.OPS) == {
        "cosine_sim",
        "gemv_sigmoid",
        "linear_scores",
        "field_win_rates",
        "sw_stats",
        "bt_fit",
        "embedding_bag_i8",
    }
    assert (ops.DEVICE_ARRAYS, ops.FUSED_SW_STATS) == ("device_arrays", "fused_sw_stats")
    for op in contract.CONTRACT:
        assert op.params and op.result and all(p.dtypes for p in op.params), op
        with pytest.raises(AttributeError):
            op.name = "x"  # type: ignore[misc]  # frozen


def test_every_real_backend_keeps_the_contract():
    for name in ops._MODULES:
        mod, reason = ops._load(name)
        if mod is None:
            assert "breaks the op contract" not in reason, reason
            continue
        assert contract.check_backend(mod) == "", name
        assert isinstance(ops.get_backend(name, "cpu").capabilities, frozenset)


def test_capabilities_are_declared_not_guessed_from_the_name():
    assert ops.get_backend("numpy").capabilities == frozenset()
    if ops._load("c")[0] is not None:
        assert ops.get_backend("c").capabilities == frozenset()
    tri = ops._load("triton")[0]
    if tri is not None:
        assert ops.get_backend("triton", "cpu").capabilities == {ops.DEVICE_ARRAYS, ops.FUSED_SW_STATS}


def test_a_backend_keeping_the_contract_loads(register):
    mod, reason = register(
        _fake_backend(CAPABILITIES=frozenset({ops.DEVICE_ARRAYS}), to_device=lambda a, dtype=None: a)
    )
    assert mod is not None and reason == ""
    assert ops._wrap(mod).capabilities == {"device_arrays"}


@pytest.mark.parametrize(
    "attrs, why",
    [
        (dict(OPS=("cosine_sim", "bt_fit")), "declares 'bt_fit' but does not define it"),
        (dict(OPS=("cosine_sim", "softmax"), softmax=lambda x: x), "'softmax', which is not an op of the contract"),
        (
            dict(cosine_sim=lambda Q, arena, out=None: None),
            "cosine_sim: parameters ['Q', 'arena', 'out'], expected (Q, X, out=...)",
        ),
        (dict(cosine_sim=lambda Q, X: None), "cosine_sim: parameters ['Q', 'X'], expected (Q, X, out=...)"),
        (dict(cosine_sim=lambda Q, X, out: None), "parameter 'out' needs a default"),
        (dict(cosine_sim=lambda Q, X, out=None, scale=1.0: None), ""),  # extra optional parameters are fine
        (dict(cosine_sim=lambda Q, X, out=None, *, scale: None), "extra parameter 'scale' has no default"),
        (dict(CAPABILITIES=frozenset({"warp_drive"})), "unknown capability 'warp_drive'"),
        (dict(CAPABILITIES=frozenset({"device_arrays"})), "declares 'device_arrays' but has no to_device()"),
        (
            dict(
                CAPABILITIES=frozenset({"fused_sw_stats"}), sw_weighted_stats=lambda E, arena, A, sharpness=None: None
            ),
            "declares 'fused_sw_stats' but has no dense_stats_matrix()",
        ),
        (
            dict(
                CAPABILITIES=frozenset({"fused_sw_stats"}),
                sw_weighted_stats=lambda E, arena, A: None,
                dense_stats_matrix=lambda A, device=None: None,
            ),
            "sw_weighted_stats (fused_sw_stats): parameters",
        ),
    ],
)
def test_a_backend_breaking_the_contract_is_unavailable(register, attrs, why):
    mod, reason = register(_fake_backend(**attrs))
    if not why:
        assert mod is not None and reason == ""
        return
    assert mod is None
    assert reason.startswith("backend 'fake' breaks the op contract: ") and why in reason, reason
    with pytest.raises(ops.BackendUnavailable, match="breaks the op contract"):
        ops.get_backend("fake")
    assert ops.backend_status()["fake"].startswith("unavailable: backend 'fake' breaks the op contract")


def test_check_sharpness_is_the_one_check():
    assert ops.check_sharpness(None) is None
    assert ops.check_sharpness(np.float32(2.5)) == 2.5 and type(ops.check_sharpness(3)) is float
    for bad in (0, -1.0, float("nan")):
        with pytest.raises(ValueError, match=r"^sharpness must be > 0, or None for RouteLLM's weighting; got "):
            ops.check_sharpness(bad)
    sims = np.zeros((1, 3), np.float32)
    A = ops.CSRMatrix.from_coo([0], [0], [1.0], (1, 3))
    for name in [n for n in ops._MODULES if ops._load(n)[0] is not None]:
        with pytest.raises(ValueError, match="sharpness must be > 0, or None for RouteLLM's weighting; got -2"):
            ops.get_backend(name, "cpu").sw_stats(sims, A, -2.0)


def test_ops_imports_nothing_above_it():
    """fastroute.ops is the bottom layer: its modules import numpy, each other and
    fastroute.errors, nothing else of fastroute (kernels/ may import fastroute.ops only)."""
    import ast
    from pathlib import Path

    root = Path(ops.__file__).resolve().parents[2]
    allowed = ("fastroute.ops", "fastroute.errors", "fastroute._C")
    for path in sorted((root / "fastroute" / "ops").glob("*.py")) + sorted((root / "kernels").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level:
                assert node.level == 1, (path.name, ast.unparse(node))  # its own package only
            elif isinstance(node, ast.ImportFrom) and node.module == "fastroute":
                assert all(f"fastroute.{a.name}".startswith(allowed) for a in node.names), (
                    path.name,
                    ast.unparse(node),
                )
            elif isinstance(node, (ast.Import, ast.ImportFrom)):
                names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
                for name in names:
                    assert not name.startswith("fastroute") or name.startswith(allowed), (path.name, name)


def test_kernels_load_from_an_uninstalled_checkout():
    """gpu_check.sh runs a checkout on PYTHONPATH, never installed: kernels/ is then loaded as
    fastroute.kernels (no sys.path edit, and nothing named plain `kernels` is imported)."""
    pytest.importorskip("triton")
    code = (
        "import sys, fastroute\n"
        "sys.meta_path[:] = [f for f in sys.meta_path if 'editable' not in repr(f).lower()]\n"
        "path = list(sys.path)\n"
        "from fastroute.ops.triton_backend import kernel_module\n"
        "m = kernel_module('config')\n"
        "assert m.__name__ == 'fastroute.kernels.config', m.__name__\n"
        "assert 'kernels' not in sys.modules and sys.path == path\n"
        "print(m.__file__)\n"
    )
    import os

    env = {**os.environ, "TRITON_INTERPRET": "1"}
    env.pop("LD_PRELOAD", None)
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=env)
    assert res.returncode == 0, res.stderr[-2000:]
    assert res.stdout.strip().endswith("kernels/config.py")
