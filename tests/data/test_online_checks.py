"""A request is refused online exactly when batch scoring's validation (Great Expectations, every check failing)
refuses the same rows: the same scoring suite, judged without GE per request. The refusal names the check GE
fails, its column and the offending rows; the model's contract (learnt types, finite numbers) comes on top."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cleargate.config.judging import ValidationConfig
from cleargate.params import ProjectParams, load_project
from cleargate.serving.logged_model import input_kinds
from cleargate.serving.online_checks import RequestChecks
from cleargate.serving.online_requests import RequestRefused
from cleargate.validation import ChunkedValidation
from tests.projects import ROOT, tiny_params

STRICT = ValidationConfig(policy={}, max_quarantine_fraction=0.0)   # online: no quarantine, every check fails


def batch_verdict(frame: pd.DataFrame, data) -> list[str]:
    """The checks batch scoring fails on `frame` (chunked validation, GE on the flagged rows)."""
    validation = ChunkedValidation(data, STRICT, "request.parquet")
    if validation.start(frame.iloc[:0]):
        validation.add(frame)
    return [c.check for c in validation.report(len(frame)).checks if not c.passed]


def online_verdict(frame: pd.DataFrame, checks: RequestChecks) -> RequestRefused | None:
    try:
        checks.check(frame)
    except RequestRefused as refused:
        return refused
    return None


@pytest.fixture(scope="module")
def covid():
    """A tabular contract with ranges, category sets, nullable categories (params.yaml's covid)."""
    params = load_project(ROOT / "params.yaml").scope("covid")
    clean = pd.DataFrame({"gender": ["female", "male", "male"], "pan_day": [10.0, 200.0, 366.0],
                          "test_id": ["covid", "xcvd1", "covid"], "clinic_name": ["a", "b", "c"],
                          "demo_group": ["patient", "client", "unidentified"], "age": [0.0, 54.0, 120.0],
                          "drive_thru_ind": [0.0, 1.0, 1.0], "orderset": [1.0, 0.0, 1.0],
                          "payor_group": ["x", None, "y"], "patient_class": [None, None, "z"]})[params.features]
    return params.dataset, clean, RequestChecks(params.dataset, params.features, input_kinds(clean))


@pytest.mark.parametrize(("change", "check", "column", "rows"), [
    ({}, None, None, []),
    ({"age": [0.0, 121.0, 50.0]}, "values", "age", [1]),
    ({"pan_day": [0.0, 1.0, 400.0]}, "values", "pan_day", [0, 2]),
    ({"gender": ["female", "other", "male"]}, "categories", "gender", [1]),
    ({"gender": ["female", None, "male"]}, "categories", "gender", [1]),
    ({"age": [1.0, np.nan, 3.0]}, "values", "age", [1]),
    ({"payor_group": [None, None, None]}, None, None, []),           # nullable: missing is fine
    ({"age": ["old", "young", "old"]}, "dtypes", "age", []),
    ({"clinic_name": [1.0, 2.0, 3.0]}, "dtypes", "clinic_name", []),
])
def test_a_request_is_refused_exactly_when_batch_scoring_refuses_its_rows(covid, change, check, column, rows):
    data, clean, checks = covid
    frame = clean.assign(**change)
    refused = online_verdict(frame, checks)
    failed = batch_verdict(frame, data)
    assert (refused is None) == (not failed), (refused, failed)
    if refused is not None:
        assert refused.status == 422 and refused.check == check == failed[0] and refused.field == column
        assert refused.rows == rows and column in str(refused), refused.body()


def test_the_models_contract_comes_on_top_infinity_and_learnt_types(covid):
    data, clean, checks = covid
    refused = online_verdict(clean.assign(orderset=[1.0, np.inf, 0.0]), checks)
    assert refused is not None and refused.check == "values", "outside 0..1 first: the suite's own check"
    tabular = load_project(ROOT / "params.yaml").scope("breast_cancer")
    frame = pd.DataFrame({c: [1.0] for c in tabular.features})
    loose = RequestChecks(tabular.dataset, tabular.features, input_kinds(frame))
    refused = online_verdict(frame.assign(mean_radius=[np.inf]), loose)
    assert refused is not None and refused.check == "model" and "finite" in str(refused), refused
    assert not batch_verdict(frame.assign(mean_radius=[np.inf]), tabular.dataset), "the suite itself lets it by"


@pytest.fixture(scope="module")
def digits():
    params = ProjectParams.model_validate(tiny_params()).resolve(ROOT).scope("digits")
    frame = pd.DataFrame(np.arange(2 * 64).reshape(2, 64) % 16, columns=params.features)
    return params.dataset, frame, RequestChecks(params.dataset, params.features, input_kinds(frame))


@pytest.mark.parametrize(("value", "check"), [(300, "values"), (-1, "values"), (np.nan, "values"),
                                              ("white", "dtypes"), (3.5, "model")])
def test_an_image_pixel_outside_its_range_or_of_another_type_is_named(digits, value, check):
    data, clean, checks = digits
    frame = clean.copy()
    frame[clean.columns[9]] = pd.Series([clean.iloc[0, 9], value], dtype=object if isinstance(value, str) else None)
    refused = online_verdict(frame, checks)
    assert refused is not None and refused.check == check and refused.field == clean.columns[9], refused
    if check != "model":
        assert check in batch_verdict(frame, data), "batch scoring refuses it too"
        assert refused.rows == ([1] if check == "values" else [])
    assert online_verdict(clean, checks) is None
