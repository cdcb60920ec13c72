"""Calibrated win rates (fastroute.routers.calibration): the shipped defaults carry a Platt map
fitted out of fold; it changes no ranking, applies only to its own pair, survives a save, and
the native engine applies it the same way; a malformed one is refused by both."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from fastroute import load_router
from fastroute.errors import BundleError
from fastroute.loader import DEFAULTS_DIR
from fastroute.routers.calibration import LogitCalibration
from fastroute.train.calibration_fit import calibration_from, fit_platt, logit

PROMPTS = [
    "hi",
    "Prove that there are infinitely many primes.",
    "Write a haiku about autumn.",
    "Explain how a transformer's attention works, with the equations.",
    "What is 2+2?",
    "Translate 'good morning' into Spanish.",
]


@pytest.mark.parametrize("kind", ["mf", "sw_ranking"])
def test_the_defaults_are_calibrated_and_rank_as_before(kind):
    router = load_router(kind)
    cal = LogitCalibration.from_meta(router.extra_meta)
    assert cal is not None and cal.scale > 0 and "decisive" in cal.fitted_on
    raw = router.with_calibration(None)
    p, q = router.win_rates(PROMPTS), raw.win_rates(PROMPTS)
    assert (np.argsort(p, kind="stable") == np.argsort(q, kind="stable")).all()  # monotone: same order
    want = 1 / (1 + np.exp(-(cal.scale * logit(q) + cal.offset)))
    np.testing.assert_allclose(p, want, atol=2e-6)  # sigmoid(a z + b) of the raw logit (float32 kernels)


def test_another_pair_is_scored_raw():
    router = load_router("sw_ranking")
    other = router.with_pair("claude-2.0", "text-davinci-003") if "claude-2.0" in router.models else None
    if other is None:
        pytest.skip("the default arena has no claude-2.0")
    raw = router.with_calibration(None).with_pair("claude-2.0", "text-davinci-003")
    np.testing.assert_array_equal(other.win_rates(PROMPTS), raw.win_rates(PROMPTS))


@pytest.mark.parametrize("kind", ["mf", "sw_ranking"])
def test_a_saved_bundle_keeps_its_calibration(kind, tmp_path):
    router = load_router(kind)
    cal = LogitCalibration(router.strong_model, router.weak_model, 2.0, -0.5, "a test")
    path = router.with_calibration(cal).save(tmp_path / kind)
    again = load_router(str(path))
    assert LogitCalibration.from_meta(again.extra_meta) == cal
    raw = router.with_calibration(None).win_rates(PROMPTS)
    np.testing.assert_allclose(again.win_rates(PROMPTS), 1 / (1 + np.exp(-(2.0 * logit(raw) - 0.5))), atol=2e-6)


@pytest.mark.parametrize(
    "bad",
    [
        {"pair": ["a"], "scale": 1.0, "offset": 0.0},
        {"pair": ["a", "b"], "scale": -1.0, "offset": 0.0},
        {"pair": ["a", "b"], "scale": 1.0, "offset": "0"},
        {"pair": ["a", "b"], "scale": float("nan"), "offset": 0.0},
        {"scale": 1.0, "offset": 0.0},
    ],
)
def test_a_malformed_calibration_is_refused(bad, tmp_path):
    dst = tmp_path / "mf"
    shutil.copytree(DEFAULTS_DIR / "mf", dst)
    meta = json.loads((dst / "fastroute.json").read_text())
    (dst / "fastroute.json").write_text(json.dumps(dict(meta, calibration=bad)))
    with pytest.raises(BundleError, match="calibration"):
        load_router(str(dst))


@pytest.mark.parametrize("kind", ["mf", "sw_ranking"])
def test_the_native_engine_applies_the_same_calibration(native, kind, tmp_path):
    router = load_router(kind)
    got = np.array(native.Engine(kind).win_rates(PROMPTS))
    np.testing.assert_allclose(got, router.win_rates(PROMPTS), atol=1e-6)
    dst = tmp_path / kind
    shutil.copytree(DEFAULTS_DIR / kind, dst)
    meta = json.loads((dst / "fastroute.json").read_text())
    (dst / "fastroute.json").write_text(json.dumps(dict(meta, calibration=dict(meta["calibration"], pair=["x", "y"]))))
    raw = router.with_calibration(None).win_rates(PROMPTS)  # fitted on another pair: raw
    np.testing.assert_allclose(np.array(native.Engine(str(dst)).win_rates(PROMPTS)), raw, atol=1e-6)
    (dst / "fastroute.json").write_text(json.dumps(dict(meta, calibration=dict(meta["calibration"], scale=0))))
    with pytest.raises(native.NativeError, match="key 'calibration' is malformed"):
        native.Engine(str(dst))


def test_platt_recovers_a_known_map():
    rng = np.random.default_rng(0)
    z = rng.normal(0, 1, 20_000)
    y = (rng.random(z.size) < 1 / (1 + np.exp(-(2.5 * z - 0.7)))).astype(float)
    a, b = fit_platt(z, y)
    assert a == pytest.approx(2.5, abs=0.1) and b == pytest.approx(-0.7, abs=0.06)
    p = 1 / (1 + np.exp(-z))  # raw win rates whose logit is z
    cal = calibration_from(p, y, "s", "w", "test")
    assert cal is not None and cal.scale == pytest.approx(a) and "20000 decisive s vs w" in cal.fitted_on
    assert calibration_from(p[:50], y[:50], "s", "w", "test") is None  # too few to fit
    assert calibration_from(p, np.ones_like(y), "s", "w", "test") is None  # one outcome only


def test_reliability_tells_calibrated_from_not():
    from fastroute.eval.pair.reliability import reliability

    rng = np.random.default_rng(1)
    p = rng.uniform(0.2, 0.9, 5000)
    won = rng.random(p.size) < p
    sq, wq = won.astype(float), (~won).astype(float)
    good = reliability(p, sq, wq)
    squeezed = reliability(0.55 + 0.02 * (p - 0.55), sq, wq)  # the same ranking, squeezed near 0.55
    assert good.ece < 0.03 < squeezed.ece and squeezed.spread < good.spread / 10
    ties = np.ones(p.size)
    assert reliability(p, ties, ties) is None  # no decisive prompt: nothing to check
