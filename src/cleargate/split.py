"""Seeded, stratified train/val/test split. That no image sits in two splits is a GE check (leakage)."""

from __future__ import annotations

import hashlib

import pandas as pd
from sklearn.model_selection import train_test_split

from cleargate.datasets.schema import LABEL

SPLITS = ("train", "val", "test")


def row_hashes(frame: pd.DataFrame) -> pd.Series:
    """A content hash per row (label excluded), so leakage means 'same image', whatever its label."""
    features = frame.drop(columns=[LABEL], errors="ignore")
    return pd.util.hash_pandas_object(features, index=False)


def stratified_split(frame: pd.DataFrame, test_size: float, val_size: float, seed: int) -> dict[str, pd.DataFrame]:
    """Split by label proportions; val_size and test_size are fractions of the whole frame."""
    rest, test = train_test_split(frame, test_size=test_size, stratify=frame[LABEL], random_state=seed)
    train, val = train_test_split(rest, test_size=val_size / (1.0 - test_size), stratify=rest[LABEL],
                                  random_state=seed)
    return {name: part.reset_index(drop=True) for name, part in {"train": train, "val": val, "test": test}.items()}


def split_digest(splits: dict[str, pd.DataFrame]) -> str:
    """One hash over the sorted row hashes of every split: equal digests mean identical splits."""
    digest = hashlib.sha256()
    for name in SPLITS:
        digest.update(name.encode())
        digest.update(row_hashes(splits[name]).sort_values().to_numpy().tobytes())
    return digest.hexdigest()
