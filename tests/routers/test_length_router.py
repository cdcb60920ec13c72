"""The prompt-length baseline router: monotone in length, calibratable, servable, saved and
loaded like any router (added by following CONTRIBUTING.md's router recipe)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from fastroute import load_router
from fastroute.errors import BundleError, InvalidPromptError
from fastroute.routers.length import LengthRouter

PROMPTS = ["hi", "x" * 100, "y" * 500, "z" * 5000]


def test_win_rate_rises_with_length_and_is_half_at_half_chars():
    r = LengthRouter(half_chars=500)
    p = r.win_rates(PROMPTS)
    assert p.dtype == np.float64 and np.all(np.diff(p) > 0) and np.all((p >= 0) & (p < 1))
    assert p[2] == pytest.approx(0.5, abs=1e-15)
    assert r.win_rates([""])[0] == 0.0
    np.testing.assert_allclose(p, 1 - 2.0 ** (-np.array([len(t) for t in PROMPTS]) / 500), rtol=1e-14)


def test_routes_and_calibrates_like_any_router():
    r = load_router("length", strong_model="gpt-4o", weak_model="gpt-4o-mini")
    assert r.route(PROMPTS, threshold=0.5) == ["gpt-4o-mini", "gpt-4o-mini", "gpt-4o", "gpt-4o"]
    t = r.threshold_for(0.25, texts=PROMPTS)
    assert r.route(PROMPTS, threshold=t).count("gpt-4o") == 1


def test_bad_input_is_named():
    r = LengthRouter()
    with pytest.raises(TypeError, match="texts, not embeddings"):
        r.win_rates(embeddings=np.ones((1, 4), np.float32))
    with pytest.raises(InvalidPromptError):
        r.win_rates(["fine", 3])  # type: ignore[list-item]
    for bad in (0, -1, float("nan"), float("inf"), "many"):
        with pytest.raises(ValueError, match="half_chars"):
            LengthRouter(half_chars=bad)  # type: ignore[arg-type]


def test_bundle_round_trip_and_schema(tmp_path):
    r = LengthRouter(strong_model="a", weak_model="b", half_chars=123.0)
    back = load_router(str(r.save(tmp_path / "len")))
    assert (
        isinstance(back, LengthRouter)
        and back.half_chars == 123.0
        and (back.strong_model, back.weak_model) == ("a", "b")
    )
    np.testing.assert_array_equal(back.win_rates(PROMPTS), r.win_rates(PROMPTS))
    meta = tmp_path / "len" / "fastroute.json"
    doc = json.loads(meta.read_text())
    meta.write_text(json.dumps(doc | {"half_chars": -5}))
    with pytest.raises(BundleError, match=r"key 'half_chars'"):
        load_router(str(tmp_path / "len"))
