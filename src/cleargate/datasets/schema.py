"""The table layouts every dataset is converted to: feature columns plus `label` (and `group`, if any)."""

from __future__ import annotations

import numpy as np
import pandas as pd

LABEL = "label"
GROUP = "group"  # a subject or patient id: the split keeps each group in one part; never a model input


def pixel_columns(n_pixels: int) -> list[str]:
    return [f"pixel_{i}" for i in range(n_pixels)]


def records_from_arrays(images: np.ndarray, labels: np.ndarray) -> pd.DataFrame:
    """Flatten (n, h, w) images into named pixel columns; label last."""
    flat = images.reshape(len(images), -1)
    frame = pd.DataFrame(flat, columns=pixel_columns(flat.shape[1]))
    frame[LABEL] = np.asarray(labels).astype("int64")
    return frame
