"""Sensor recordings in the raw long layout: one row per sample, `recording, subject, label, t, <channels>`.

The long layout (not windows) is what is stored as raw data, so validation sees every sample and the
window length or stride can change without re-reading the source.
"""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pandas as pd

from cleargate.datasets.packaged import package_file
from cleargate.errors import DataError
from cleargate.kinds.sequence import SequenceData
from cleargate.schema import LABEL, RECORDING, SUBJECT, TIME


def _read_watch_file(path: Path) -> dict:
    """The file is a pickled dict; any failure to read it is the user's to fix by reinstalling the wheel."""
    try:
        payload = np.load(path, allow_pickle=True).item()
    except (OSError, ValueError, EOFError, pickle.UnpicklingError, AttributeError) as exc:
        raise DataError(f"{path}: not a readable seglearn watch file ({type(exc).__name__}: {exc}); "
                        "reinstall seglearn") from None
    missing = {"X", "y", "y_labels", "subject", "X_labels"} - set(payload if isinstance(payload, dict) else {})
    if missing:
        raise DataError(f"{path}: missing key(s) {sorted(missing)}; reinstall seglearn")
    return payload


def load_seglearn_watch(config: SequenceData) -> pd.DataFrame:
    """Shoulder-exercise recordings from a smartwatch: 140 recordings, 10 subjects, 7 classes, 6 channels, 50 Hz."""
    path = package_file("seglearn", "data/watch_dataset.npy")
    data = _read_watch_file(path)
    file_channels = [str(c) for c in data["X_labels"]]
    if file_channels != list(config.channels):
        raise DataError(f"{path}: channels are {file_channels} but datasets.{config.name}.data.channels in "
                        f"params.yaml is {list(config.channels)}; make them equal")
    names = [str(n) for n in data["y_labels"]]
    unknown = sorted(set(names) - set(config.classes))
    if unknown:
        raise DataError(f"{path}: classes {unknown} are not in datasets.{config.name}.data.classes "
                        f"({list(config.classes)}); add them")
    recordings = [np.asarray(x, dtype=np.float64) for x in data["X"]]
    if not (len(recordings) == len(data["y"]) == len(data["subject"])):
        raise DataError(f"{path}: {len(recordings)} recordings but {len(data['y'])} labels and "
                        f"{len(data['subject'])} subjects; reinstall seglearn")
    lengths = np.array([len(x) for x in recordings], dtype=np.int64)
    values = np.concatenate(recordings, axis=0)
    frame = pd.DataFrame({
        RECORDING: np.repeat(np.arange(len(recordings), dtype=np.int64), lengths),
        SUBJECT: np.repeat(np.asarray(data["subject"], dtype=np.int64), lengths),
        LABEL: pd.array(np.repeat(np.asarray(names, dtype=object)[np.asarray(data["y"], dtype=np.int64)], lengths),
                        dtype="str"),
        TIME: np.concatenate([np.arange(n, dtype=np.int64) for n in lengths]),
    })
    channels = pd.DataFrame(values, columns=list(config.channels))
    return pd.concat([frame, channels], axis=1)
