"""Recordings to fixed-length windows, and window statistics for the tree baselines.

A window row is `group, recording, start, label` plus the samples, channel-major (`ax_0..ax_{w-1}, ay_0, ...`):
one flat table both the recurrent nets (via `windows_to_tensor`) and the trees (via `WindowStats`) read.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pandas as pd
import torch
from numpy.lib.stride_tricks import sliding_window_view
from scipy.signal import resample_poly
from sklearn.base import BaseEstimator, TransformerMixin

from cleargate.config import SequenceData
from cleargate.datasets.schema import GROUP, LABEL
from cleargate.datasets.watch import RECORDING, SUBJECT, TIME
from cleargate.errors import DataError

START = "start"
STATS = ["mean", "std", "min", "max", "p25", "p75", "energy", "mad"]


def window_columns(config: SequenceData) -> list[str]:
    return [f"{ch}_{i}" for ch in config.channels for i in range(config.window)]


def resample(values: np.ndarray, from_hz: float, to_hz: float) -> np.ndarray:
    """Polyphase resampling filters before decimating, so motion above the new Nyquist cannot alias in.

    `padtype="line"` extends each channel by its own trend instead of zeros: accelerometers carry a gravity
    offset, and zero padding would put a fake ramp at the start and end of every recording.
    """
    if from_hz == to_hz:
        return values
    ratio = (Fraction(to_hz) / Fraction(from_hz)).limit_denominator(1000)
    return resample_poly(values, ratio.numerator, ratio.denominator, axis=0, padtype="line")


def windows_from_recordings(raw: pd.DataFrame, config: SequenceData) -> pd.DataFrame:
    """Every complete window of every recording, ordered by recording then start; incomplete tails are dropped."""
    class_index = {name: i for i, name in enumerate(config.classes)}
    ordered = raw.sort_values([RECORDING, TIME], kind="stable")
    ids = ordered[RECORDING].to_numpy(np.int64)
    values = ordered[list(config.channels)].to_numpy(np.float64)
    bounds = np.flatnonzero(np.diff(ids)) + 1
    starts, ends = np.r_[0, bounds], np.r_[bounds, len(ids)]
    meta: list[np.ndarray] = []
    blocks: list[np.ndarray] = []
    for lo, hi in zip(starts, ends, strict=True):
        labels, subjects = ordered[LABEL].iloc[lo:hi].unique(), ordered[SUBJECT].iloc[lo:hi].unique()
        if len(labels) != 1 or len(subjects) != 1:
            raise DataError(f"recording {ids[lo]} has labels {list(labels)} and subjects {list(subjects)}; "
                            "each recording needs exactly one of each")
        if labels[0] not in class_index:
            raise DataError(f"recording {ids[lo]} has label '{labels[0]}', not in "
                            f"datasets.{config.name}.data.classes {list(config.classes)}")
        series = resample(values[lo:hi], config.sample_rate_hz, config.resample_hz)
        if len(series) < config.window:
            continue
        cut = sliding_window_view(series, config.window, axis=0)[:: config.stride]  # (k, channels, window)
        blocks.append(cut.reshape(len(cut), -1))
        offsets = np.arange(len(cut), dtype=np.int64) * config.stride
        meta.append(np.column_stack([np.full_like(offsets, subjects[0]), np.full_like(offsets, ids[lo]), offsets,
                                     np.full_like(offsets, class_index[labels[0]])]))
    columns = window_columns(config)
    table = np.concatenate(meta) if meta else np.empty((0, 4), dtype=np.int64)
    samples = np.concatenate(blocks) if blocks else np.empty((0, len(columns)))
    head = pd.DataFrame(table.astype(np.int64), columns=[GROUP, RECORDING, START, LABEL])
    return pd.concat([head, pd.DataFrame(samples.astype(np.float32), columns=columns)], axis=1)


def windows_to_tensor(frame: pd.DataFrame, config: SequenceData) -> torch.Tensor:
    """(n, time, channels) float32, the batch-first layout nn.LSTM/nn.GRU read."""
    flat = frame[window_columns(config)].to_numpy(np.float32)
    cube = flat.reshape(len(flat), len(config.channels), config.window).transpose(0, 2, 1)
    return torch.from_numpy(np.ascontiguousarray(cube))


class WindowStats(TransformerMixin, BaseEstimator):
    """Per-channel summary statistics of each window: trees cannot use raw samples whose position shifts.

    Stateless, so a fitted Pipeline([stats, tree]) takes the same raw window columns as the recurrent nets.
    `std` is the population std; `energy` the mean square; `mad` the mean absolute first difference.
    """

    def __init__(self, channels: list[str], window: int) -> None:
        self.channels = channels
        self.window = window

    def _columns(self) -> list[str]:
        return [f"{ch}_{i}" for ch in self.channels for i in range(self.window)]

    def _array(self, X: pd.DataFrame | np.ndarray) -> np.ndarray:
        """Columns are picked by name from a DataFrame, so their order there does not matter."""
        if isinstance(X, pd.DataFrame):
            missing = [c for c in self._columns() if c not in X.columns]
            if missing:
                raise ValueError(f"WindowStats: input lacks {len(missing)} window columns, e.g. {missing[:3]}")
            X = X[self._columns()]
        array = np.asarray(X, dtype=np.float64)
        expected = len(self.channels) * self.window
        if array.ndim != 2 or array.shape[1] != expected:
            raise ValueError(f"WindowStats: expected a 2-D input with {expected} columns, got shape {array.shape}")
        return array

    def fit(self, X: pd.DataFrame | np.ndarray, y: object = None) -> WindowStats:
        self._array(X)
        self.n_features_in_ = len(self.channels) * self.window
        if isinstance(X, pd.DataFrame):
            self.feature_names_in_ = np.asarray(self._columns(), dtype=object)
        return self

    def transform(self, X: pd.DataFrame | np.ndarray) -> np.ndarray:
        cube = self._array(X).reshape(-1, len(self.channels), self.window)
        p25, p75 = np.percentile(cube, [25, 75], axis=2)
        stats = [cube.mean(axis=2), cube.std(axis=2), cube.min(axis=2), cube.max(axis=2), p25, p75,
                 np.mean(cube**2, axis=2), np.abs(np.diff(cube, axis=2)).mean(axis=2)]
        return np.stack(stats, axis=2).reshape(len(cube), -1)  # (n, channels * stats), channel-major

    def get_feature_names_out(self, input_features: object = None) -> np.ndarray:
        return np.asarray([f"{ch}_{s}" for ch in self.channels for s in STATS], dtype=object)
