"""Test-set metrics from scikit-learn and torchmetrics; one flat dict with stable names for MLflow.

The same names for every dataset, so MLflow's compare view and the leaderboards line up. Binary tasks
add the figures that matter under class imbalance: recall and precision of the positive class, and
the area under the precision-recall curve (average precision), whose chance level is the prevalence.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from sklearn.metrics import (
    accuracy_score,
    average_precision_score,
    balanced_accuracy_score,
    confusion_matrix,
    f1_score,
    log_loss,
    precision_score,
    recall_score,
    roc_auc_score,
)
from sklearn.preprocessing import label_binarize
from torchmetrics.functional.classification import multiclass_calibration_error


def classification_metrics(y_true: np.ndarray, proba: np.ndarray, classes: list[int], positive: int | None,
                           calibration_bins: int) -> dict[str, Any]:
    """Scalar metrics plus per-class recall and the confusion matrix (rows: actual, cols: predicted).

    `positive`: the class index whose recall matters (binary medical tasks); None for multi-class."""
    y_pred = np.asarray(classes)[proba.argmax(axis=1)]
    index = {c: i for i, c in enumerate(classes)}
    target = torch.as_tensor([index[int(y)] for y in y_true])
    recalls = recall_score(y_true, y_pred, labels=classes, average=None, zero_division=0)
    binary = len(classes) == 2
    scores = proba[:, 1] if binary else proba
    onehot = label_binarize(y_true, classes=classes)
    metrics: dict[str, Any] = {
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "balanced_accuracy": float(balanced_accuracy_score(y_true, y_pred)),
        "macro_f1": float(f1_score(y_true, y_pred, labels=classes, average="macro", zero_division=0)),
        "roc_auc": float(roc_auc_score(y_true, scores, labels=classes, multi_class="ovr")),
        "pr_auc": float(average_precision_score(onehot if not binary else y_true == classes[1], scores,
                                                average="macro")),
        "log_loss": float(log_loss(y_true, proba, labels=classes)),
        "ece": float(multiclass_calibration_error(torch.as_tensor(proba, dtype=torch.float32), target,
                                                  num_classes=len(classes), n_bins=calibration_bins)),
        "min_class_recall": float(recalls.min()),
        "per_class_recall": {str(c): float(r) for c, r in zip(classes, recalls, strict=True)},
        "confusion_matrix": confusion_matrix(y_true, y_pred, labels=classes).tolist(),
        "n_test": len(y_true),
    }
    if positive is not None:
        metrics.update({
            "positive_recall": float(recall_score(y_true, y_pred, pos_label=positive, average="binary",
                                                  zero_division=0)),
            "positive_precision": float(precision_score(y_true, y_pred, pos_label=positive, average="binary",
                                                        zero_division=0)),
            "pr_auc": float(average_precision_score(y_true == positive, proba[:, index[positive]])),
            "prevalence": float(np.mean(y_true == positive)),
        })
    return metrics


def metric_score(name: str, y_true: np.ndarray, proba: np.ndarray, classes: list[int], positive: int | None) -> float:
    """One metric of `classification_metrics` on any subset of rows (a slice, a shuffled copy, a resample); NaN
    where the subset leaves it undefined (PR AUC without a positive, ROC AUC with one class). Macro averages
    run over the classes the subset holds, so a patient who did three of seven exercises is judged on those."""
    y_true = np.asarray(y_true)
    if len(y_true) == 0:
        return float("nan")
    y_pred = np.asarray(classes)[proba.argmax(axis=1)]
    index = {c: i for i, c in enumerate(classes)}
    present = [c for c in classes if np.any(y_true == c)]
    if name == "accuracy":
        return float(np.mean(y_true == y_pred))
    if name == "balanced_accuracy":
        return float(np.mean([np.mean(y_pred[y_true == c] == c) for c in present]))
    if name == "macro_f1":
        return float(f1_score(y_true, y_pred, average="macro", zero_division=0))
    if name in ("positive_recall", "positive_precision"):
        assert positive is not None, f"{name} needs a positive class"
        given, hit = (y_true, y_pred) if name == "positive_recall" else (y_pred, y_true)
        return float(np.mean(hit[given == positive] == positive)) if np.any(given == positive) else float("nan")
    if name in ("roc_auc", "pr_auc"):
        score = roc_auc_score if name == "roc_auc" else average_precision_score
        ones = [positive if positive is not None else classes[1]] if len(classes) == 2 else present
        values = [float(score(y_true == c, proba[:, index[c]])) for c in ones if 0 < np.sum(y_true == c) < len(y_true)]
        return float(np.mean(values)) if len(values) == len(ones) and values else float("nan")
    raise ValueError(f"unknown metric '{name}'")
