"""The slices of a scored batch: for each slice of `evaluate.slices` whose column the batch carries, its rows and
the share of each predicted class, summed chunk by chunk (memory follows the slices, not the file). A batch
has no labels, so no metric: a slice whose predictions drift apart from the others' shows here first.

The columns a slice reads that are not model inputs (a tabular attribute, the patient group) travel with the
batch beside the features; scoring checks and predicts on the features alone.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd

from cleargate.config.judging import SlicesConfig, SliceSpec
from cleargate.evaluation.slices import slice_column, slice_values


def carried(config: SlicesConfig | None, columns: Iterable[str]) -> dict[str, SliceSpec]:
    """The slicings whose column the batch holds."""
    present = set(columns)
    return {} if config is None else {n: s for n, s in config.by.items() if slice_column(s) in present}


def slice_only_columns(config: SlicesConfig | None, features: list[str], columns: Iterable[str]) -> list[str]:
    """The batch's columns that slices read and the model does not (left out of validation and prediction)."""
    wanted = {slice_column(s) for s in carried(config, columns).values()}
    return sorted(wanted - set(features))


class SliceCounts:
    """Per slice: rows and predicted classes, added chunk by chunk."""

    def __init__(self, slicings: dict[str, SliceSpec], class_names: list[str], where: str) -> None:
        self.slicings, self.class_names, self.where = slicings, class_names, where
        self.counts: dict[str, np.ndarray] = {}

    def add(self, chunk: pd.DataFrame, predicted: np.ndarray) -> None:
        """`predicted`: the class indices predicted for the chunk's rows, in order."""
        codes = np.asarray(predicted, dtype=np.int64)
        for slicing, spec in self.slicings.items():
            values = slice_values(chunk, spec, self.where).to_numpy()
            for value in pd.unique(values):
                hits = np.bincount(codes[values == value], minlength=len(self.class_names))
                key = f"{slicing}={value}"
                self.counts[key] = self.counts.get(key, 0) + hits

    def report(self) -> dict[str, dict[str, Any]]:
        """`<slicing>=<value>` -> {rows, predicted: {class: share}}, slices in order of size, largest first."""
        out = {}
        for key, hits in sorted(self.counts.items(), key=lambda kv: -int(kv[1].sum())):
            rows = int(hits.sum())
            out[key] = {"rows": rows, "predicted": {name: round(float(n) / rows, 6)
                                                    for name, n in zip(self.class_names, hits, strict=True)}}
        return out
