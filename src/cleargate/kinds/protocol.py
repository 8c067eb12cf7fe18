"""What a kind of data is: its data contract (a params.yaml section) and the `Kind` protocol of its module.

A kind (image, sequence, tabular, ...) is one module in `cleargate.kinds` that holds everything that
differs between kinds: which columns a model reads, how validated raw rows become model-ready records,
the pieces of its Great Expectations suite, the feature step in front of a tree, the tensor a network
takes, training-time augmentation, and a sentence for the model card. Everything else in the pipeline
asks the kind (`cleargate.kinds.kind_of(data)`) and never branches on the type of a data contract.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Protocol, runtime_checkable

import numpy as np
import pandas as pd
from pydantic import Field, model_validator

from cleargate.config.common import DatasetName, Strict
from cleargate.config.judging import ValidationConfig
from cleargate.kinds.expectations import Batch

if TYPE_CHECKING:
    import torch


class DataContract(Strict):
    """What every dataset declares under `datasets.<name>.data`; `name` is its key in params.yaml."""

    name: DatasetName
    kind: str
    source: str
    source_path: Path | None = None
    classes: list[Any]
    min_class_count: Annotated[int, Field(ge=1)]

    @model_validator(mode="after")
    def _check_base(self) -> DataContract:
        if self.source in ("parquet", "npz") and self.source_path is None:
            raise ValueError(f"source_path is required when source is '{self.source}'")
        if len(set(self.classes)) != len(self.classes):
            raise ValueError("classes holds a class twice")
        return self

    @property
    def positive_index(self) -> int | None:
        """The class whose recall matters (binary medical tasks); None for multi-class data."""
        return None


Augmentation = Callable[["torch.Tensor"], "torch.Tensor"]
# Stored records, a strength (0: the records unchanged) and a seeded generator -> a perturbed copy, same rows and
# columns: what the evaluation measures robustness on (test-time shifts, noise, missing values).
Perturbation = Callable[[pd.DataFrame, float, np.random.Generator], pd.DataFrame]


def replace_columns(frame: pd.DataFrame, columns: list[str], values: np.ndarray) -> pd.DataFrame:
    """A copy of `frame` with `columns` replaced by `values` (n_rows x len(columns)), column order kept."""
    new = pd.DataFrame(values, columns=columns, index=frame.index)
    return pd.concat([frame.drop(columns=columns), new], axis=1)[frame.columns]


@runtime_checkable
class Kind(Protocol):
    """The functions a kind module defines (a module satisfies this protocol; tests check each one does)."""

    Data: type[DataContract]
    deep_families: frozenset[str]
    importance_unit: str        # what one permutation-importance shuffle moves, in words ("feature", ...)

    def feature_columns(self, data: Any) -> list[str]:
        """The model's input columns, in the order the model expects them."""
        ...

    def clean(self, kept: pd.DataFrame, data: Any) -> tuple[pd.DataFrame, dict[str, Any]]:
        """Validated raw rows (quarantined ones already out) -> model-ready records and what was done."""
        ...

    def raw_suite(self, frame: pd.DataFrame, data: Any, rules: ValidationConfig) -> list[Batch]:
        """The checks on the raw, labelled file."""
        ...

    def scoring_suite(self, frame: pd.DataFrame, data: Any) -> list[Batch]:
        """The checks on an unlabelled batch to score, in the layout the model takes."""
        ...

    def split_suite(self, splits: dict[str, pd.DataFrame], data: Any) -> list[Batch]:
        """Leakage checks on train/val/test before they are written."""
        ...

    def quarantine_scope(self, frame: pd.DataFrame, rows: dict[int, str]) -> dict[int, str]:
        """The rows to set aside given the offending ones (a sequence loses its whole recording)."""
        ...

    def tree_features(self, data: Any) -> Any:
        """The scikit-learn step in front of a tree (None: the stored columns as they are)."""
        ...

    def to_tensor(self, frame: pd.DataFrame, data: Any) -> torch.Tensor:
        """Stored records -> the network's input tensor (training and serving share it)."""
        ...

    def augmentation(self, model: Any) -> Augmentation | None:
        """Training-time jitter configured by the model's params (None: no augmentation)."""
        ...

    def perturbations(self, data: Any) -> dict[str, Perturbation]:
        """The test-time perturbations of this kind of data, by name (params.yaml `evaluate.robustness` gives
        each one's strength); each returns a perturbed copy of stored records and leaves them as they are at 0."""
        ...

    def slice_columns(self, data: Any) -> list[str]:
        """The stored columns an evaluation slice may cut the test rows by (params.yaml `evaluate.slices`)."""
        ...

    def importance_units(self, data: Any) -> dict[str, list[str]]:
        """What permutation importance shuffles as one: a name -> the stored columns shuffled together."""
        ...

    def attribution_grid(self, data: Any) -> tuple[int, int] | None:
        """The (height, width) of a network's attribution map per class; None: no map for this kind."""
        ...

    def describe(self, data: Any) -> str:
        """What the model classifies, in a sentence for the model card."""
        ...
