"""Recordings to fixed-length windows (sequence kind): resampled, cut, one flat row per window.

A window row is `group, recording, start, label` plus the samples, channel-major (`ax_0..ax_{w-1}, ay_0, ...`):
one flat table both the recurrent nets and the trees (through `window_stats.WindowStats`) read.
"""

from __future__ import annotations

from fractions import Fraction
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from numpy.lib.stride_tricks import sliding_window_view

from cleargate.errors import DataError
from cleargate.schema import GROUP, LABEL, RECORDING, START, SUBJECT, TIME

if TYPE_CHECKING:
    from cleargate.kinds.sequence import SequenceData


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
    from scipy.signal import resample_poly

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
