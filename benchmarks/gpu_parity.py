"""GPU parity of the shipped default routers: win rates on the Triton backend against the
numpy reference, on real prompts (run by hand or after gpu_check.sh on an H100/H200)."""

from __future__ import annotations

import json
import os
import sys

os.environ.setdefault("TRITON_INTERPRET", "0")

import numpy as np  # noqa: E402

from fastroute import load_router  # noqa: E402

PROMPTS = [
    "Prove that there are infinitely many primes.",
    "hi",
    "Write a haiku about autumn.",
    "Implement quicksort in Rust and explain its complexity.",
    "What is the capital of France?",
] * 20


TOLERANCE = 1e-6  # issue 16: parity with the numpy reference on the shipped defaults


def main() -> int:
    worst = {}
    for name in ("sw_ranking", "mf"):
        ref = load_router(name, backend="numpy")
        gpu = load_router(name, backend="triton")
        variants = [("", ref, gpu)]
        if name == "sw_ranking":  # the shipped exp weighting (one pass) and RouteLLM's (two passes)
            variants.append(("/routellm", ref.with_sharpness(None), gpu.with_sharpness(None)))
        for suffix, r, g in variants:
            for B in (1, len(PROMPTS)):  # one query (the fused solve's smallest launch) and a batch
                worst[f"{name}{suffix} B={B}"] = float(
                    np.max(np.abs(g.win_rates(PROMPTS[:B]) - r.win_rates(PROMPTS[:B])))
                )
    print(json.dumps({"max_abs_win_rate_difference": worst, "tolerance": TOLERANCE}))
    return 0 if all(v <= TOLERANCE for v in worst.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
