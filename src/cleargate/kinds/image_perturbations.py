"""Test-time perturbations of stored images (the robustness evaluation): small shifts and pixel noise.

Both work on the stored records (`pixel_i` columns, channel-major) and return a copy in the stored dtype and
range, so every model (a tree on raw pixels, a network through `to_tensor`) sees them as it sees real data.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from cleargate.kinds.protocol import replace_columns

if TYPE_CHECKING:
    from cleargate.kinds.image import ImageData


def _pixels(frame: pd.DataFrame, columns: list[str], data: ImageData) -> np.ndarray:
    """(n, c, h, w) float64 pixels of stored records."""
    return frame[columns].to_numpy(np.float64).reshape(-1, data.n_channels, data.height, data.width)


def _stored(frame: pd.DataFrame, columns: list[str], data: ImageData, pixels: np.ndarray) -> pd.DataFrame:
    """Pixels back into the records' `columns`, clipped to the range, integers again when the stored pixels are
    (what a camera gives)."""
    pixels = np.clip(pixels.reshape(len(frame), -1), data.pixel_min, data.pixel_max)
    dtype = frame[columns[0]].dtype if len(frame) else np.dtype(np.float64)
    if np.issubdtype(dtype, np.integer):
        pixels = np.rint(pixels).astype(dtype)
    return replace_columns(frame, columns, pixels)


def shift(frame: pd.DataFrame, columns: list[str], data: ImageData, strength: float,
          rng: np.random.Generator) -> pd.DataFrame:
    """Each image moved by its own whole number of pixels, up to `strength` along each axis; the edge that
    comes into view is background (`pixel_min`)."""
    k = int(round(strength))
    if k == 0 or frame.empty:
        return frame.copy()
    pixels = _pixels(frame, columns, data)
    n, c, h, w = pixels.shape
    padded = np.pad(pixels, ((0, 0), (0, 0), (k, k), (k, k)), constant_values=data.pixel_min)
    dy, dx = rng.integers(-k, k + 1, size=(2, n))
    rows = (k - dy)[:, None] + np.arange(h)                # output row r reads input row r - dy
    cols = (k - dx)[:, None] + np.arange(w)
    moved = padded[np.arange(n)[:, None, None, None], np.arange(c)[None, :, None, None],
                   rows[:, None, :, None], cols[:, None, None, :]]
    return _stored(frame, columns, data, moved)


def noise(frame: pd.DataFrame, columns: list[str], data: ImageData, strength: float,
          rng: np.random.Generator) -> pd.DataFrame:
    """Gaussian pixel noise, its standard deviation `strength` x the pixel range, clipped to the range."""
    if strength == 0 or frame.empty:
        return frame.copy()
    pixels = _pixels(frame, columns, data)
    spread = strength * (data.pixel_max - data.pixel_min)
    return _stored(frame, columns, data, pixels + rng.normal(0.0, spread, size=pixels.shape))
