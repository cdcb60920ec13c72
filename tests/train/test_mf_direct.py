"""mf with the direct per-model objective: on data where each model is right on its own
topics, P(correct) follows the topics; unknown cells (NaN) are left out of the loss."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("torch")

from fastroute.train.mf_direct import train_mf_direct  # noqa: E402


def test_direct_mf_learns_per_model_correctness():
    rng = np.random.default_rng(0)
    topics = rng.standard_normal((3, 16)).astype(np.float32)
    t = rng.integers(0, 3, 900)
    E = topics[t] + 0.3 * rng.standard_normal((900, 16)).astype(np.float32)
    skill = np.array([[0.9, 0.2, 0.5], [0.2, 0.9, 0.5], [0.5, 0.5, 0.5]])  # model x topic
    Y = (rng.random((900, 3)) < skill.T[t]).astype(np.float64)
    Y[::7, 2] = np.nan  # unknown cells
    model = train_mf_direct(E[:600], Y[:600], dim=8, max_epochs=60, seed=1)
    p = model.probability(E[600:])
    assert p.shape == (300, 3) and ((p > 0) & (p < 1)).all()
    for topic, best in ((0, 0), (1, 1)):
        rows = t[600:] == topic
        assert p[rows].mean(axis=0).argmax() == best
    with pytest.raises(ValueError, match="must be"):
        train_mf_direct(E, Y[:10])
