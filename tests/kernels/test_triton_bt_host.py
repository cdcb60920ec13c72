"""FASTROUTE_BT_HOST_BELOW: tiny batches of the Triton backend's bt_fit solved on the host
(one copy, then the C solver), the same coefficients as the reference either way."""

from __future__ import annotations

import os

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("triton")

from fastroute.ops import get_backend, reference  # noqa: E402
from fastroute.ops import triton_backend as tb  # noqa: E402


@pytest.fixture(scope="module")
def tri():
    if os.environ.get("TRITON_INTERPRET") != "1" and not torch.cuda.is_available():
        pytest.skip("no GPU and TRITON_INTERPRET is not set")
    return get_backend("triton", "cpu" if os.environ.get("TRITON_INTERPRET") == "1" else "cuda")


def _counts(B: int, T: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(0, 3, size=(B, T * T + 2 * T))


@pytest.mark.parametrize("below,B", [(0, 3), (4, 3), (4, 4), (4, 5)])
def test_host_or_device_same_result(tri, monkeypatch, below, B):
    monkeypatch.setenv("FASTROUTE_BT_HOST_BELOW", str(below))
    calls = []
    device_fit = tb.kernel_module("bt_fit").bt_fit
    monkeypatch.setattr(tb.kernel_module("bt_fit"), "bt_fit", lambda S, T: calls.append(1) or device_fit(S, T))
    S = _counts(B, 4)
    got = tri.bt_fit(torch.from_numpy(S), 4)
    assert isinstance(got, torch.Tensor)
    np.testing.assert_allclose(got.cpu().numpy(), reference.bt_fit(S, 4), atol=1e-9)
    assert bool(calls) == (B > below)  # the device kernel ran only above the limit


@pytest.mark.parametrize("raw", ["-1", "x", "1.5"])
def test_bad_setting_is_named(monkeypatch, raw):
    monkeypatch.setenv("FASTROUTE_BT_HOST_BELOW", raw)
    with pytest.raises(ValueError, match="FASTROUTE_BT_HOST_BELOW"):
        tb.host_solve_below()
