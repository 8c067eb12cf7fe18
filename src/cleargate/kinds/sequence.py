"""Multichannel sensor recordings (one label and one subject each), cut into fixed windows for the models.

Raw data is the long layout, one row per sample (`recording, subject, label, t, <channels>`), so validation
sees every sample and the window can change without re-reading the source. Cleaning resamples each recording
and cuts it into windows (`kinds.windows`); networks see (n, time, channels) raw values and standardise inside;
trees see per-window statistics (`kinds.window_stats`). A recording with a bad sample is quarantined whole.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, Literal

import numpy as np
import pandas as pd
from pydantic import Field, model_validator

from cleargate.config.judging import ValidationConfig
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
from cleargate.kinds.protocol import Augmentation, DataContract, Perturbation, replace_columns
from cleargate.kinds.windows import window_columns, windows_from_recordings
from cleargate.schema import GROUP, LABEL, RECORDING, ROW, SUBJECT, TIME

if TYPE_CHECKING:
    import torch

    from cleargate.config.hyperparameters import SequenceConfig

Channel = Annotated[str, Field(pattern=r"^[A-Za-z][A-Za-z0-9]*$")]
RAW_KEYS = [RECORDING, SUBJECT, LABEL, TIME]


class SequenceData(DataContract):
    kind: Literal["sequence"]
    source: Literal["seglearn_watch", "parquet"]
    classes: Annotated[list[str], Field(min_length=2)]
    channels: Annotated[list[Channel], Field(min_length=1)]
    sample_rate_hz: Annotated[float, Field(gt=0)]
    resample_hz: Annotated[float, Field(gt=0)]
    window: Annotated[int, Field(ge=4, le=10_000)]       # samples per window, after resampling
    stride: Annotated[int, Field(ge=1, le=10_000)]       # samples between window starts
    value_abs_max: Annotated[float, Field(gt=0)]         # validation: |sensor value| above this is a fault

    @model_validator(mode="after")
    def _check(self) -> SequenceData:
        if self.resample_hz > self.sample_rate_hz:
            raise ValueError("resample_hz must not exceed sample_rate_hz (downsampling only)")
        return self


Data = SequenceData
deep_families = frozenset({"rnn", "lstm", "gru", "transformer"})
importance_unit = "sensor channel"


def feature_columns(data: SequenceData) -> list[str]:
    return window_columns(data)


def clean(kept: pd.DataFrame, data: SequenceData) -> tuple[pd.DataFrame, dict[str, Any]]:
    windows = windows_from_recordings(kept, data)
    return windows, {"recordings": int(kept[RECORDING].nunique()), "windows": len(windows),
                     "window_seconds": data.window / data.resample_hz, "resample_hz": data.resample_hz}


def _recordings_batch(frame: pd.DataFrame, data: SequenceData) -> Batch:
    """One row per recording: one label, one subject, samples 0..n-1 without gaps, at least one window."""
    stats = frame.groupby(RECORDING).agg(labels=(LABEL, "nunique"), subjects=(SUBJECT, "nunique"),
                                         length=(TIME, "size"), first=(TIME, "min"), last=(TIME, "max"))
    stats["gaps"] = stats["last"] - stats["first"] + 1 - stats["length"]
    min_length = int(data.window * data.sample_rate_hz / data.resample_hz)
    between = "ExpectColumnValuesToBeBetween"
    return Batch("recordings", stats.reset_index(), [
        Rule("recordings", between, {"column": "labels", "min_value": 1, "max_value": 1}),
        Rule("recordings", between, {"column": "subjects", "min_value": 1, "max_value": 1}),
        Rule("recordings", between, {"column": "gaps", "min_value": 0, "max_value": 0}),
        Rule("recordings", between, {"column": "length", "min_value": min_length}),
    ], [RECORDING])


def raw_suite(frame: pd.DataFrame, data: SequenceData, rules: ValidationConfig) -> list[Batch]:
    """The table, its types, every sensor value, and each recording."""
    records = [columns_rule([*RAW_KEYS, *data.channels]), *label_rules(LABEL, data.classes)]
    if {RECORDING, TIME} <= set(frame.columns):
        records.append(Rule("duplicates", "ExpectCompoundColumnsToBeUnique", {"column_list": [RECORDING, TIME]}))
    batches = [Batch("records", with_row_ids(frame), records, [ROW]),
               dtypes_batch(frame, [RECORDING, SUBJECT, TIME, *data.channels]),
               values_batch("values", frame, list(data.channels), -data.value_abs_max, data.value_abs_max)]
    if set(RAW_KEYS) <= set(frame.columns):
        per_recording = frame.groupby(RECORDING)[LABEL].first()
        batches += [_recordings_batch(frame, data),
                    class_counts_batch(per_recording, data.classes, data.min_class_count, rules.max_class_share)]
    return batches


def scoring_suite(frame: pd.DataFrame, data: SequenceData) -> list[Batch]:
    """A batch of windows to score (what the model takes): the window columns exactly, every value sane."""
    columns = window_columns(data)
    return [Batch("records", with_row_ids(frame), [columns_rule(columns)], [ROW]),
            values_batch("values", frame, columns, -data.value_abs_max, data.value_abs_max)]


def split_suite(splits: dict[str, pd.DataFrame], data: SequenceData) -> list[Batch]:
    return sample_leakage(splits, window_columns(data))


def quarantine_scope(frame: pd.DataFrame, rows: dict[int, str]) -> dict[int, str]:
    """A sequence is not usable with samples cut out of it: quarantine the recordings the rows belong to."""
    if not rows or RECORDING not in frame.columns:
        return rows
    recordings = frame.loc[sorted(rows), RECORDING]
    reasons = {rec: rows[row] for row, rec in recordings.items()}
    members = frame.index[frame[RECORDING].isin(reasons)]
    return {int(r): rows.get(int(r), f"recording {frame.at[r, RECORDING]}: {reasons[frame.at[r, RECORDING]]}")
            for r in members}


def tree_features(data: SequenceData) -> Any:
    """Per-channel window statistics: trees cannot use raw samples whose position shifts."""
    from cleargate.kinds.window_stats import WindowStats

    return WindowStats(channels=list(data.channels), window=data.window)


def to_tensor(frame: pd.DataFrame, data: SequenceData) -> torch.Tensor:
    """(n, time, channels) float32, the batch-first layout nn.LSTM/nn.GRU read; raw values (the net standardises)."""
    import torch

    flat = frame[window_columns(data)].to_numpy(np.float32)
    cube = flat.reshape(len(flat), len(data.channels), data.window).transpose(0, 2, 1)
    return torch.from_numpy(np.ascontiguousarray(cube))


def random_amplitude(windows: torch.Tensor, max_scale: float, noise: float) -> torch.Tensor:
    """Sensor windows (n, time, channels): each window and channel scaled by 1 +- max_scale (sensor gain,
    how hard a patient moves) plus Gaussian noise of `noise` x the batch's per-channel std."""
    import torch

    if max_scale == 0 and noise == 0:
        return windows
    n, _, c = windows.shape
    gain = 1 + (torch.rand(n, 1, c, device=windows.device) * 2 - 1) * max_scale
    spread = windows.std(dim=(0, 1), keepdim=True)
    return windows * gain + torch.randn_like(windows) * spread * noise


def augmentation(model: SequenceConfig) -> Augmentation | None:
    if model.augment_scale == 0 and model.augment_noise == 0:
        return None
    return lambda x: random_amplitude(x, model.augment_scale, model.augment_noise)


def _cube(frame: pd.DataFrame, data: SequenceData) -> np.ndarray:
    """(n, channels, window) float64 samples of stored windows (columns are channel-major)."""
    return frame[window_columns(data)].to_numpy(np.float64).reshape(len(frame), len(data.channels), data.window)


def _stored(frame: pd.DataFrame, data: SequenceData, cube: np.ndarray) -> pd.DataFrame:
    columns = window_columns(data)
    return replace_columns(frame, columns, cube.reshape(len(frame), -1).astype(frame[columns[0]].dtype))


def sensor_noise(frame: pd.DataFrame, data: SequenceData, strength: float, rng: np.random.Generator) -> pd.DataFrame:
    """Gaussian noise on every sample, its standard deviation `strength` x the channel's std over the windows."""
    if strength == 0 or frame.empty:
        return frame.copy()
    cube = _cube(frame, data)
    spread = cube.std(axis=(0, 2), keepdims=True)
    return _stored(frame, data, cube + rng.normal(size=cube.shape) * spread * strength)


def time_warp(frame: pd.DataFrame, data: SequenceData, strength: float, rng: np.random.Generator,
              knots: int = 4) -> pd.DataFrame:
    """Each window replayed at a smoothly varying speed (Um et al. 2017): the speed at `knots` points is
    1 +- `strength`, linear between them; the warped time keeps the window's first and last sample."""
    if strength == 0 or frame.empty:
        return frame.copy()
    cube = _cube(frame, data)
    n, _, w = cube.shape
    speed = np.clip(1 + rng.uniform(-strength, strength, size=(n, knots)), 0.05, None)
    steps = np.stack([np.interp(np.linspace(0, knots - 1, w), np.arange(knots), row) for row in speed])
    clock = np.cumsum(steps, axis=1)
    t = (clock - clock[:, :1]) / (clock[:, -1:] - clock[:, :1]) * (w - 1)    # (n, w) in [0, w - 1]
    lo = np.clip(np.floor(t).astype(np.int64), 0, w - 2)
    frac = (t - lo)[:, None, :]
    left = np.take_along_axis(cube, np.broadcast_to(lo[:, None, :], cube.shape), axis=2)
    right = np.take_along_axis(cube, np.broadcast_to(lo[:, None, :] + 1, cube.shape), axis=2)
    return _stored(frame, data, left * (1 - frac) + right * frac)


def perturbations(data: SequenceData) -> dict[str, Perturbation]:
    """`noise` (std as a fraction of each channel's std) and `time_warp` (largest relative speed change)."""
    return {"noise": lambda f, s, r: sensor_noise(f, data, s, r), "time_warp": lambda f, s, r: time_warp(f, data, s, r)}


def slice_columns(data: SequenceData) -> list[str]:
    """The subject (patient) of each window: slices per patient."""
    return [GROUP]


def importance_units(data: SequenceData) -> dict[str, list[str]]:
    """A whole channel at a time: shuffling one time step of a window would say nothing."""
    columns = window_columns(data)
    return {ch: columns[i * data.window:(i + 1) * data.window] for i, ch in enumerate(data.channels)}


def attribution_grid(data: SequenceData) -> None:
    """Attribution maps are drawn for images only."""
    return None


def describe(data: SequenceData) -> str:
    columns = window_columns(data)
    return (f"{data.window / data.resample_hz:g}-second windows of {', '.join(data.channels)} at "
            f"{data.resample_hz:g} Hz; input columns `{columns[0]}..{columns[-1]}` (channel-major)")
