"""The shipped default routers: offline routing, recorded provenance, and a rebuild that
reproduces them byte for byte from the shared data."""
from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from fastroute import load_router
from fastroute.bundle import DEFAULTS_DIR
from fastroute.data.splits import is_mmlu_train_prompt, prompt_hashes
from fastroute.routellm_models import DEFAULT_STRONG, DEFAULT_WEAK

KINDS = ("mf", "sw_ranking")


@pytest.mark.parametrize("kind", KINDS)
def test_default_bundle(kind):
    r = load_router(kind)
    assert (r.strong_model, r.weak_model) == (DEFAULT_STRONG, DEFAULT_WEAK)
    assert r.embedder_spec.name == "static"
    size = sum(p.stat().st_size for p in (DEFAULTS_DIR / kind).iterdir())
    assert size <= 10 * 2**20
    doc = json.loads((DEFAULTS_DIR / kind / "fastroute.json").read_text())
    files = doc["provenance"]["data_files_sha256"]
    assert any(f.startswith("alpaca_eval/") for f in files) and "llmrouter/dcrouter_train.json" in files
    assert doc["provenance"]["decontamination"]["n_dropped"] > 0
    p = r.win_rates(["Prove that there are infinitely many primes.", "hi"])
    assert p.shape == (2,) and np.all((p > 0) & (p < 1))
    t = r.threshold_for(0.5)
    assert 0 < t < 1


def test_defaults_never_trained_on_evaluation_prompts(shared_data):
    from fastroute.eval.benchmarks import load_mmlu, load_mt_bench

    mmlu_eval = load_mmlu(shared_data / "routellm" / "mmlu", split="eval")
    mt = load_mt_bench(shared_data / "routellm" / "mt_bench")
    held_out = prompt_hashes(mmlu_eval.prompts + mt.prompts + mt.extra_prompts)
    for kind in KINDS:
        trained = load_router(kind).train_prompt_hashes
        assert trained is not None and trained.size > 5_000
        assert not np.isin(held_out, trained).any()
    assert not any(is_mmlu_train_prompt(p) for p in mmlu_eval.prompts)


def test_any_known_pair(tmp_path):
    r = load_router("sw_ranking", strong_model="claude-2.0", weak_model="text-davinci-003")
    assert r.route(["hi"], 0.0) == ["claude-2.0"]
    from fastroute.errors import UnknownModelError

    with pytest.raises(UnknownModelError, match="known: .*gpt-4-1106-preview"):
        load_router("mf", strong_model="gpt-9")


def test_route_command_offline():
    env = {"PATH": "/usr/bin:/bin", "HF_HUB_OFFLINE": "1", "NO_PROXY": "*", "http_proxy": "http://127.0.0.1:9",
           "https_proxy": "http://127.0.0.1:9"}
    for prompt in ("Prove that there are infinitely many primes.", "hi"):
        out = subprocess.run([sys.executable, "-m", "fastroute.cli", "route", prompt], env=env,
                             capture_output=True, text=True, check=True).stdout.split()
        assert out[0] in (DEFAULT_STRONG, DEFAULT_WEAK)


@pytest.mark.slow
def test_rebuild_reproduces_the_shipped_defaults(shared_data, tmp_path):
    pytest.importorskip("torch")
    from fastroute.train.defaults import build_defaults

    build_defaults(shared_data, tmp_path, log=lambda _: None)
    for rel in ("BUILD.json", "mf/fastroute.json", "mf/weights.safetensors",
                "sw_ranking/fastroute.json", "sw_ranking/weights.safetensors"):
        assert (tmp_path / rel).read_bytes() == (DEFAULTS_DIR / rel).read_bytes(), rel
