"""One call for the command line: load a routing-profile benchmark, evaluate the baselines and the
named router factories, write results.json, results.md and the plot."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from . import learned  # noqa: F401 - registers the learned routers (mf, sw_ranking)
from .data import DEFAULT_LLMROUTER, DEFAULT_ROUTERBENCH, load_llmrouter, load_routerbench, parse_prices
from .harness import ProfileReport, evaluate_profiles
from .routers import PROFILE_ROUTERS, KNNFactory, get_factory

PROFILE_BENCHMARKS = ("routerbench", "llmrouter")


def load_profile_benchmark(benchmark: str, data: "Path | None" = None, prices: "str | None" = None):
    if benchmark == "routerbench":
        es = load_routerbench(data or Path(DEFAULT_ROUTERBENCH))
        if prices:  # flat prices instead of RouterBench's per-prompt costs
            table = parse_prices(prices)
            missing = [m for m in es.models if m not in table]
            if missing:
                raise ValueError(f"--prices has no price for {missing}")
            for j, m in enumerate(es.models):
                es.cost[:, j] = table[m]
            es.notes.append("costs: the prices given, not RouterBench's per-prompt costs")
        return es
    if benchmark == "llmrouter":
        return load_llmrouter(data or Path(DEFAULT_LLMROUTER), parse_prices(prices) if prices else None)
    raise ValueError(f"{benchmark!r} is not a routing-profile benchmark ({', '.join(PROFILE_BENCHMARKS)})")


def run_benchmark(
    benchmark: str,
    data: "Path | None",
    routers: Sequence[str],
    *,
    folds: int = 5,
    seed: int = 0,
    n_boot: int = 1000,
    prices: "str | None" = None,
    knn_k: "int | str" = "auto",
    output: "Path | None" = None,
    with_plot: bool = True,
) -> tuple[ProfileReport, list[Path]]:
    unknown = [r for r in routers if r not in PROFILE_ROUTERS]
    if unknown:
        raise ValueError(f"unknown profile router(s) {unknown}; known: {', '.join(sorted(PROFILE_ROUTERS))}")
    es = load_profile_benchmark(benchmark, data, prices)
    factories = {name: get_factory(name) for name in routers if name != "knn"}
    report = evaluate_profiles(es, factories, k_folds=folds, seed=seed, n_boot=n_boot, knn=KNNFactory(knn_k))
    written: list[Path] = []
    if output is not None:
        from .report import write_all

        written = write_all(report, output, with_plot=with_plot)
    return report, written
