"""benchmarks/gpu_bench.py's sw_ranking table, run end to end under the Triton interpreter on
tiny shapes, so the GPU script's own code is known to work before a GPU's time is spent on it
(nothing here is a timing: the timer only calls each function)."""

from __future__ import annotations

import importlib.util
import os

import pytest

from paths import ROOT  # noqa: E402

torch = pytest.importorskip("torch")
pytest.importorskip("triton")


@pytest.mark.skipif(os.environ.get("TRITON_INTERPRET") != "1", reason="the smoke run is for the interpreter")
def test_sw_table_runs_on_tiny_shapes():
    spec = importlib.util.spec_from_file_location("gpu_bench", ROOT / "benchmarks" / "gpu_bench.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    calls = []

    def timer(fn) -> float:
        fn()
        calls.append(fn)
        return 1.0

    rows: list = []
    bench.bench_sw(rows, 40, device="cpu", dims=(16,), batches=(1, 3), tiers=2, timer=timer)
    weightings = {r["weighting"] for r in rows}
    assert weightings == {"exp g=10 (shipped), one pass", "exp g=10, two passes", "routellm, two passes"}
    assert len(rows) == 6 and all(r["router_call_ms"] == 1.0 and r["newton_host_ms"] == 1.0 for r in rows)
