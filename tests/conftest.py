"""Shared fixtures. TRITON_INTERPRET must be set before anything imports triton."""

from __future__ import annotations

import os
import sys
from pathlib import Path

os.environ.setdefault("TRITON_INTERPRET", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent))

import pytest  # noqa: E402

from fastroute.ops import available_backends  # noqa: E402

from paths import SHARED_DATA  # noqa: E402
from ray_helpers import ray_cluster  # noqa: E402, F401 - one session-wide local Ray cluster, for every test file

# The Triton kernels also run on the CPU under the interpreter, but slowly: they get
# their own tests (test_triton_kernels.py) instead of every router test.
CPU_BACKENDS = [b for b in available_backends("cpu") if b != "triton"]


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    """Says so before a test marked slow starts (they take minutes, and -q prints only dots)."""
    if item.get_closest_marker("slow") is None:
        return
    reporter = item.config.pluginmanager.get_plugin("terminalreporter")
    capture = item.config.pluginmanager.get_plugin("capturemanager")
    if reporter is not None and capture is not None:
        doc = (getattr(item.function, "__doc__", None) or "").strip().split("\n")[0]
        with capture.global_and_fixture_disabled():  # setup runs captured: write past it
            reporter.write("\n")
            reporter.write_line(
                f"fastroute: a slow test starts, it may take minutes: {item.nodeid}{' (' + doc + ')' if doc else ''}"
            )


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


@pytest.fixture(scope="session")
def native():
    """fastroute.native with its libraries built; CI sets FASTROUTE_REQUIRE_NATIVE=1, so there a
    missing build fails instead of skipping."""
    import fastroute.native as native

    why = native.missing() or native.missing(native.ENVOY_MODULE)
    if why:
        if os.environ.get("FASTROUTE_REQUIRE_NATIVE") == "1":
            pytest.fail(why)
        pytest.skip(why)
    return native


@pytest.fixture(scope="module")
def upstream():
    """A stub OpenAI-compatible upstream on loopback that records every request."""
    pytest.importorskip("aiohttp", reason="the serve extra is not installed")
    from serve_helpers import BackgroundServer, stub_upstream_app

    record: list = []
    with BackgroundServer(stub_upstream_app(record)) as srv:
        srv.record = record
        yield srv
