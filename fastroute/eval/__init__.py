"""RouteLLM's evaluation: benchmarks, the threshold sweep, and its metrics (APGR, CPT, AUC)."""
