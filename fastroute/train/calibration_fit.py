"""Fitting a router's calibration (routers.calibration): Platt scaling of its raw logit on
out-of-fold predictions, so the fit never sees a battle the predicting router was trained on.

The target is RouteLLM's meaning of a win rate: P(the strong model wins) over the decisive
battles between the strong and the weak model (ties are not outcomes; a soft label counts as
its probability). sw_ranking's out-of-fold predictions come free from the cross-validation
that chooses its weighting; mf is cross-fitted here (K routers on K-1 folds each).
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from ..data.battles import BattleTable
from ..routers.calibration import LogitCalibration

MIN_DECISIVE = 100
EPS = 1e-12


def logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(np.asarray(p, dtype=np.float64), EPS, 1.0 - EPS)
    return np.log(p) - np.log1p(-p)


def fit_platt(z: np.ndarray, y: np.ndarray, ridge: float = 1e-6, iters: int = 200) -> tuple[float, float]:
    """(a, b) maximising the likelihood of labels y in [0, 1] under sigmoid(a z + b). As Platt
    (1999) does, the targets are pulled in from 0 and 1 by the counts' prior, (N+ + 1) / (N+ + 2)
    and 1 / (N- + 2), so outcomes the logit separates perfectly still give a finite map, not a
    step. Newton's method on the standardised logit, from the base rate, each step halved until
    the loss falls (a plain Newton step overshoots where the raw win rates saturate)."""
    z, y = np.asarray(z, np.float64), np.asarray(y, np.float64)
    n_pos, n_neg = float(y.sum()), float((1.0 - y).sum())
    hi, lo = (n_pos + 1.0) / (n_pos + 2.0), 1.0 / (n_neg + 2.0)
    t = lo + y * (hi - lo)
    mu, sd = float(z.mean()), float(z.std()) or 1.0
    X = np.stack([(z - mu) / sd, np.ones_like(z)], axis=1)

    def loss(w: np.ndarray) -> float:
        s = X @ w  # -log-likelihood, stable: log(1 + e^s) - t s
        return float(np.sum(np.logaddexp(0.0, s) - t * s) + 0.5 * ridge * w @ w)

    w = np.array([0.0, float(np.log(t.mean()) - np.log1p(-t.mean()))])
    current = loss(w)
    for _ in range(iters):
        p = np.exp(-np.logaddexp(0.0, -(X @ w)))  # sigmoid, without overflow
        g = X.T @ (p - t) + ridge * w
        H = (X * (p * (1 - p))[:, None]).T @ X + ridge * np.eye(2)
        step = np.linalg.solve(H, g)
        for _ in range(50):
            trial = w - step
            new = loss(trial)
            if new <= current:
                break
            step = step / 2
        if current - new < 1e-12 * max(1.0, abs(current)):
            w = trial if new <= current else w
            break
        w, current = trial, new
    a = w[0] / sd  # back to the raw logit: a z + b
    return float(a), float(w[1] - a * mu)


def pair_outcomes(battles: BattleTable, strong: str, weak: str) -> tuple[np.ndarray, np.ndarray]:
    """(rows of the decisive battles between strong and weak, P(strong wins) on each)."""
    a, b = np.array(battles.model_a), np.array(battles.model_b)
    pair = ((a == strong) & (b == weak)) | ((a == weak) & (b == strong))
    y = np.where(a == strong, battles.labels, 1.0 - battles.labels)
    rows = np.flatnonzero(pair & (y != 0.5))
    return rows, y[rows]


def calibration_from(p: np.ndarray, y: np.ndarray, strong: str, weak: str, how: str) -> "LogitCalibration | None":
    """The calibration fitted on out-of-fold win rates `p` with outcomes `y`; None with too few
    decisive battles, or if the fit does not rank them the raw way (a scale <= 0)."""
    if len(y) < MIN_DECISIVE or np.all(y > 0.5) or np.all(y < 0.5):
        return None
    a, b = fit_platt(logit(p), y)
    if not (np.isfinite(a) and np.isfinite(b) and a > 0):
        return None
    return LogitCalibration(strong, weak, a, b, f"Platt scaling on {len(y)} decisive {strong} vs {weak} battles, {how}")


def cross_fit(
    battles: BattleTable,
    train: Callable[[BattleTable], object],
    strong: str,
    weak: str,
    *,
    folds: int = 5,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Out-of-fold win rates and outcomes of the decisive strong-vs-weak battles: `train` builds
    a router from the battles of K-1 folds of prompts, which scores the held-out fold's."""
    prompts = list(dict.fromkeys(battles.prompt))
    fold_of = dict(zip(prompts, np.random.default_rng(seed).permutation(len(prompts)) % folds))
    fold = np.array([fold_of[p] for p in battles.prompt])
    rows, y = pair_outcomes(battles, strong, weak)
    p = np.empty(len(rows))
    for f in range(folds):
        held = fold[rows] == f
        if not held.any():
            continue
        router = train(battles.select(fold != f))
        p[held] = router.win_rates([battles.prompt[i] for i in rows[held]])  # type: ignore[attr-defined]
    return p, y


def calibrated_mf(router, battles: BattleTable, embedder, vectors: dict, *, config, folds: int = 5, seed: int = 0):
    """`router` (mf, trained on `battles` with `config`) with a calibration cross-fitted on
    `folds` more trainings; unchanged when there are too few decisive pair battles."""
    from .mf import train_mf

    strong, weak = router.strong_model, router.weak_model

    def train(part: BattleTable):
        prompts = list(dict.fromkeys(part.prompt))
        E = np.stack([vectors[p] for p in prompts])
        return train_mf(
            part, embedder, strong_model=strong, weak_model=weak, config=config, prompt_embeddings=E, verbose=False
        )

    p, y = cross_fit(battles, train, strong, weak, folds=folds, seed=seed)
    cal = calibration_from(p, y, strong, weak, f"{folds}-fold cross-fitted")
    return router.with_calibration(cal) if cal else router
