"""The shipped routing profile's default: mf trained on RouterBench's correctness tables (11 models;
RouteLLM's pairwise conversion: it cross-validates as well as a direct per-model objective
and better than sw_ranking, see the README) and a routing profile naming
them as RouterBench calls them, with their prices.

Prices are USD per 1M input / output tokens, the providers' list prices of late 2023 that
RouterBench's per-prompt costs were computed with: a least-squares fit of its costs on
prompt and response lengths (4 characters a token) gives them back within a few percent
(R^2 0.79-0.98 per model). Training uses RouterBench's pairwise conversion (on a prompt, a
correct model beats an incorrect one; equal scores tie), less any prompt too close to the
evaluation-only prompts (MMLU's evaluation half, MT Bench), as for the other defaults.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Callable

import numpy as np

from ..data.aliases import canonical_model
from ..data.correctness import correctness_battles, read_correctness_with_costs
from ..data.decontaminate import contaminated
from ..data.tables import read_records
from .defaults import DECONTAMINATION_THRESHOLD, evaluation_prompts

NAME = "routerbench"
COST_SHARE = 0.25
REBUILD_COMMAND = "fastroute train routerbench --data ../shared/data"
# canonical model -> (input, output) USD per 1M tokens
ROUTERBENCH_PRICES = {
    "gpt-4-1106-preview": (10.0, 30.0),
    "gpt-3.5-turbo-1106": (1.0, 2.0),
    "claude-2.0": (8.0, 24.0),
    "claude-1": (8.0, 24.0),
    "claude-instant-1": (0.8, 2.4),
    "llama-2-70b-chat": (0.9, 0.9),
    "mixtral-8x7b-instruct-v0.1": (0.6, 0.6),
    "yi-34b-chat": (0.8, 0.8),
    "codellama-34b-instruct": (0.776, 0.776),
    "wizardlm-13b": (0.3, 0.3),
    "mistral-7b-instruct": (0.2, 0.2),
}


def routerbench_tables(data_dir: "str | Path") -> tuple[list[str], dict[str, np.ndarray], dict[str, str]]:
    """(prompts, {canonical model: 0/1 correctness}, {canonical model: RouterBench's own name})
    of every RouterBench table in `data_dir`/routerbench, in file order."""
    files = sorted((Path(data_dir) / "routerbench").glob("*_train.csv"))
    if not files:
        raise FileNotFoundError(f"{Path(data_dir) / 'routerbench'}: no RouterBench *_train.csv tables")
    prompts: list[str] = []
    scores: dict[str, list[np.ndarray]] = {}
    for f in files:
        p, s, _, _ = read_correctness_with_costs(f)
        prompts += p
        for m, v in s.items():
            scores.setdefault(m, []).append(v)
    head = read_records(files[0])[0]
    own = {canonical_model(c): c for c in head if "|" not in c and f"{c}|total_cost" in head}
    return prompts, {m: np.concatenate(v) for m, v in scores.items()}, own


def build_routerbench_default(
    data_dir: "str | Path", output: "str | Path", *, embedder_name: str = "static", log: Callable[[str], None] = print
) -> dict:
    """Trains the shipped profile's default into `output`/routerbench and writes its profile to
    `output`/profiles/routerbench.json; returns a summary."""
    from ..embedders import get_embedder
    from ..profile import profile_from_dict
    from .embed_prompts import embed, unique_prompts
    from .mf import train_mf

    t0 = time.time()
    emb = get_embedder(embedder_name)
    prompts, scores, own = routerbench_tables(data_dir)
    missing = sorted(set(scores) - set(ROUTERBENCH_PRICES))
    if missing:
        raise ValueError(f"no price for RouterBench model(s) {missing}")
    battles = correctness_battles(prompts, scores, "routerbench")
    uniq, _ = unique_prompts(battles)
    E_uniq = embed(uniq, emb)
    vectors = dict(zip(uniq, E_uniq))
    bad, report = contaminated(
        battles.prompt, evaluation_prompts(data_dir), emb, DECONTAMINATION_THRESHOLD, train_embeddings=vectors
    )
    battles = battles.select(~bad)
    log(f"{len(battles)} battles on {len(uniq)} prompts, {len(scores)} models; decontamination: {report.summary()}")
    models = list(scores)
    trained, _ = unique_prompts(battles)
    router = train_mf(
        battles,
        emb,
        strong_model="gpt-4-1106-preview",
        weak_model="mixtral-8x7b-instruct-v0.1",
        prompt_embeddings=np.stack([vectors[p] for p in trained]),
        extra_meta={"provenance": {"recipe": "RouterBench correctness tables, pairwise", "rebuild": REBUILD_COMMAND}},
        verbose=False,
    )
    router.record_training_prompts(list(dict.fromkeys(battles.prompt)))
    out = Path(output)
    router.save(out / NAME)
    profile = {
        "router": NAME,
        "policy": "max_value",
        "value": 0.0,
        "output_tokens": 256,
        "candidates": [
            {
                "name": own[m],
                "scored_as": m,
                "input_price": ROUTERBENCH_PRICES[m][0],
                "output_price": ROUTERBENCH_PRICES[m][1],
            }
            for m in models
        ],
    }
    # The shipped lam: requests cost on average COST_SHARE of always calling gpt-4 on the
    # training prompts (a starting point: `RoutingProfile.calibrated` sets your own target).
    prof = profile_from_dict(profile, "routerbench profile", router=router)
    gpt4 = prof.expected_costs(trained)[:, models.index("gpt-4-1106-preview")]
    target = COST_SHARE * float(gpt4.mean())
    profile["value"] = prof.calibrated(trained, target_cost=target).value
    profile["calibration"] = (
        f"average expected cost {target:.3g} USD ({COST_SHARE:.0%} of always gpt-4) on the training prompts"
    )
    (out / "profiles").mkdir(parents=True, exist_ok=True)
    (out / "profiles" / f"{NAME}.json").write_text(json.dumps(profile, indent=2) + "\n")
    summary = {
        "battles": len(battles),
        "prompts": len(uniq),
        "models": len(models),
        "seconds": round(time.time() - t0, 1),
    }
    log(f"wrote {out / NAME} and {out / 'profiles' / (NAME + '.json')}: {summary}")
    return summary
