"""RouteLLM's two-model evaluation: benchmarks, the threshold sweep, and its metrics (APGR, CPT, AUC)."""
