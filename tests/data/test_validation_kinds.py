"""The sequence and tabular suites on the real bundled data (rehab IMU, COVID tests), clean and broken."""

import pandas as pd
import pytest

from cleargate.datasets import load
from cleargate.params import load_project
from cleargate.preparation.splitting import group_split
from cleargate.validation import validate_records, validate_splits
from tests.projects import ROOT


@pytest.fixture(scope="module")
def rehab():
    params = load_project(ROOT / "params.yaml").scope("rehab")
    return params, load(params.dataset)


@pytest.fixture(scope="module")
def covid():
    params = load_project(ROOT / "params.yaml").scope("covid")
    return params, load(params.dataset)


def check(params, frame):
    return validate_records(frame, params.dataset, params.validation, f"data/raw/{params.dataset.name}.parquet")


def test_real_recordings_pass(rehab):
    params, frame = rehab
    report = check(params, frame)
    assert report.passed, report.message()
    assert {c.check for c in report.checks} >= {"columns", "labels", "values", "recordings", "class_balance"}


@pytest.mark.parametrize(
    ("corrupt", "expected"),
    [
        (lambda f: f.loc.__setitem__((f.index[f["recording"] == 3][:10], "label"), "ROW"),
         "expect_column_values_to_be_between(labels, 1..1)"),
        (lambda f: f.loc.__setitem__((f.index[f["recording"] == 5][:10], "subject"), 99),
         "expect_column_values_to_be_between(subjects, 1..1)"),
        (lambda f: f.drop(index=f.index[(f["recording"] == 7) & (f["t"] == 100)], inplace=True),
         "expect_column_values_to_be_between(gaps, 0..0)"),
        (lambda f: f.drop(index=f.index[(f["recording"] == 9) & (f["t"] > 50)], inplace=True),
         "expect_column_values_to_be_between(length, 200..)"),
        (lambda f: f.loc.__setitem__((12, "label"), "JUMP"), "expect_column_values_to_be_in_set(label"),
    ],
    ids=["label-switch", "two-subjects", "gap", "too-short", "unknown-exercise"],
)
def test_broken_recordings_fail_a_named_check(rehab, corrupt, expected):
    params, frame = rehab
    bad = frame.copy()
    corrupt(bad)
    report = check(params, bad)
    assert not report.passed and expected in report.message(), report.message()


def test_a_sensor_fault_quarantines_its_whole_recording(rehab):
    params, frame = rehab
    bad = frame.copy()
    bad.loc[bad.index[bad["recording"] == 4][20], "wx"] = 500.0
    rules = params.validation.model_copy(update={"policy": {**params.validation.policy, "values": "quarantine"}})
    report = validate_records(bad, params.dataset, rules, "rehab")
    assert report.passed, report.message()
    assert set(report.quarantined) == set(bad.index[bad["recording"] == 4]), "the recording, not one sample"
    strict = check(params, bad)
    assert not strict.passed and "(wx: rows" in strict.message()


def test_real_covid_records_pass_with_impossible_ages_and_repeats_quarantined(covid):
    params, frame = covid
    report = check(params, frame)
    assert report.passed, report.message()
    reasons = pd.Series(list(report.quarantined.values()))
    assert reasons.str.startswith("values: expect_column_values_to_be_between(age, 0..120)").sum() == 1
    assert reasons.str.startswith("duplicates").sum() == 30, "extra copies of the same patient's same test"


@pytest.mark.parametrize(
    ("corrupt", "expected"),
    [
        (lambda f: f.insert(0, "patient_name", "x"), "expect_table_columns_to_match_set"),
        (lambda f: f.loc.__setitem__((3, "gender"), "unknown"), "expect_column_values_to_be_in_set(gender"),
        (lambda f: f.loc.__setitem__((3, "result"), "maybe"), "expect_column_values_to_be_in_set(result"),
        (lambda f: f.__setitem__("age", f["age"].astype(str)), "expect_column_pair_values_to_be_equal"),
        (lambda f: f.loc.__setitem__((4, "test_id"), None), "expect_column_values_to_not_be_null(test_id)"),
    ],
    ids=["name-column", "unknown-category", "unknown-outcome", "text-age", "missing-required"],
)
def test_broken_records_fail_a_named_check(covid, corrupt, expected):
    params, frame = covid
    bad = frame.copy()
    corrupt(bad)
    report = check(params, bad)
    assert not report.passed and expected in report.message(), report.message()


def test_split_checks_catch_a_patient_in_two_splits_and_an_identifier_column(covid):
    from cleargate.preparation.cleaning import clean

    params, frame = covid
    records, _ = clean(frame, pd.DataFrame({"row": [], "reason": []}), params.dataset)
    splits = group_split(records, 0.2, 0.1, seed=0)
    assert validate_splits(splits, params.dataset, "covid").passed
    patient = splits["train"]["group"].iloc[0]
    moved = {**splits, "test": pd.concat([splits["test"], splits["train"].iloc[[0]]], ignore_index=True)}
    leaked = validate_splits(moved, params.dataset, "covid")
    assert not leaked.passed and f"group {patient}" in leaked.message().replace("'", ""), leaked.message()
    named = {k: v.assign(fake_last_name="x") for k, v in splits.items()}
    report = validate_splits(named, params.dataset, "covid")
    assert not report.passed and "fake_last_name" in report.message(), report.message()
