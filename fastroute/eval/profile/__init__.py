"""Evaluating routing profiles (N candidate models with costs): RouterBench-style cost-quality
curves as λ sweeps, under cross-validation by prompt, beside the individual models, the zero
router and the oracle."""
