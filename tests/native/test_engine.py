"""The native engine (csrc/fastroute.h) against the Python package: the same bundles give the
same win rates (stated tolerance 1e-6; on one machine they are bit-identical, both running
csrc's kernels), the same thresholds from the stored quantiles, the same routing profiles'
choices; bad bundles are refused naming the file, and engines on several threads agree."""

from __future__ import annotations

import json
import shutil
import threading

import numpy as np
import pytest

from fastroute import load_router
from fastroute.embedders.static import MODEL_DIR
from fastroute.loader import DEFAULTS_DIR

TOL = 1e-6  # float32 kernels across CPUs; decisions must agree wherever |p - t| > TOL
CHUNK = 16  # Python's exact path for a few queries (BLAS takes larger batches)


@pytest.fixture(scope="module")
def prompts(shared_data):
    from fastroute.eval.pair.benchmarks import load_mmlu, load_mt_bench

    mt = load_mt_bench(shared_data / "routellm" / "mt_bench")
    every = (
        list(load_mmlu(shared_data / "routellm" / "mmlu", "all").prompts) + list(mt.prompts) + list(mt.extra_prompts)
    )
    return every[::7]  # ~2,000 of the 14,181 (tests/frontends/envoy/test_envoy_module.py routes them all)


def _python(router, prompts):
    return np.concatenate([router.win_rates(prompts[i : i + CHUNK]) for i in range(0, len(prompts), CHUNK)])


@pytest.mark.parametrize("kind", ["mf", "sw_ranking"])
def test_win_rates_and_decisions_match_python(native, prompts, kind):
    router = load_router(kind)
    want = _python(router, prompts)
    got = np.array(native.Engine(kind).win_rates(prompts))
    assert np.abs(got - want).max() <= TOL
    t = router.threshold_for(0.5)
    clear = np.abs(want - t) > TOL
    assert ((got >= t) == (want >= t))[clear].all()
    print(
        f"{kind}: {int((got == want).sum())} of {len(prompts)} win rates bit-identical, max |diff| {np.abs(got - want).max():.1e}"
    )


@pytest.mark.parametrize("kind", ["mf", "sw_ranking"])
def test_thresholds_from_the_stored_quantiles(native, kind):
    router, engine = load_router(kind), native.Engine(kind)
    for share in (0.0, 0.001, 0.1, 0.25, 0.5, 0.5005, 0.73, 0.999, 1.0):
        assert engine.threshold_for(share) == pytest.approx(router.threshold_for(share), abs=1e-15)
    with pytest.raises(native.NativeError, match=r"share in \[0, 1\]"):
        engine.threshold_for(1.5)


def test_targets_and_scored_as_as_load_router(native):
    """Target names the bundle knows (or an alias of one) are scored as that model; others as the
    bundle's own pair; scored_as maps a name; a changed pair has no stored quantiles."""
    texts = ["Prove Fermat's little theorem.", "hello there"]
    for strong, weak, scored in [
        ("gpt-4o", "gpt-4o-mini", {}),
        ("gpt4_1106_preview", "mistralai/Mixtral-8x7B-Instruct-v0.1", {}),
        ("claude-2.1", "llama-2-7b-chat", {}),
        ("big", "small", {"big": "gpt-4-0314", "small": "llama-2-13b-chat"}),
    ]:
        py = load_router("mf", strong_model=strong, weak_model=weak, scored_as=scored)
        eng = native.Engine("mf", strong, weak, strong_scored_as=scored.get(strong), weak_scored_as=scored.get(weak))
        np.testing.assert_allclose(eng.win_rates(texts), py.win_rates(texts), atol=TOL)
        if py.win_rate_quantiles is None:
            with pytest.raises(native.NativeError, match="stores no win-rate quantiles"):
                eng.threshold_for(0.5)
    with pytest.raises(native.NativeError, match="unknown model to score 'x' as 'gpt-9'"):
        native.Engine("mf", "x", "y", strong_scored_as="gpt-9")
    with pytest.raises(native.NativeError, match="both 'a'"):
        native.Engine("mf", "a", "a")


def test_length_and_random(native):
    texts = ["", "a" * 10, "é" * 500, "x" * 5000]
    np.testing.assert_allclose(
        native.Engine("length").win_rates(texts), load_router("length").win_rates(texts), rtol=0, atol=1e-15
    )
    p = np.array(native.Engine("random", seed=7).win_rates(["x"] * 4000))
    assert ((p >= 0) & (p < 1)).all() and abs(p.mean() - 0.5) < 0.03 and len(set(p.tolist())) == p.size
    assert native.Engine("random").threshold_for(0.3) == pytest.approx(0.7)
    with pytest.raises(native.NativeError, match="stores no win-rate quantiles"):
        native.Engine("length").threshold_for(0.5)


def test_routing_profile_choices_match_python(native, prompts):
    from fastroute.profile import load_profile

    prof = load_profile("routerbench")
    d = native.Decider(native.decider_config(["mf"], profiles=["routerbench"]))
    texts = prompts[:300]
    for text, want in zip(texts, prof.choose(texts)):
        got = d.decide_text("routerbench", text)
        assert got.model == want.model and got.routed
        assert float(got.headers["x-fastroute-quality"]) == pytest.approx(want.quality, abs=1e-6)
        assert got.headers["x-fastroute-cost-usd"] == f"{want.cost:.8f}"
        assert got.headers["x-fastroute-profile"] == "routerbench"


def _bundle_copy(tmp_path, kind="mf"):
    dst = tmp_path / kind
    shutil.copytree(DEFAULTS_DIR / kind, dst)
    return dst


def test_bad_bundles_are_refused_naming_the_problem(native, tmp_path):
    with pytest.raises(native.NativeError, match="neither a bundle directory nor a router name"):
        native.Engine(str(tmp_path / "nowhere"))
    b = _bundle_copy(tmp_path)
    meta = json.loads((b / "fastroute.json").read_text())
    (b / "fastroute.json").write_text(json.dumps(dict(meta, kind="telepathy")))
    with pytest.raises(native.NativeError, match="key 'kind'"):
        native.Engine(str(b))
    (b / "fastroute.json").write_text(json.dumps(dict(meta, embedder=dict(meta["embedder"], fingerprint="0" * 16))))
    with pytest.raises(native.NativeError, match="trained with embedder static"):
        native.Engine(str(b))
    (b / "fastroute.json").write_text(json.dumps(meta))
    raw = (b / "weights.safetensors").read_bytes()
    (b / "weights.safetensors").write_bytes(raw[: len(raw) // 2])
    with pytest.raises(native.NativeError, match="does not match its byte range|header length"):
        native.Engine(str(b))
    (b / "weights.safetensors").write_bytes(b"\xff" * 7)
    with pytest.raises(native.NativeError, match="too short for a safetensors file"):
        native.Engine(str(b))
    (b / "fastroute.json").write_text("{not json")
    with pytest.raises(native.NativeError, match="not valid JSON"):
        native.Engine(str(b))


def test_an_sw_bundle_with_ids_out_of_range_is_refused(native, tmp_path):
    from safetensors.numpy import load_file, save_file

    b = _bundle_copy(tmp_path, "sw_ranking")
    t = load_file(str(b / "weights.safetensors"))
    t["battle_model_a"] = t["battle_model_a"].copy()
    t["battle_model_a"][3] = 250  # the bundle has 103 models
    save_file(t, str(b / "weights.safetensors"))
    with pytest.raises(native.NativeError, match=r"'battle_model_a' holds 250, outside \[0, 103\)"):
        native.Engine(str(b))


def test_the_embedder_must_be_the_bundles(native, tmp_path):
    emb = tmp_path / "static"
    shutil.copytree(MODEL_DIR, emb)
    with pytest.raises(native.NativeError, match="config.json"):
        native.Engine("mf", embedder_dir=str(tmp_path))
    (emb / "tokenizer.json").write_text(json.dumps({"model": {"type": "BPE"}}))
    with pytest.raises(native.NativeError, match="not the uncased BERT WordPiece pipeline"):
        native.Engine("mf", embedder_dir=str(emb))


def test_threads_each_with_an_engine_agree(native, prompts):
    texts = prompts[:200]
    want = native.Engine("sw_ranking").win_rates(texts)
    out: dict[int, list[float]] = {}

    def work(i: int) -> None:
        out[i] = native.Engine("sw_ranking").win_rates(texts)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert all(out[i] == want for i in range(4))


def test_invalid_utf8_text_is_refused(native):
    lib, e = native._lib(), native.Engine("mf")
    import ctypes

    raw = b"\xff\xfe"
    arr, lens = (ctypes.c_char_p * 1)(raw), (ctypes.c_size_t * 1)(2)
    out, err = (ctypes.c_double * 1)(), native._Error()
    assert lib.fastroute_engine_win_rates(e._handle, e._scratch, arr, lens, 1, out, ctypes.byref(err)) == 5  # TEXT
    assert b"text 0: the text is not valid UTF-8" == err.message
