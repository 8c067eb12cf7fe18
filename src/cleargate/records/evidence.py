"""The evidence `evaluate` writes about one model: its test metrics (overall, per class, per slice), its test
probabilities, and what drives its decisions (permutation importance, attribution maps)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict

from cleargate.io import read_table, write_table
from cleargate.records.record import Record
from cleargate.schema import LABEL


def slice_key(slicing: str, value: str) -> str:
    """`<slicing>_<value>` in the characters MLflow takes in a metric name (`test_pr_auc__age_45-65`)."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", f"{slicing}_{value}").strip("_")


class SliceFigure(BaseModel):
    """One slice of the test rows: its size, the primary metric with its bootstrap interval, each class's recall."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    slicing: str                  # its name in params.yaml `evaluate.slices.by`
    value: str                    # the column's value, the band (`45-65`) or the group; `missing` when absent
    rows: int
    metric: float | None = None   # None: undefined on this slice (e.g. PR AUC without a positive)
    low: float | None = None      # percentile bootstrap interval, judged slices only
    high: float | None = None
    recall: dict[str, float] = {}   # class -> recall, for the classes present in the slice
    judged: bool                  # at least min_rows rows and a defined metric: gated and ranked
    note: str = ""                # why it is reported but not judged

    @property
    def name(self) -> str:
        return f"{self.slicing}={self.value}"

    @property
    def key(self) -> str:
        return slice_key(self.slicing, self.value)


class SliceReport(BaseModel):
    """The primary metric on every slice of every slicing (params.yaml `evaluate.slices`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    metric: str
    min_rows: int
    n_resamples: int
    confidence: float
    figures: list[SliceFigure]

    def judged(self) -> list[SliceFigure]:
        return [f for f in self.figures if f.judged and f.metric is not None]

    def worst(self) -> SliceFigure | None:
        """The judged slice with the lowest primary metric (None when no slice is judged)."""
        return min(self.judged(), key=lambda f: f.metric or 0.0, default=None)


class Evaluation(Record):
    """reports/<d>/metrics/<m>.json (a DVC metrics file): test-set figures with the same names for every dataset."""

    omit_empty: ClassVar[bool] = True
    model: str
    dataset: str
    role: Literal["candidate", "baseline"]
    family: str
    fit_seconds: float
    size_bytes: int
    accuracy: float
    balanced_accuracy: float
    macro_f1: float
    roc_auc: float
    pr_auc: float
    log_loss: float
    ece: float
    min_class_recall: float
    per_class_recall: dict[str, float]
    confusion_matrix: list[list[int]]
    n_test: int
    positive_recall: float | None = None      # binary tasks: recall and precision of the positive class
    positive_precision: float | None = None
    prevalence: float | None = None
    robustness: dict[str, float] | None = None   # perturbation -> the primary metric on the perturbed test split
    slices: SliceReport | None = None            # the primary metric per slice (params.yaml `evaluate.slices`)
    explain_seconds: float | None = None         # what the explanations cost (permutation importance, attribution)

    def scalars(self) -> dict[str, float]:
        """The numbers MLflow and DVC compare: per-class recalls flattened as `recall_class_<c>`, the perturbed
        primary metric as `robust_<perturbation>`, each slice's as `<metric>__<slicing>_<value>` and the worst
        judged slice's as `worst_slice_<metric>`."""
        flat = {k: float(v) for k, v in self.dump().items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
        flat.update({f"recall_class_{c}": v for c, v in self.per_class_recall.items()})
        flat.update({f"robust_{name}": v for name, v in (self.robustness or {}).items()})
        if self.slices is not None:
            metric, worst = self.slices.metric, self.slices.worst()
            flat.update({f"{metric}__{f.key}": f.metric for f in self.slices.figures if f.metric is not None})
            if worst is not None and worst.metric is not None:
                flat[f"worst_slice_{metric}"] = worst.metric
        return flat


@dataclass(frozen=True)
class Predictions:
    """Test-set probabilities of one model (reports/<d>/predictions/<m>.parquet): `label` and `p_<class>`."""

    y_true: np.ndarray
    proba: np.ndarray
    classes: list[int]

    def labels(self) -> np.ndarray:
        return np.asarray(self.classes)[self.proba.argmax(axis=1)]

    def save(self, path: Path) -> Path:
        frame = pd.DataFrame(self.proba, columns=[f"p_{c}" for c in self.classes])
        return write_table(frame.assign(**{LABEL: self.y_true}), path)

    @classmethod
    def load(cls, path: Path) -> Predictions:
        frame = read_table(path)
        proba = frame.drop(columns=[LABEL])
        return cls(y_true=frame[LABEL].to_numpy(), proba=proba.to_numpy(),
                   classes=[int(c.removeprefix("p_")) for c in proba.columns])


class FeatureImportance(BaseModel):
    """The primary metric's drop when one feature (a channel, an image region) is shuffled, over the repeats."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str
    mean: float
    std: float
    low: float            # the smallest and largest drop over the repeats
    high: float


class Explanation(Record):
    """reports/<d>/explanations/<m>/explanation.json: what drives the model's decisions on the test split."""

    model: str
    metric: str                          # the primary metric whose drop is measured
    baseline: float | None = None        # its value on the rows scored, nothing shuffled
    rows: int = 0                        # test rows scored per shuffle
    repeats: int = 0                     # shuffles per feature
    unit: str = "feature"                # what one shuffle moves: a feature, a sensor channel, an image region
    importance: list[FeatureImportance] = []   # every feature, largest drop first
    importance_seconds: float = 0.0
    attribution: dict[str, list[list[float]]] | None = None   # class -> mean attribution map (image networks)
    attribution_method: str | None = None
    attribution_images: int | None = None    # test images averaged per class (at most)
    attribution_seconds: float = 0.0
    note: str = ""                       # why nothing was measured

    @property
    def seconds(self) -> float:
        return self.importance_seconds + self.attribution_seconds
