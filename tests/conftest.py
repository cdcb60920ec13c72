"""Shared fixtures. TRITON_INTERPRET must be set before anything imports triton."""

from __future__ import annotations

import os
import sys
from pathlib import Path

os.environ.setdefault("TRITON_INTERPRET", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent))

import pytest  # noqa: E402
from ray_helpers import ray_cluster  # noqa: E402, F401 - one session-wide local Ray cluster, for every test file

from fastroute.ops import available_backends  # noqa: E402

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
# The Triton kernels also run on the CPU under the interpreter, but slowly: they get
# their own tests (test_triton_kernels.py) instead of every router test.
CPU_BACKENDS = [b for b in available_backends("cpu") if b != "triton"]


@pytest.fixture(params=CPU_BACKENDS)
def backend(request):
    """Every CPU kernel backend present (numpy always; c when built)."""
    return request.param


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real data beside the checkout (../shared/data); CI has it and sets
    FASTROUTE_REQUIRE_DATA=1, so there a missing directory fails instead of skipping."""
    if not SHARED_DATA.is_dir():
        if os.environ.get("FASTROUTE_REQUIRE_DATA") == "1":
            pytest.fail(f"shared data not found at {SHARED_DATA}")
        pytest.skip(f"shared data not found at {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture(scope="module")
def upstream():
    """A stub OpenAI-compatible upstream on loopback that records every request."""
    pytest.importorskip("aiohttp", reason="the serve extra is not installed")
    from serve_helpers import BackgroundServer, stub_upstream_app

    record: list = []
    with BackgroundServer(stub_upstream_app(record)) as srv:
        srv.record = record
        yield srv
