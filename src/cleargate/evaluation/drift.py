"""Population stability index (PSI) of each feature against a reference profile of the training data.

Hand-written (about 30 lines): none of the installed libraries computes PSI from a stored profile, and a
profile (bin edges + proportions) is small enough to ship with every registered model version.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd

EPS = 1e-4  # floor for empty bins: keeps PSI finite, as is usual for PSI
PROFILE_ARTIFACT = "reference_profile.json"  # logged with each registered version's run
BLOCK = 64  # columns counted at once
HISTOGRAMS = 20  # drifted features whose reference-vs-batch histograms a report keeps (the highest PSI first)


def reference_profile(frame: pd.DataFrame, columns: list[str], bins: int) -> dict[str, Any]:
    """Per feature: quantile bin edges of the training data and the share of rows in each bin.

    Edges at the training minimum and just above its maximum give values outside the training range
    bins of their own (expected share ~0), so even a feature that was constant in training (an MNIST
    border pixel) shows drift when it changes.
    """
    features: dict[str, Any] = {}
    for column in columns:
        values = frame[column].to_numpy(dtype=np.float64)
        quantiles = np.quantile(values, np.linspace(0, 1, bins + 1)[1:-1])
        inner = np.unique([values.min(), *quantiles, np.nextafter(values.max(), np.inf)])
        counts = np.bincount(np.searchsorted(inner, values, side="right"), minlength=len(inner) + 1)
        features[column] = {"edges": inner.tolist(), "expected": (counts / counts.sum()).tolist()}
    return {"bins": bins, "n_rows": len(frame), "features": features}


class DriftCounts:
    """Per-feature counts in the reference bins, summed over the chunks of a batch as they stream past.

    PSI depends on the data only through these counts, so the PSI of the summed counts equals the PSI of
    the whole file exactly (the same integers, the same arithmetic), whatever the chunking.
    """

    def __init__(self, profile: dict[str, Any]) -> None:
        self.profile = profile
        self.edges = {c: np.asarray(ref["edges"], dtype=np.float64) for c, ref in profile["features"].items()}
        self.counts = {c: np.zeros(len(e) + 1, dtype=np.int64) for c, e in self.edges.items()}

    def add(self, frame: pd.DataFrame) -> DriftCounts:
        columns = list(self.edges)
        values = (frame if list(frame.columns) == columns else frame[columns]).to_numpy()
        if values.dtype.kind in "iu" and values.size and self._add_small_integers(columns, values):
            return self
        for j, column in enumerate(columns):
            edges = self.edges[column]
            bins = np.searchsorted(edges, values[:, j].astype(np.float64, copy=False), side="right")
            self.counts[column] += np.bincount(bins, minlength=len(edges) + 1)
        return self

    def _add_small_integers(self, columns: list[str], values: np.ndarray) -> bool:
        """Integers in a small range (pixels): one histogram of every (column, value) pair, then each value's
        count into its bin: the same counts as the search per value, several times faster."""
        low, high = int(values.min()), int(values.max())
        span = high - low + 1
        if span > 1 << 16:
            return False
        levels = np.arange(low, high + 1, dtype=np.float64)
        for first in range(0, len(columns), BLOCK):  # a block of columns at a time: small temporaries
            block = values[:, first:first + BLOCK]
            codes = block.astype(np.int64) - low
            codes += np.arange(block.shape[1], dtype=np.int64) * span  # column j's values: [j*span, (j+1)*span)
            per_value = np.bincount(codes.ravel(order="K"), minlength=span * block.shape[1]).reshape(-1, span)
            for j, column in enumerate(columns[first:first + BLOCK]):
                bins = np.searchsorted(self.edges[column], levels, side="right")
                np.add.at(self.counts[column], bins, per_value[j])
        return True

    def psi(self) -> dict[str, float]:
        """PSI = sum((actual - expected) * ln(actual / expected)) over the reference bins, per feature."""
        scores = {}
        for column, ref in self.profile["features"].items():
            expected = np.clip(np.asarray(ref["expected"]), EPS, None)
            counts = self.counts[column]
            actual = np.clip(counts / max(counts.sum(), 1), EPS, None)
            scores[column] = float(np.sum((actual - expected) * np.log(actual / expected)))
        return scores

    def report(self, threshold: float, max_drifted_fraction: float) -> DriftReport:
        scores = self.psi()
        drifted = {c: s for c, s in scores.items() if s > threshold}
        shown = sorted(drifted, key=lambda c: -drifted[c])[:HISTOGRAMS]
        histograms = {c: {"edges": self.profile["features"][c]["edges"], "expected": self.profile["features"][c][
            "expected"], "actual": (self.counts[c] / max(int(self.counts[c].sum()), 1)).tolist()} for c in shown}
        return DriftReport(threshold, max_drifted_fraction, len(scores), drifted,
                           max(scores.values(), default=0.0), histograms)


def _psi(expected: np.ndarray, counts: np.ndarray) -> float:
    expected = np.clip(expected, EPS, None)
    actual = np.clip(counts / max(counts.sum(), 1), EPS, None)
    return float(np.sum((actual - expected) * np.log(actual / expected)))


def prediction_reference(labels: np.ndarray, n_classes: int) -> dict[str, Any]:
    """The share of each predicted class on the test split: what a batch's predictions are compared with."""
    counts = np.bincount(np.asarray(labels, dtype=np.int64), minlength=n_classes)[:n_classes]
    return {"classes": n_classes, "expected": (counts / max(counts.sum(), 1)).tolist()}


def prediction_psi(reference: dict[str, Any] | None, counts: np.ndarray) -> float | None:
    """PSI of the predicted classes' shares against the test split's (prediction drift); None when the version
    was registered without that reference."""
    if not reference or counts.sum() == 0:
        return None
    n = int(reference["classes"])
    return _psi(np.asarray(reference["expected"], dtype=np.float64), np.asarray(counts[:n], dtype=np.float64))


def psi(profile: dict[str, Any], frame: pd.DataFrame) -> dict[str, float]:
    """PSI of each profiled feature of a whole frame (one chunk of `DriftCounts`)."""
    return DriftCounts(profile).add(frame).psi()


@dataclass(frozen=True)
class DriftReport:
    threshold: float
    max_drifted_fraction: float
    n_features: int
    drifted: dict[str, float] = field(default_factory=dict)
    psi_max: float = 0.0                                     # the highest PSI of any feature
    histograms: dict[str, dict[str, list[float]]] = field(default_factory=dict)  # drifted: edges, expected, actual

    @property
    def drifted_fraction(self) -> float:
        return len(self.drifted) / max(self.n_features, 1)

    @property
    def is_drifted(self) -> bool:
        return self.drifted_fraction > self.max_drifted_fraction

    def summary(self) -> str:
        worst = sorted(self.drifted.items(), key=lambda kv: -kv[1])[:5]
        listed = ", ".join(f"{c} (PSI {v:.2f})" for c, v in worst)
        head = (f"{len(self.drifted)} of {self.n_features} features have PSI > {self.threshold} "
                f"({self.drifted_fraction:.1%}, limit {self.max_drifted_fraction:.1%})")
        return f"{head}: {listed}" if listed else head

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "drifted_fraction": self.drifted_fraction, "is_drifted": self.is_drifted}

