"""Synthetic arenas and MF checkpoints for tests: topic-dependent skills, ties of both
kinds, shared prompts, and battles inside one tier."""

from __future__ import annotations

import numpy as np

STRONG, WEAK = "gpt-4-1106-preview", "mixtral-8x7b-instruct-v0.1"


def synthetic_arena(seed=0, n_models=14, n_battles=600, dim=24, n_prompts=250, tie_rate=0.2, same_model_rate=0.0):
    """(battles columns, embeddings [n_battles, dim] row-aligned, prompt ids)."""
    rng = np.random.default_rng(seed)
    skill = rng.normal(0, 1.0, n_models)
    topical = rng.normal(0, 0.8, (n_models, dim))
    prompts = rng.standard_normal((n_prompts, dim))
    models = [f"model-{i:02d}" for i in range(n_models)]
    models[1], models[n_models - 2] = STRONG, WEAK
    skill[1], skill[n_models - 2] = 1.5, -0.2  # keep the default pair in different tiers
    cols = {"model_a": [], "model_b": [], "winner": []}
    pid = rng.integers(0, n_prompts, n_battles)
    for i in range(n_battles):
        if rng.random() < same_model_rate:
            a = b = int(rng.integers(n_models))
        else:
            a, b = (int(x) for x in rng.choice(n_models, 2, replace=False))
        s = skill[a] - skill[b] + (topical[a] - topical[b]) @ prompts[pid[i]] / np.sqrt(dim)
        r = rng.random()
        if r < tie_rate * 0.6:
            w = "tie"
        elif r < tie_rate:
            w = "tie (bothbad)"
        else:
            w = "model_a" if rng.random() < 1 / (1 + np.exp(-s)) else "model_b"
        cols["model_a"].append(models[a])
        cols["model_b"].append(models[b])
        cols["winner"].append(w)
    return cols, prompts[pid], pid


def synthetic_mf_checkpoint(seed=0, dim=16, num_models=64, text_dim=1536, use_proj=True):
    rng = np.random.default_rng(seed)
    tensors = {
        "P.weight": rng.standard_normal((num_models, dim)).astype(np.float32),
        "classifier.0.weight": rng.standard_normal((1, dim)).astype(np.float32),
        "Q.weight": rng.standard_normal((5, text_dim)).astype(np.float32),  # training-time prompts: ignored
    }
    if use_proj:
        tensors["text_proj.0.weight"] = (rng.standard_normal((dim, text_dim)) / np.sqrt(text_dim)).astype(np.float32)
    config = {"dim": dim, "num_models": num_models, "text_dim": text_dim, "num_classes": 1, "use_proj": use_proj}
    return config, tensors
