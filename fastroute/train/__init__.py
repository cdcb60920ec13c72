"""Trainers that turn battles into router bundles (mf needs torch: the `train` extra)."""
