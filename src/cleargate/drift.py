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


def psi(profile: dict[str, Any], frame: pd.DataFrame) -> dict[str, float]:
    """PSI = sum((actual - expected) * ln(actual / expected)) over the reference bins, per feature."""
    scores = {}
    for column, ref in profile["features"].items():
        edges = np.asarray(ref["edges"])
        expected = np.clip(np.asarray(ref["expected"]), EPS, None)
        counts = np.bincount(np.searchsorted(edges, frame[column].to_numpy(dtype=np.float64), side="right"),
                             minlength=len(edges) + 1)
        actual = np.clip(counts / max(counts.sum(), 1), EPS, None)
        scores[column] = float(np.sum((actual - expected) * np.log(actual / expected)))
    return scores


@dataclass(frozen=True)
class DriftReport:
    threshold: float
    max_drifted_fraction: float
    n_features: int
    drifted: dict[str, float] = field(default_factory=dict)

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


def check_drift(profile: dict[str, Any], frame: pd.DataFrame, threshold: float,
                max_drifted_fraction: float) -> DriftReport:
    scores = psi(profile, frame)
    return DriftReport(threshold, max_drifted_fraction, len(scores),
                       {c: s for c, s in scores.items() if s > threshold})
