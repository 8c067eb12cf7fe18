import numpy as np
import pandas as pd
import pytest

from cleargate.cleaning import clean_records
from cleargate.config import DatasetConfig
from cleargate.datasets.schema import records_from_arrays
from cleargate.errors import DataValidationError
from cleargate.split import row_hashes, split_digest, stratified_split

CONFIG = DatasetConfig(name="t", source="sklearn_digits", image_shape=(2, 2), classes=[0, 1],
                       min_class_count=1)


def frame(n: int = 40, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return records_from_arrays(rng.integers(0, 256, size=(n, 2, 2)), np.arange(n) % 2)


def test_clean_drops_duplicates_and_invalid_rows_and_counts_them():
    data = frame()
    data = pd.concat([data, data.iloc[[0, 1]]], ignore_index=True)
    data.loc[3, "pixel_0"] = 300
    data.loc[4, "label"] = 7
    cleaned, report = clean_records(data, CONFIG, max_drop_fraction=0.2)
    assert (report.duplicates_dropped, report.invalid_dropped) == (2, 2)
    assert report.rows_out == len(cleaned) == 38
    assert not cleaned.duplicated().any()
    assert cleaned["pixel_0"].max() <= 255 and set(cleaned["label"]) <= {0, 1}


def test_clean_refuses_to_drop_more_than_allowed():
    data = frame()
    data.loc[:9, "pixel_1"] = -1
    with pytest.raises(DataValidationError, match="would drop 10 of 40 rows.*max_drop_fraction=0.05"):
        clean_records(data, CONFIG, max_drop_fraction=0.05, source="data/raw/t.parquet")


def test_split_is_disjoint_stratified_and_seeded():
    data = frame(200)
    a = stratified_split(data, test_size=0.2, val_size=0.2, seed=1)
    assert {k: len(v) for k, v in a.items()} == {"train": 120, "val": 40, "test": 40}
    hashes = [set(row_hashes(part)) for part in a.values()]
    assert not (hashes[0] & hashes[1] or hashes[0] & hashes[2] or hashes[1] & hashes[2])
    assert all(part["label"].mean() == 0.5 for part in a.values())
    assert split_digest(a) == split_digest(stratified_split(data, 0.2, 0.2, seed=1))
    assert split_digest(a) != split_digest(stratified_split(data, 0.2, 0.2, seed=2))


def test_split_detects_leakage_of_identical_images():
    data = frame(100)
    data = pd.concat([data, data], ignore_index=True)  # every image twice: some copies must straddle splits
    with pytest.raises(DataValidationError, match="leakage"):
        stratified_split(data, 0.2, 0.2, seed=0)
