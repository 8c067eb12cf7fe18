"""Seeded train/val/test split: by subject/patient when the data has groups, else stratified by label.

That no sample and no subject sits in two splits is a Great Expectations check (the kind's `split_suite`),
run by the split stage before anything is written."""

from __future__ import annotations

import hashlib

import pandas as pd
from sklearn.model_selection import GroupShuffleSplit, train_test_split

from cleargate.io import row_hashes
from cleargate.layout import SPLITS
from cleargate.schema import GROUP, LABEL


def stratified_split(frame: pd.DataFrame, test_size: float, val_size: float, seed: int) -> dict[str, pd.DataFrame]:
    """Split by label proportions; val_size and test_size are fractions of the whole frame."""
    rest, test = train_test_split(frame, test_size=test_size, stratify=frame[LABEL], random_state=seed)
    train, val = train_test_split(rest, test_size=val_size / (1.0 - test_size), stratify=rest[LABEL],
                                  random_state=seed)
    return {name: part.reset_index(drop=True) for name, part in {"train": train, "val": val, "test": test}.items()}


def group_split(frame: pd.DataFrame, test_size: float, val_size: float, seed: int) -> dict[str, pd.DataFrame]:
    """Whole groups (subjects, patients) go to one split; sizes are fractions of the groups."""
    def cut(part: pd.DataFrame, size: float) -> tuple[pd.DataFrame, pd.DataFrame]:
        keep, held = next(GroupShuffleSplit(n_splits=1, test_size=size, random_state=seed)
                          .split(part, groups=part[GROUP]))
        return part.iloc[keep], part.iloc[held]

    rest, test = cut(frame, test_size)
    train, val = cut(rest, val_size / (1.0 - test_size))
    return {name: part.reset_index(drop=True) for name, part in {"train": train, "val": val, "test": test}.items()}


def split_records(frame: pd.DataFrame, test_size: float, val_size: float, seed: int) -> dict[str, pd.DataFrame]:
    """Group split when the data carries a group column, stratified split otherwise."""
    if GROUP in frame.columns:
        return group_split(frame, test_size, val_size, seed)
    return stratified_split(frame, test_size, val_size, seed)


def split_digest(splits: dict[str, pd.DataFrame]) -> str:
    """One hash over the sorted row hashes of every split: equal digests mean identical splits."""
    digest = hashlib.sha256()
    for name in SPLITS:
        digest.update(name.encode())
        digest.update(row_hashes(splits[name]).sort_values().to_numpy().tobytes())
    return digest.hexdigest()
