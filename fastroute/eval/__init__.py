"""Evaluating routers: `pair/` is RouteLLM's two-model evaluation (benchmarks, the threshold
sweep, APGR, CPT, AUC); `profile/` evaluates routing profiles among N priced models
(RouterBench's cost-quality curves and AIQ as λ sweeps). tables.py renders both."""
