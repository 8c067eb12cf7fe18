"""Judged subgroups: the test rows cut into slices (a column's values, bands of a numeric column, patients), the
primary metric on each with a bootstrap interval, and each class's recall (params.yaml `evaluate.slices`).

fairlearn's `MetricFrame` computes the figures of every slice of a slicing. The interval is a percentile bootstrap
within each judged slice, written here: MetricFrame's own (`n_boot`) recomputes every slice of the slicing for each
resample, 11 s for 100 resamples of 80 sites on 3,000 rows (measured), where resampling one judged slice at a time
costs about a millisecond a resample. A slice is judged (gated, ranked, given an interval) when it has at least
`min_rows` rows and the metric is defined on it; the others are reported with the reason.
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping

import numpy as np
import pandas as pd

from cleargate.config.judging import SlicesConfig, SliceSpec
from cleargate.errors import DataError
from cleargate.records import Predictions, SliceFigure, SliceReport
from cleargate.schema import GROUP

MISSING = "missing"   # the slice of rows whose value is absent (or outside every band)


def slice_column(spec: SliceSpec) -> str:
    """The stored column a slicing reads (the group column for `group: true`)."""
    return GROUP if spec.group else str(spec.column)


def slice_values(frame: pd.DataFrame, spec: SliceSpec, where: str) -> pd.Series:
    """Each row's slice: the column's value as text, or its band `a-b` ([a, b), the last band closed)."""
    column = slice_column(spec)
    if column not in frame.columns:
        raise DataError(f"{where}: no column '{column}' to slice by; re-run clean and split after declaring it "
                        "(a feature, or under data.attributes)")
    values = frame[column]
    if spec.bands is None:
        text = values.astype(str).where(values.notna(), MISSING)
        return pd.Series(text.to_numpy(dtype=object), index=frame.index)
    numeric = pd.to_numeric(values, errors="coerce")
    if numeric.notna().sum() < values.notna().sum():
        raise DataError(f"{where}: column '{column}' holds values that are not numbers; bands need a numeric "
                        "column (or slice by its values: drop `bands`)")
    edges = np.asarray(spec.bands, dtype=float)
    labels = np.asarray([f"{a:g}-{b:g}" for a, b in zip(edges[:-1], edges[1:], strict=True)] + [MISSING],
                        dtype=object)
    x = numeric.to_numpy(dtype=float)
    codes = np.searchsorted(edges, x, side="right") - 1
    codes[x == edges[-1]] = len(edges) - 2
    codes[(codes < 0) | (codes >= len(edges) - 1) | np.isnan(x)] = len(edges) - 1
    return pd.Series(labels[codes], index=frame.index)


def slice_rows(frame: pd.DataFrame, config: SlicesConfig, where: str) -> dict[str, np.ndarray]:
    """`<slicing>=<value>` -> the positions of its rows, for every slice of every slicing."""
    out: dict[str, np.ndarray] = {}
    for slicing, spec in config.by.items():
        values = slice_values(frame, spec, where).to_numpy()
        for value in pd.unique(values):
            out[f"{slicing}={value}"] = np.flatnonzero(values == value)
    return out


def _interval(y: np.ndarray, proba: np.ndarray, classes: list[int], positive: int | None, metric: str,
              config: SlicesConfig, rng: np.random.Generator) -> tuple[float | None, float | None]:
    """Percentile bootstrap of the metric over resamples of the slice's own rows (NaN resamples left out)."""
    from cleargate.evaluation.metrics import metric_score  # scikit-learn and torch: not for a model card's reader

    draws = rng.integers(0, len(y), size=(config.n_resamples, len(y)))
    values = np.asarray([metric_score(metric, y[d], proba[d], classes, positive) for d in draws])
    if np.isnan(values).all():
        return None, None
    tail = (1.0 - config.confidence) / 2 * 100
    low, high = np.nanpercentile(values, [tail, 100 - tail])
    return float(low), float(high)


def slice_report(frame: pd.DataFrame, predictions: Predictions, positive: int | None, metric: str,
                 config: SlicesConfig, seed: int, where: str) -> SliceReport:
    """Every slice of every slicing of the test rows `frame` (in the order of `predictions`)."""
    from fairlearn.metrics import MetricFrame

    from cleargate.evaluation.metrics import metric_score

    y, proba, classes = predictions.y_true, predictions.proba, predictions.classes
    labels = np.asarray(classes)[proba.argmax(axis=1)]

    def score(y_true: np.ndarray, rows: np.ndarray) -> float:
        return metric_score(metric, y_true, proba[rows], classes, positive)

    def recall(y_true: np.ndarray, rows: np.ndarray) -> dict[str, float]:
        return {str(c): float(np.mean(labels[rows][y_true == c] == c)) for c in classes if np.any(y_true == c)}

    figures = []
    for slicing, spec in config.by.items():
        values = slice_values(frame, spec, where).rename(slicing)
        frame_of = MetricFrame(metrics={"metric": score, "rows": lambda a, b: len(a), "recall": recall},
                               y_true=y, y_pred=np.arange(len(y)), sensitive_features=values)
        for value, row in frame_of.by_group.to_dict("index").items():
            value_text, n = str(value), int(row["rows"])
            figure = float(row["metric"]) if not np.isnan(row["metric"]) else None
            judged = n >= config.min_rows and figure is not None
            note = "" if judged else (f"{n} rows < min_rows {config.min_rows}" if n < config.min_rows
                                      else f"{metric} undefined (one class only)")
            low = high = None
            if judged:
                members = np.flatnonzero(values.to_numpy() == value)
                rng = np.random.default_rng([seed, zlib.crc32(slicing.encode()), zlib.crc32(value_text.encode())])
                low, high = _interval(y[members], proba[members], classes, positive, metric, config, rng)
            figures.append(SliceFigure(slicing=slicing, value=value_text, rows=n, metric=figure, low=low, high=high,
                                       recall=row["recall"], judged=judged, note=note))
    return SliceReport(metric=metric, min_rows=config.min_rows, n_resamples=config.n_resamples,
                       confidence=config.confidence, figures=figures)


def ordered(figures: list[SliceFigure], slicing: str) -> list[SliceFigure]:
    """One slicing's slices as the model card lists them: the ones too small or undefined to judge first (smallest
    first), then the judged ones, worst first."""
    mine = [f for f in figures if f.slicing == slicing]
    small = sorted((f for f in mine if not f.judged), key=lambda f: (f.rows, f.value))
    judged = sorted((f for f in mine if f.judged), key=lambda f: (f.metric or 0.0, f.value))
    return small + judged


def by_slicing(figures: list[SliceFigure]) -> Mapping[str, list[SliceFigure]]:
    names = list(dict.fromkeys(f.slicing for f in figures))
    return {name: ordered(figures, name) for name in names}
