"""The one transform from stored records to network input, shared by training and the served model."""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from cleargate.config import ImageData, SequenceData
from cleargate.datasets.schema import pixel_columns


def records_to_images(frame: pd.DataFrame, image_shape: tuple[int, int], pixel_max: float) -> torch.Tensor:
    """Named pixel columns (0..pixel_max) -> float tensor (n, 1, h, w) in [0, 1]."""
    pixels = frame[pixel_columns(image_shape[0] * image_shape[1])].to_numpy(dtype=np.float32)
    return torch.from_numpy(pixels / np.float32(pixel_max)).reshape(-1, 1, *image_shape)


def records_to_tensor(frame: pd.DataFrame, dataset: ImageData | SequenceData) -> torch.Tensor:
    """Images: (n, 1, h, w) in [0, 1]. Windows: (n, time, channels) raw (the network standardises)."""
    if isinstance(dataset, ImageData):
        return records_to_images(frame, dataset.image_shape, dataset.pixel_max)
    from cleargate.sequences import windows_to_tensor

    return windows_to_tensor(frame, dataset)
