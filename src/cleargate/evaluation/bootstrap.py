"""Paired bootstrap of a metric difference (candidate - champion) on the same test rows (scipy).

The metrics are computed for every resample at once from per-class counts (numpy over the resample axis):
one scikit-learn call per resample took 26 s for 1,000 resamples in the release stage; these give the same
numbers as `accuracy_score`, `balanced_accuracy_score` and macro `f1_score(zero_division=0)` (a test checks).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np


def _counts(y: np.ndarray, p: np.ndarray, classes: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per class, over the last axis: true positives, true count (support), predicted count."""
    truth = y[..., None] == classes
    guess = p[..., None] == classes
    return (truth & guess).sum(axis=-2), truth.sum(axis=-2), guess.sum(axis=-2)


def accuracy(y: np.ndarray, p: np.ndarray, classes: np.ndarray) -> np.ndarray:
    return (y == p).mean(axis=-1)


def balanced_accuracy(y: np.ndarray, p: np.ndarray, classes: np.ndarray) -> np.ndarray:
    """Mean recall over the classes present in y (scikit-learn leaves absent classes out)."""
    tp, support, _ = _counts(y, p, classes)
    present = support > 0
    recall = np.divide(tp, support, out=np.zeros(tp.shape), where=present)
    return recall.sum(axis=-1) / present.sum(axis=-1)


def macro_f1(y: np.ndarray, p: np.ndarray, classes: np.ndarray) -> np.ndarray:
    """Mean F1 over the classes seen in y or p (zero_division=0)."""
    tp, support, predicted = _counts(y, p, classes)
    seen = (support + predicted) > 0
    f1 = np.divide(2 * tp, support + predicted, out=np.zeros(tp.shape), where=seen)
    return f1.sum(axis=-1) / seen.sum(axis=-1)


METRICS: dict[str, Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]] = {
    "accuracy": accuracy,
    "balanced_accuracy": balanced_accuracy,
    "macro_f1": macro_f1,
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
    from scipy.stats import bootstrap

    score = METRICS[metric]
    y, a, b = (np.asarray(v) for v in (y_true, candidate, champion))
    classes = np.unique(np.concatenate([y, a, b]))

    def delta(y: np.ndarray, a: np.ndarray, b: np.ndarray, axis: int = -1) -> np.ndarray:
        return score(y, a, classes) - score(y, b, classes)

    result = bootstrap((y, a, b), delta, paired=True, vectorized=True, batch=100, n_resamples=n_resamples,
                       confidence_level=confidence, method="percentile", rng=np.random.default_rng(seed))
    low, high = result.confidence_interval
    return Difference(metric, float(score(y, a, classes)), float(score(y, b, classes)), float(delta(y, a, b)),
                      float(low), float(high), confidence, n_resamples)
