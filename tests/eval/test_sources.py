"""Leave-one-source-out (fastroute.eval.pair.sources, loso): each fold leaves out exactly its
own source's battles, scores the default pair on that source's labels, and a fold's routers
never saw a prompt within cosine 0.95 of the ones they are scored on."""

from __future__ import annotations

import numpy as np
import pytest

from fastroute.eval.pair.sources import FOLDS, fold_named, left_out_mask


@pytest.fixture(scope="module")
def battles(shared_data):
    from fastroute.train.defaults import training_battles

    return training_battles(shared_data).battles


def test_each_fold_leaves_out_its_own_source_only(battles):
    sources = np.array(battles.source)
    for fold in FOLDS:
        out = left_out_mask(battles.source, fold)
        if not fold.left_out:  # MT Bench is in no training source
            assert not out.any()
            continue
        assert out.any(), fold.name
        assert all(s.startswith(fold.left_out) for s in set(sources[out]))
        assert not any(s.startswith(fold.left_out) for s in set(sources[~out]))
    covered = np.zeros(len(battles), dtype=bool)
    for fold in FOLDS:
        covered |= left_out_mask(battles.source, fold)
    assert covered.all()  # every training source is some fold's evaluation set


def test_each_fold_scores_the_pair_on_its_own_labels(shared_data):
    for fold in FOLDS:
        es = fold.load(shared_data)
        sq, wq = es.quality(fold.strong_model), es.quality(fold.weak_model)
        assert len(es.prompts) >= 70 and np.isfinite(sq).all() and np.isfinite(wq).all(), fold.name
        assert sq.mean() > wq.mean(), fold.name  # the strong model is the stronger one there
    alpaca = fold_named("alpacaeval").load(shared_data)
    q = alpaca.quality("gpt-4-1106-preview")
    assert len(alpaca.prompts) == 805 and np.allclose(q + alpaca.quality("mixtral-8x7b-instruct-v0.1"), 1.0)
    with pytest.raises(ValueError, match="no fold"):
        fold_named("imagenet")


@pytest.mark.slow
def test_a_fold_end_to_end(shared_data):
    from fastroute.eval.pair.loso import markdown, run_folds

    results = run_folds(shared_data, ("mf",), folds=[fold_named("RouterBench MBPP")], n_boot=0, log=lambda _: None)
    ((fold, rep),) = results
    names = [r.name for r in rep.results]
    assert names == ["mf", "random", "prompt length", "optimal"]
    router_apgr = rep.results[0].metrics["APGR"]
    assert 0.2 < router_apgr < 0.9 and rep.n_prompts == 299  # MBPP's prompts, none trained on
    table = markdown(results)
    assert "| mf |" in table and "RouterBench MBPP (299)" in table
