"""sw_ranking against a scikit-learn reference set up exactly as RouteLLM's."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from fastroute import SWRankingRouter, load_router
from fastroute.data.arena import sw_ranking_from_arena
from fastroute.errors import EmbeddingMismatchError, UnknownModelError
from fastroute.sw.arena import model_ratings
from fastroute.sw.coded_battles import CodedBattles, encode_battles

import routellm_reference as ref
from synthetic import STRONG, WEAK, synthetic_arena


def _router(cols, emb, **kw):
    kw.setdefault("embedder", "test-embedder")
    return SWRankingRouter.from_battles(cols, emb, num_tiers=10, **kw)


@pytest.mark.parametrize("seed,same_model_rate", [(0, 0.0), (1, 0.0), (2, 0.03)])
def test_model_ratings_match_sklearn(seed, same_model_rate):
    cols, emb, _ = synthetic_arena(seed=seed, same_model_rate=same_model_rate)
    models, a, b, o = encode_battles(cols["model_a"], cols["model_b"], cols["winner"])
    ours = model_ratings(CodedBattles(models, a, b, o, np.zeros(len(a), np.int32)))
    theirs = ref.elo_mle_with_tie(cols["model_a"], cols["model_b"], cols["winner"])
    np.testing.assert_allclose(ours, [theirs[m] for m in models], atol=1e-3)


def test_anchoring_puts_llama_2_70b_at_1082():
    cols, emb, _ = synthetic_arena(seed=3)
    cols["model_a"] = ["llama-2-70b-chat" if m == "model-05" else m for m in cols["model_a"]]
    cols["model_b"] = ["llama-2-70b-chat" if m == "model-05" else m for m in cols["model_b"]]
    r = _router(cols, emb)
    assert r.model_ratings[r.models.index("llama-2-70b-chat")] == pytest.approx(1082.0)
    theirs = ref.elo_mle_with_tie(cols["model_a"], cols["model_b"], cols["winner"])
    np.testing.assert_allclose(r.model_ratings, [theirs[m] for m in r.models], atol=1e-3)


@pytest.mark.parametrize("seed,same_model_rate", [(0, 0.0), (1, 0.0), (4, 0.03)])
def test_win_rates_match_sklearn_refit(seed, same_model_rate, backend):
    cols, emb, _ = synthetic_arena(seed=seed, same_model_rate=same_model_rate)
    r = _router(cols, emb, backend=backend)
    tiers = r.tiers
    assert len(set(tiers.values())) >= 8
    same_tier = sum(tiers[a] == tiers[b] for a, b in zip(cols["model_a"], cols["model_b"]))
    assert same_tier > 0, "the arena must exercise RouteLLM's same-tier rows"
    assert sum(w.startswith("tie") for w in cols["winner"]) > 0
    # Tiers are RouteLLM's compute_tiers of RouteLLM's ratings.
    theirs = ref.elo_mle_with_tie(cols["model_a"], cols["model_b"], cols["winner"])
    assert tiers == ref.compute_tiers(theirs, 10)

    rng = np.random.default_rng(seed + 100)
    Q = np.concatenate([rng.standard_normal((4, emb.shape[1])), emb[:2] + 0.1 * rng.standard_normal((2, emb.shape[1]))])
    ours = r.win_rates(embeddings=Q)
    expected = [
        ref.sw_ranking_win_rate(q, emb, cols["model_a"], cols["model_b"], cols["winner"], tiers, STRONG, WEAK)
        for q in Q
    ]
    np.testing.assert_allclose(ours, expected, atol=1e-4, rtol=0)
    assert np.ptp(ours) > 1e-3, "the queries must give different win rates"


def test_batch_equals_single_queries(backend):
    cols, emb, _ = synthetic_arena(seed=5)
    r = _router(cols, emb, backend=backend)
    Q = np.random.default_rng(1).standard_normal((40, emb.shape[1])).astype(np.float32)
    batch = r.win_rates(embeddings=Q)
    single = np.array([r.win_rates(embeddings=q)[0] for q in Q])
    np.testing.assert_allclose(batch, single, atol=1e-9)


def test_backends_agree():
    from conftest import CPU_BACKENDS

    cols, emb, _ = synthetic_arena(seed=6)
    Q = np.random.default_rng(2).standard_normal((25, emb.shape[1]))
    results = [_router(cols, emb, backend=b).win_rates(embeddings=Q) for b in CPU_BACKENDS]
    for res in results[1:]:
        np.testing.assert_allclose(res, results[0], atol=1e-6)


def test_float16_storage_close_to_float32():
    cols, emb, _ = synthetic_arena(seed=7)
    Q = np.random.default_rng(3).standard_normal((10, emb.shape[1]))
    p32 = _router(cols, emb).win_rates(embeddings=Q)
    p16 = _router(cols, emb, storage="float16").win_rates(embeddings=Q)
    np.testing.assert_allclose(p16, p32, atol=5e-4)


def test_unique_prompts_stored_once():
    cols, emb, pid = synthetic_arena(seed=8, n_battles=500, n_prompts=60)
    r = _router(cols, emb)
    assert r.arena.shape[0] == len(np.unique(pid))


def test_zero_query_gets_uniform_weights(backend):
    cols, emb, _ = synthetic_arena(seed=9)
    r = _router(cols, emb, backend=backend)
    p0 = r.win_rates(embeddings=np.zeros((1, emb.shape[1])))
    # Uniform weights: the fit on all battles with equal weight.
    tiers = r.tiers
    ta, tb = [tiers[m] for m in cols["model_a"]], [tiers[m] for m in cols["model_b"]]
    res = ref.elo_mle_with_tie(ta, tb, cols["winner"], anchor=False)
    expected = 1 - 1 / (1 + 10 ** ((res[tiers[STRONG]] - res[tiers[WEAK]]) / 400))
    assert p0[0] == pytest.approx(expected, abs=1e-4)


def test_all_negative_similarities_use_uniform_weights():
    cols, emb, _ = synthetic_arena(seed=10, dim=8)
    # Arena prompts in the positive orthant, the query in the negative one: max similarity < 0.
    emb = np.abs(emb) + 0.1
    r = _router(cols, emb)
    p_neg = r.win_rates(embeddings=-np.ones((1, emb.shape[1])))
    p_zero = r.win_rates(embeddings=np.zeros((1, emb.shape[1])))
    assert p_neg[0] == pytest.approx(p_zero[0], abs=1e-9)


def test_same_tier_pair_gives_one_half():
    cols, emb, _ = synthetic_arena(seed=11)
    r = _router(cols, emb)
    tiers = r.tiers
    a, b = next((x, y) for x in r.models for y in r.models if x != y and tiers[x] == tiers[y])
    with pytest.warns(RuntimeWarning, match="same tier"):
        same = r.with_pair(a, b)
    np.testing.assert_allclose(same.win_rates(embeddings=emb[:5]), 0.5, atol=1e-12)


def test_tier_pair_without_battles_is_fine():
    cols, emb, _ = synthetic_arena(seed=12, n_battles=700)
    r0 = _router(cols, emb)
    tiers = r0.tiers
    ta, tb = tiers[STRONG], tiers[WEAK]
    keep = [i for i in range(len(cols["winner"])) if {tiers[cols["model_a"][i]], tiers[cols["model_b"][i]]} != {ta, tb}]
    sub = {k: [v[i] for i in keep] for k, v in cols.items()}
    r = _router(sub, emb[keep])
    if r.tiers != tiers:
        pytest.skip("dropping battles moved the tiers")
    q = np.random.default_rng(0).standard_normal((3, emb.shape[1]))
    expected = [
        ref.sw_ranking_win_rate(x, emb[keep], sub["model_a"], sub["model_b"], sub["winner"], r.tiers, STRONG, WEAK)
        for x in q
    ]
    np.testing.assert_allclose(r.win_rates(embeddings=q), expected, atol=1e-4)


def test_unknown_model_and_bad_inputs():
    cols, emb, _ = synthetic_arena(seed=13)
    with pytest.raises(UnknownModelError, match="gpt-5"):
        _router(cols, emb, strong_model="gpt-5")
    r = _router(cols, emb)
    with pytest.raises(UnknownModelError, match="known:"):
        r.with_pair("nope", WEAK)
    with pytest.raises(EmbeddingMismatchError, match="width 7"):
        r.win_rates(embeddings=np.zeros((2, 7)))
    bad = dict(cols, winner=["model_a"] * (len(cols["winner"]) - 1) + ["draw"])
    with pytest.raises(ValueError, match="'draw'"):
        _router(bad, emb)
    with pytest.raises(ValueError, match="one row per battle"):
        _router(cols, emb[:-1])
    with pytest.raises(ValueError, match="num_tiers=20"):
        SWRankingRouter.from_battles(cols, emb, num_tiers=20, embedder="test-embedder")


def test_players_without_finite_rating_are_reported():
    cols = {
        "model_a": ["a", "a", "b", "c"],
        "model_b": ["b", "c", "c", "d"],
        "winner": ["model_a", "model_a", "tie", "model_a"],
    }
    emb = np.eye(4)
    with pytest.raises(ValueError, match="never won or never lost: a, d"):
        SWRankingRouter.from_battles(cols, emb, strong_model="a", weak_model="b", num_tiers=2, embedder="x")


def test_bundle_round_trip(tmp_path, backend):
    cols, emb, _ = synthetic_arena(seed=14)
    r = _router(cols, emb, storage="float16")
    r.save(tmp_path / "sw")
    back = load_router(tmp_path / "sw", backend=backend)
    assert back.tiers == r.tiers and back.arena.dtype == np.float16
    Q = np.random.default_rng(0).standard_normal((6, emb.shape[1]))
    np.testing.assert_allclose(back.win_rates(embeddings=Q), r.win_rates(embeddings=Q), atol=1e-6)
    other = load_router(tmp_path / "sw", strong_model=r.models[0], weak_model=r.models[5])
    assert (other.strong_model, other.weak_model) == (r.models[0], r.models[5])


def test_from_arena_applies_routellm_preprocessing():
    import json

    rng = np.random.default_rng(0)
    cols, emb, _ = synthetic_arena(seed=15, n_battles=300)
    raw = []
    for i, (a, b, w) in enumerate(zip(cols["model_a"], cols["model_b"], cols["winner"])):
        first = f"  question number {i} about topic {i % 7}  " if i % 10 else "short"
        raw.append(
            {
                "id": i,
                "model_a": a,
                "model_b": b,
                "prompt": json.dumps([first, "follow-up"]),
                "response_a": "[]",
                "response_b": "[]",
                "winner_model_a": int(w == "model_a"),
                "winner_model_b": int(w == "model_b"),
                "winner_tie": int(w.startswith("tie")),
            }
        )
    kept = [i for i in range(300) if i % 10]
    r = sw_ranking_from_arena(raw, emb[kept], num_tiers=10, embedder="test-embedder")
    assert len(r.battles) == len(kept)
    expected_winner = ["tie" if cols["winner"][i].startswith("tie") else cols["winner"][i] for i in kept]
    direct = SWRankingRouter.from_battles(
        {
            "model_a": [cols["model_a"][i] for i in kept],
            "model_b": [cols["model_b"][i] for i in kept],
            "winner": expected_winner,
        },
        emb[kept],
        num_tiers=10,
        embedder="test-embedder",
    )
    q = rng.standard_normal((3, emb.shape[1]))
    np.testing.assert_allclose(r.win_rates(embeddings=q), direct.win_rates(embeddings=q), atol=1e-12)
    with pytest.raises(ValueError, match="remain after"):
        sw_ranking_from_arena(raw, emb, num_tiers=10, embedder="test-embedder")


def test_text_path_uses_static_embedder():
    from fastroute.embedders import get_embedder

    cols, _, pid = synthetic_arena(seed=16, n_battles=400, n_prompts=40)
    texts = [f"prompt about subject {i % 40} and its details" for i in pid]
    emb = get_embedder("static").encode(texts)
    r = SWRankingRouter.from_battles(cols, emb, num_tiers=10)  # default embedder: static
    queries = ["prompt about subject 3", "something else entirely"]
    np.testing.assert_allclose(r.win_rates(queries), r.win_rates(embeddings=get_embedder("static").encode(queries)))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert r.route(queries, 0.0) == [STRONG, STRONG]
        assert r.route(queries, 1.0) == [WEAK, WEAK]


def test_sharpness_weighting(backend, tmp_path):
    """exp(g (s - max)) weights: same fit, other weights; g -> 0 gives uniform weights."""
    cols, emb, _ = synthetic_arena(seed=17)
    r = _router(cols, emb, backend=backend)
    sharp = r.with_sharpness(25.0)
    Q = np.random.default_rng(3).standard_normal((4, emb.shape[1]))
    tiers = sharp.tiers
    ta, tb = [tiers[m] for m in cols["model_a"]], [tiers[m] for m in cols["model_b"]]
    X = emb / np.linalg.norm(emb, axis=1, keepdims=True)
    for q, p in zip(Q, sharp.win_rates(embeddings=Q)):
        s = X @ (q / np.linalg.norm(q))
        res = ref.elo_mle_with_tie(ta, tb, cols["winner"], sample_weight=np.exp(25.0 * (s - s.max())), anchor=False)
        expected = 1 - 1 / (1 + 10 ** ((res[tiers[STRONG]] - res[tiers[WEAK]]) / 400))
        assert p == pytest.approx(expected, abs=1e-4)
    flat = r.with_sharpness(1e-9).win_rates(embeddings=Q)
    np.testing.assert_allclose(flat, r.win_rates(embeddings=np.zeros((1, emb.shape[1])))[0], atol=1e-6)
    sharp.save(tmp_path / "s")
    assert load_router(tmp_path / "s").sharpness == 25.0
    with pytest.raises(ValueError, match="sharpness"):
        r.with_sharpness(0.0)


def _sklearn_soft_fit(ta, tb, y, weights):
    """Reference: each battle as two logistic rows (Y=1 with weight 2y w, Y=0 with 2(1-y) w)."""
    from sklearn.linear_model import LogisticRegression

    players = sorted(set(ta) | set(tb))
    col = {p: i for i, p in enumerate(players)}
    n = len(ta)
    X = np.zeros((2 * n, len(players)))
    for r in range(2 * n):
        i = r % n
        X[r, col[ta[i]]] = np.log(10)
        X[r, col[tb[i]]] = -np.log(10)
    Y = np.concatenate([np.ones(n), np.zeros(n)])
    sw = np.concatenate([2 * y * weights, 2 * (1 - y) * weights])
    keep = sw > 0
    lr = LogisticRegression(fit_intercept=False, C=np.inf, tol=1e-12, max_iter=100_000).fit(
        X[keep], Y[keep], sample_weight=sw[keep]
    )
    return {p: 400 * lr.coef_[0][col[p]] for p in players}


@pytest.mark.parametrize("balance", ["battle", "prompt"])
def test_soft_labels_and_prompt_balance_match_sklearn(balance):
    cols, emb, pid = synthetic_arena(seed=18, n_prompts=80)
    rng = np.random.default_rng(0)
    soft = np.where(rng.random(len(cols["winner"])) < 0.3, rng.uniform(0, 1, len(cols["winner"])), np.nan)
    cols = dict(cols, soft_label=soft)
    r = _router(cols, emb, balance=balance).with_sharpness(8.0)
    assert r.battles.label is not None
    tiers = r.tiers
    ta, tb = [tiers[m] for m in cols["model_a"]], [tiers[m] for m in cols["model_b"]]
    y = np.where(np.isnan(soft), [{"model_a": 1.0, "model_b": 0.0}.get(w, 0.5) for w in cols["winner"]], soft)
    count = np.bincount(pid)[pid] if balance == "prompt" else np.ones(len(pid))
    X = emb / np.linalg.norm(emb, axis=1, keepdims=True)
    Q = rng.standard_normal((3, emb.shape[1]))
    for q, p in zip(Q, r.win_rates(embeddings=Q)):
        s = X @ (q / np.linalg.norm(q))
        res = _sklearn_soft_fit(ta, tb, y, np.exp(8.0 * (s - s.max())) / count)
        assert p == pytest.approx(1 / (1 + 10 ** (-(res[tiers[STRONG]] - res[tiers[WEAK]]) / 400)), abs=1e-4)


def test_soft_labels_survive_bundles(tmp_path):
    cols, emb, _ = synthetic_arena(seed=19)
    soft = np.full(len(cols["winner"]), np.nan)
    soft[::7] = 0.3
    r = _router(dict(cols, soft_label=soft), emb, balance="prompt")
    r.save(tmp_path / "b")
    back = load_router(tmp_path / "b")
    assert back.balance == "prompt"
    np.testing.assert_array_equal(np.isnan(back.battles.label), np.isnan(soft))
    Q = np.random.default_rng(1).standard_normal((4, emb.shape[1]))
    np.testing.assert_allclose(back.win_rates(embeddings=Q), r.win_rates(embeddings=Q), atol=1e-7)
