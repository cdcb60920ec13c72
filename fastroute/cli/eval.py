"""fastroute eval: RouteLLM's benchmarks (or your own file) for routers and baselines."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..routellm_models import DEFAULT_STRONG, DEFAULT_WEAK
from .common import add_backend_argument, router_names_help

DEFAULT_DATA = {"mmlu": "../shared/data/routellm/mmlu", "mt-bench": "../shared/data/routellm/mt_bench"}


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--routers",
        "--router",
        nargs="+",
        required=True,
        metavar="ROUTER",
        help=f"router names ({router_names_help()}) or bundle directories; random and prompt length "
        "are always shown as baselines. profile benchmarks (routerbench, llmrouter): profile router names (knn, ...); the "
        "individual models, the zero router, the oracle and knn are always shown; also --router",
    )
    p.add_argument(
        "--benchmark",
        required=True,
        help="mmlu, mt-bench, gsm8k, or a JSONL/CSV file; routing profiles (N models with costs): routerbench, "
        "llmrouter; sources: the default recipe retrained without each public source in turn and scored on it "
        "(--routers mf sw_ranking; --data: the shared data directory)",
    )
    p.add_argument(
        "--data",
        type=Path,
        default=None,
        help="benchmark data: mmlu/mt-bench: RouteLLM's directory; gsm8k: the responses CSV (required); "
        "routerbench: a directory of tables or one table; llmrouter: the JSON records (default: "
        "../shared/data/routellm/mmlu, ../shared/data/routellm/mt_bench, ../shared/data/routerbench, "
        "../shared/data/llmrouter/dcrouter_train.json)",
    )
    p.add_argument(
        "--mmlu-split", choices=["eval", "all"], default="eval", help="mmlu: the evaluation half only, or every prompt"
    )
    p.add_argument("--strong-model", default=DEFAULT_STRONG, help="the strong model: a model of the benchmark")
    p.add_argument("--weak-model", default=DEFAULT_WEAK, help="the weak model: a model of the benchmark")
    p.add_argument(
        "--output",
        type=Path,
        default=None,
        help="directory for results.json, results.md and the plot (default: none, print the table only)",
    )
    p.add_argument("--num-results", type=int, default=10, help="quantile bins (RouteLLM: 10)")
    p.add_argument("--bootstrap", type=int, default=1000, help="bootstrap resamples for the 95%% intervals (0: none)")
    p.add_argument("--no-plot", action="store_true", help="write no plot into --output")
    p.add_argument("--cache-dir", type=Path, default=None, help="win-rate cache (default: OUTPUT/cache)")
    n = p.add_argument_group("routing-profile benchmarks (routerbench, llmrouter)")
    n.add_argument("--folds", type=int, default=5, help="cross-validation folds, by prompt")
    n.add_argument("--seed", type=int, default=0, help="seed of the folds and the bootstrap")
    n.add_argument(
        "--prices",
        default=None,
        help="cost per prompt per model: 'model=price,...' or a JSON file (required for llmrouter; "
        "replaces RouterBench's per-prompt costs) (default: none, RouterBench's own costs)",
    )
    n.add_argument("--knn-k", default="auto", help="k of the kNN baseline ('auto': leave-one-out per fold)")
    add_backend_argument(p)


def load_benchmark(name: str, data: "Path | None", mmlu_split: str = "eval", models: "list[str] | None" = None):
    from ..eval.pair import benchmarks as B

    if name == "mmlu":
        return B.load_mmlu(data or Path(DEFAULT_DATA["mmlu"]), split=mmlu_split)
    if name == "mt-bench":
        return B.load_mt_bench(data or Path(DEFAULT_DATA["mt-bench"]))
    if name == "gsm8k":
        if data is None:
            raise ValueError("gsm8k needs --data pointing at RouteLLM's gsm8k_responses.csv")
        return B.load_table(data, name="gsm8k", models=models)
    path = Path(name)
    if not path.is_file():
        raise ValueError(f"benchmark {name!r} is neither mmlu, mt-bench, gsm8k nor a file")
    return B.load_table(path, models=models)


def run_profile_benchmark(args: argparse.Namespace) -> int:
    from ..eval.profile.report import text_table
    from ..eval.profile.run import run_benchmark

    k = args.knn_k if args.knn_k == "auto" else int(args.knn_k)
    report, written = run_benchmark(
        args.benchmark,
        args.data,
        args.routers,
        folds=args.folds,
        seed=args.seed,
        n_boot=args.bootstrap,
        prices=args.prices,
        knn_k=k,
        output=args.output,
        with_plot=not args.no_plot,
    )
    print(text_table(report))
    for path in written:
        print(f"wrote {path}")
    return 0


def run_sources(args: argparse.Namespace) -> int:
    from ..eval.pair.loso import markdown, run_folds, to_json

    kinds = [r for r in args.routers if r not in ("random", "length")]
    unknown = sorted(set(kinds) - {"mf", "sw_ranking"})
    if unknown:
        raise ValueError(
            f"--benchmark sources retrains the default recipes: --routers mf and/or sw_ranking, not {unknown}"
        )
    results = run_folds(
        args.data or Path("../shared/data"), kinds, n_boot=args.bootstrap, seed=args.seed, num_results=args.num_results
    )
    table = markdown(results)
    print(table)
    if args.output:
        import json

        args.output.mkdir(parents=True, exist_ok=True)
        (args.output / "sources.md").write_text(table)
        (args.output / "sources.json").write_text(json.dumps(to_json(results), indent=2) + "\n")
        print(f"wrote {args.output / 'sources.md'} and {args.output / 'sources.json'}")
    return 0


def run(args: argparse.Namespace) -> int:
    if args.benchmark in ("routerbench", "llmrouter"):
        return run_profile_benchmark(args)
    if args.benchmark == "sources":
        return run_sources(args)
    from ..eval.pair.cache import WinRateCache, data_key, router_key
    from ..eval.pair.harness import evaluate
    from ..eval.pair.report import text_table, write_all
    from ..loader import DEFAULTS_DIR, is_router_name, load_router
    from ..progress import track

    es = load_benchmark(args.benchmark, args.data, args.mmlu_split, [args.strong_model, args.weak_model])
    es.quality(args.strong_model), es.quality(args.weak_model)  # fail early on an unknown model
    routers, bundles = {}, {}
    for name in args.routers:
        if name in ("random", "length"):
            continue
        router = load_router(name, strong_model=args.strong_model, weak_model=args.weak_model, backend=args.backend)
        label = Path(name).name if Path(name).is_dir() else name
        routers[label] = router
        is_default = is_router_name(name)
        bundles[label] = DEFAULTS_DIR / name if is_default else Path(name)
    cache = WinRateCache(args.cache_dir or (args.output / "cache" if args.output else None))
    # Leave out every evaluated bundle's training prompts first, so the cache key is the final prompt set.
    for label, router in routers.items():
        if getattr(router, "train_prompt_hashes", None) is not None:
            es = es.without_hashes(router.train_prompt_hashes, f"prompts {label} was trained on")
    dkey = data_key(es.prompts)
    win_rates = {}
    for label, router in track(routers.items(), f"eval {es.name}: scoring prompts", unit="routers"):
        rkey = router_key(router, bundles[label])
        p = cache.get(rkey, dkey, len(es.prompts))
        if p is None:
            p = router.win_rates(es.prompts)
            cache.put(rkey, dkey, p)
        win_rates[label] = p
    report = evaluate(
        es,
        routers,
        args.strong_model,
        args.weak_model,
        num_results=args.num_results,
        n_boot=args.bootstrap,
        win_rates=win_rates,
    )
    print(text_table(report))
    if args.output:
        for path in write_all(report, args.output, with_plot=not args.no_plot):
            print(f"wrote {path}")
    return 0
