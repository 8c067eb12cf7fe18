"""Paired bootstrap of a metric difference (candidate - champion) on the same test rows (scipy)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy.stats import bootstrap
from sklearn.metrics import accuracy_score, balanced_accuracy_score, f1_score

METRICS: dict[str, Callable[[np.ndarray, np.ndarray], float]] = {
    "accuracy": accuracy_score,
    "balanced_accuracy": balanced_accuracy_score,
    "macro_f1": lambda y, p: f1_score(y, p, average="macro", zero_division=0),
}


@dataclass(frozen=True)
class Difference:
    metric: str
    candidate: float
    champion: float
    delta: float
    low: float
    high: float
    confidence: float
    n_resamples: int


def paired_difference(y_true: np.ndarray, candidate: np.ndarray, champion: np.ndarray, metric: str,
                      n_resamples: int, confidence: float, seed: int) -> Difference:
    """Resample test rows with replacement, the same rows for both models; percentile interval."""
    score = METRICS[metric]

    def delta(y: np.ndarray, a: np.ndarray, b: np.ndarray) -> float:
        return score(y, a) - score(y, b)

    result = bootstrap((y_true, candidate, champion), delta, paired=True, vectorized=False,
                       n_resamples=n_resamples, confidence_level=confidence, method="percentile",
                       rng=np.random.default_rng(seed))
    low, high = result.confidence_interval
    return Difference(metric, float(score(y_true, candidate)), float(score(y_true, champion)),
                      float(delta(y_true, candidate, champion)), float(low), float(high), confidence, n_resamples)
