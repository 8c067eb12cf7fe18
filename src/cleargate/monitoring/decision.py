"""Pure decisions about one batch: live metrics from its labels, degradation, and whether to retrain."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from sklearn.metrics import accuracy_score, balanced_accuracy_score, f1_score, precision_score, recall_score

from cleargate.errors import DataError


def label_codes(labels: pd.Series, classes: Sequence[object], source: str) -> np.ndarray:
    """A batch's labels as the class indices the model predicts; class names are accepted too."""
    index = pd.to_numeric(labels, errors="coerce")
    codes = index.where(index.isin(range(len(classes))))
    if not all(str(c).isdigit() for c in classes):  # named classes: a name or its index
        codes = labels.astype(str).map({str(c): i for i, c in enumerate(classes)}).fillna(codes)
    bad = labels[codes.isna()]
    if len(bad):
        raise DataError(f"{source}: label column holds {len(bad)} value(s) that are not classes "
                        f"{list(classes)} (e.g. {bad.iloc[0]!r}); fix the labels or drop the column")
    return codes.to_numpy(dtype="int64")


def live_metrics(y_true: np.ndarray, y_pred: np.ndarray, names: Sequence[str], positive: int | None,
                 n_classes: int) -> dict[str, float]:
    """The requested metrics that labels alone give (positive_* only for binary data with a positive class)."""
    labels = list(range(n_classes))
    compute = {
        "accuracy": lambda: accuracy_score(y_true, y_pred),
        "balanced_accuracy": lambda: balanced_accuracy_score(y_true, y_pred),
        "macro_f1": lambda: f1_score(y_true, y_pred, labels=labels, average="macro", zero_division=0),
        "positive_recall": lambda: recall_score(y_true, y_pred, pos_label=positive, zero_division=0),
        "positive_precision": lambda: precision_score(y_true, y_pred, pos_label=positive, zero_division=0),
    }
    wanted = [n for n in names if positive is not None or not n.startswith("positive_")]
    return {name: float(compute[name]()) for name in wanted}


def degraded(live: dict[str, float], champion_test: dict[str, float], max_drop: float) -> list[str]:
    """Metrics whose live value is below the champion's test value by more than `max_drop`."""
    return [m for m, value in live.items() if m in champion_test and champion_test[m] - value > max_drop]


def retrain_reasons(drifted: bool, degraded_metrics: list[str], retrain_on: Sequence[str]) -> list[str]:
    reasons = [r for r, seen in (("drift", drifted), ("degradation", bool(degraded_metrics))) if seen]
    return [r for r in reasons if r in retrain_on]


def describe(outcome: str, drifted_fraction: float | None, live: dict[str, float], champion: dict[str, float],
             degraded_metrics: list[str]) -> str:
    """One line for the report, the MLflow run and the flow's log."""
    parts = [outcome]
    if drifted_fraction is not None:
        parts.append(f"{drifted_fraction:.0%} of features drifted")
    if live:
        parts.append(", ".join(f"{m} {v:.3f} (champion {champion[m]:.3f})" if m in champion else f"{m} {v:.3f}"
                               for m, v in live.items()))
    if degraded_metrics:
        parts.append(f"DEGRADED: {', '.join(degraded_metrics)}")
    return "; ".join(parts)
