"""The Great Expectations suites on real digits, clean and deliberately broken."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cleargate.config.judging import ValidationConfig
from cleargate.datasets import load
from cleargate.errors import DataError
from cleargate.io import read_table
from cleargate.validation import validate_records
from tests.projects import load_params


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    from tests.projects import tiny_params, write_params

    params = load_params(write_params(tmp_path_factory.mktemp("v") / "params.yaml", tiny_params()))
    return params, load(params.dataset)


def set_float(frame: pd.DataFrame, row: int, column: str, value: float) -> None:
    frame[column] = frame[column].astype("float64")
    frame.loc[row, column] = value


def check(frame, params, docs=None):
    return validate_records(frame, params.dataset, params.validation, "data/raw/digits.parquet", docs)


def test_real_digits_pass_and_data_docs_are_written(setup, tmp_path: Path):
    params, frame = setup
    report = check(frame, params, tmp_path / "docs")
    assert report.passed, report.message()
    assert (tmp_path / "docs" / "index.html").is_file()
    assert len(report.checks) >= 9 and not report.quarantined


def test_pixel_out_of_range_names_file_expectation_column_and_rows(setup):
    params, frame = setup
    bad = frame.copy()
    bad.loc[[17, 204, 981], "pixel_12"] = 300
    report = check(bad, params)
    assert not report.passed
    assert ("data/raw/digits.parquet: 3 values fail expect_column_values_to_be_between(value, 0..255) "
            "(pixel_12: rows 17, 204, 981)") in report.message()


@pytest.mark.parametrize(
    ("corrupt", "expected"),
    [
        (lambda f: f.loc.__setitem__((5, "label"), 11), "expect_column_values_to_be_in_set(label"),
        (lambda f: set_float(f, 3, "pixel_1", np.nan), "expect_column_values_to_not_be_null(value)"),
        (lambda f: set_float(f, 3, "pixel_1", np.inf), "pixel_1: rows 3"),
        # the user's 64 pixels and a label (not the row id GE needs)
        (lambda f: f.drop(columns=["pixel_63"], inplace=True), "expect_table_columns_to_match_set(65 columns)"),
        (lambda f: f.insert(0, "extra", 1), "expect_table_columns_to_match_set(65 columns)"),
        (lambda f: f.__setitem__("pixel_2", f["pixel_2"].astype(str)), "(column pixel_2)"),
        (lambda f: f.drop(f.index[f["label"] == 3], inplace=True), "expect_column_distinct_values_to_contain_set"),
    ],
)
def test_corruptions_fail_with_a_named_check(setup, corrupt, expected):
    params, frame = setup
    bad = frame.copy()
    corrupt(bad)
    report = check(bad, params)
    assert not report.passed
    assert expected in report.message(), report.message()


def test_duplicates_are_quarantined_or_fail_by_policy(setup):
    params, frame = setup
    dup = pd.concat([frame, frame.iloc[[0, 1]]], ignore_index=True)
    report = check(dup, params)
    uniq = next(c for c in report.checks if c.check == "duplicates")
    assert not uniq.passed and uniq.unexpected_count == 4 and uniq.policy == "quarantine"
    assert report.passed, "quarantine policy: reported, set aside, the run goes on"
    assert sorted(report.quarantined) == [len(frame), len(frame) + 1], "only the extra copies"
    assert report.to_record().quarantined["count"] == 2
    rules = ValidationConfig(policy={"duplicates": "fail"}, max_quarantine_fraction=0.05)
    strict = validate_records(dup, params.dataset, rules, "x", None)
    assert not strict.passed


def test_quarantine_stops_the_run_past_the_limit(setup):
    params, frame = setup
    rules = ValidationConfig(policy={"values": "quarantine"}, max_quarantine_fraction=0.01)
    bad = frame.copy()
    bad.loc[:29, "pixel_5"] = 999  # 30 of 1,797 rows: 1.7%
    report = validate_records(bad, params.dataset, rules, "data/raw/digits.parquet", None)
    assert not report.passed and len(report.quarantined) == 30
    assert "30 rows would be quarantined (1.7%), over validation.max_quarantine_fraction=0.01" in report.message()
    relaxed = validate_records(bad, params.dataset, rules.model_copy(update={"max_quarantine_fraction": 0.05}),
                               "x", None)
    assert relaxed.passed and set(relaxed.quarantined) == set(range(30))
    assert relaxed.quarantined[0].startswith("values: expect_column_values_to_be_between")


def test_class_share_bound(setup):
    params, frame = setup
    skewed = pd.concat([frame] + [frame[frame["label"] == 1]] * 6, ignore_index=True)
    rules = ValidationConfig(max_class_share=0.3, max_quarantine_fraction=0.05, policy={"duplicates": "quarantine"})
    report = validate_records(skewed, params.dataset, rules, "x", None)
    assert not report.passed and "expect_column_values_to_be_between(share, ..0.3)" in report.message()


def test_unlabelled_batches_skip_label_checks(setup):
    params, frame = setup
    report = validate_records(frame.drop(columns="label"), params.dataset, params.validation, "batch", None,
                              labelled=False)
    assert report.passed and {c.check for c in report.checks} == {"columns", "dtypes", "values"}


def test_bad_files_give_a_clear_error(tmp_path: Path):
    good = tmp_path / "good.parquet"
    pd.DataFrame({"a": range(100)}).to_parquet(good)
    truncated = tmp_path / "truncated.parquet"
    truncated.write_bytes(good.read_bytes()[:200])
    (tmp_path / "empty.parquet").write_bytes(b"")
    (tmp_path / "image.png").write_bytes(b"\x89PNG")
    (tmp_path / "bad.csv").write_bytes(b"\xff\xfe\x00garbage")
    cases = {"missing.parquet": "file not found", "empty.parquet": "file is empty",
             "truncated.parquet": "truncated or corrupt", "image.png": "unsupported file type",
             "bad.csv": "not a readable CSV"}
    for name, message in cases.items():
        with pytest.raises(DataError, match=message) as err:
            read_table(tmp_path / name)
        assert str(tmp_path / name) in str(err.value)
    assert len(read_table(good)) == 100


def test_leakage_check_names_the_splits_and_rows(setup):
    from cleargate.preparation.splitting import stratified_split
    from cleargate.validation import validate_splits

    params, frame = setup
    splits = stratified_split(frame, 0.2, 0.2, seed=0)
    assert validate_splits(splits, params.dataset, "data/interim/digits.parquet").passed
    leaked = {**splits, "test": pd.concat([splits["test"], splits["train"].iloc[[5]]], ignore_index=True)}
    relabelled = leaked["test"].copy()
    relabelled.loc[len(relabelled) - 1, "label"] = (relabelled["label"].iloc[-1] + 1) % 10  # same image
    report = validate_splits({**leaked, "test": relabelled}, params.dataset, "data/interim/digits.parquet")
    assert not report.passed
    message = report.message()
    assert "2 rows fail expect_column_values_to_be_unique(image_hash)" in message
    assert "train: rows 5" in message and f"test: rows {len(relabelled) - 1}" in message
