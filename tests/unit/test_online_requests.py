"""The online server's parts without a server: MLflow's request shapes parsed into the same rows (or refused
naming the field), MLflow's webhook signature checked, and the traffic log's micro-batches, labels and spool."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cleargate.config.paths import Paths
from cleargate.layout import DatasetLayout
from cleargate.params import load_project
from cleargate.serving.online_requests import RequestRefused, parse_request
from cleargate.serving.registry_webhook import alias_event, signature, verify
from cleargate.serving.traffic_log import TrafficLog
from tests.projects import ROOT

COLUMNS = ["a", "b", "c"]
ROWS = [[1.5, 2, "x"], [3.0, 4, "y"]]


@pytest.mark.parametrize("body", [
    {"dataframe_split": {"columns": COLUMNS, "data": ROWS}},
    {"dataframe_split": {"columns": COLUMNS, "data": ROWS, "index": [7, 8]}},
    {"dataframe_records": [dict(zip(COLUMNS, r, strict=True)) for r in ROWS]},
    {"instances": ROWS},
    {"inputs": ROWS, "params": {}},
    {"instances": [dict(zip(COLUMNS, r, strict=True)) for r in ROWS]},
    {"inputs": {c: [r[i] for r in ROWS] for i, c in enumerate(COLUMNS)}},
])
def test_every_mlflow_shape_gives_the_same_rows(body):
    frame = parse_request(json.dumps(body).encode(), COLUMNS, max_rows=10)
    assert frame.columns.tolist() == COLUMNS and frame.index.tolist() == [0, 1]
    assert frame["a"].tolist() == [1.5, 3.0] and frame["b"].tolist() == [2, 4] and frame["c"].tolist() == ["x", "y"]
    assert frame["b"].dtype.kind == "i", "integers stay integers beside floats: the model's contract tells them apart"


def test_one_row_as_a_flat_list_and_numbers_read_in_one_array_keep_their_types():
    assert parse_request(b'{"instances": [1.0, 2, 3]}', COLUMNS, 10).shape == (1, 3)
    floats = parse_request(b'{"instances": [[1.0, 2, 3]]}', COLUMNS, 10, integers=False)
    assert floats.dtypes.tolist() == [np.float64] * 3, "a model that learnt no integers: floats in one array"
    flags = parse_request(b'{"instances": [[1.0, true, 3]]}', COLUMNS, 10, integers=False)
    assert flags["b"].dtype == bool, "a JSON boolean is never taken for a number"


@pytest.mark.parametrize(("body", "status", "check", "says"), [
    (b"", 400, "json", "empty body"),
    (b"{nope", 400, "json", "not valid JSON"),
    (b"[1, 2]", 400, "shape", "the body is a JSON list"),
    (b'{"dataframe_split": {}, "instances": []}', 400, "shape", "2 input fields"),
    (b'{"rows": []}', 400, "shape", "unknown field(s) ['rows']"),
    (b'{"instances": [[1]], "params": {"temperature": 1}}', 400, "shape", "takes no inference parameters"),
    (b'{"dataframe_split": {"columns": ["a", "a"], "data": [[1, 2]]}}', 400, "columns", "names 'a' twice"),
    (b'{"dataframe_split": {"columns": ["a", "b", "c"], "data": [[1, 2]]}}', 400, "shape",
     "dataframe_split.data[0]: has 2 values for 3 columns"),
    (b'{"dataframe_split": {"columns": ["a"], "data": [1]}}', 400, "shape", "dataframe_split.data[0]: is a int"),
    (b'{"dataframe_records": [1]}', 400, "shape", "dataframe_records[0]: is a int"),
    (b'{"instances": []}', 400, "shape", "instances: holds no rows"),
    (b'{"instances": [[1, 2, 3], [1, 2, 3], [1, 2, 3]]}', 413, "rows", "3 rows, more than serving.max_rows (2)"),
    (b'{"dataframe_records": [{"a": [1, 2], "b": 1, "c": 1}]}', 422, "dtypes", "a: row 0 holds a list"),
    (b'{"inputs": {"a": [1], "b": [1, 2]}}', 400, "shape", "all of the same length"),
])
def test_a_malformed_request_is_refused_naming_the_field(body, status, check, says):
    with pytest.raises(RequestRefused) as refused:
        parse_request(body, COLUMNS, max_rows=2)
    assert (refused.value.status, refused.value.check) == (status, check) and says in str(refused.value), \
        refused.value.body()
    assert refused.value.body()["message"] == str(refused.value)


def test_nan_and_infinity_as_pythons_json_writes_them_are_read():
    frame = parse_request(b'{"instances": [[NaN, Infinity, -Infinity]]}', COLUMNS, 10)
    assert np.isnan(frame.iloc[0, 0]) and frame.iloc[0, 1] == np.inf and frame.iloc[0, 2] == -np.inf


def test_an_mlflow_webhook_signature_is_checked_and_only_alias_events_of_the_model_count():
    body = json.dumps({"entity": "model_version_alias", "action": "created", "timestamp": "2026-01-01T00:00:00",
                       "data": {"name": "m", "alias": "champion", "version": "3"}}).encode()
    now = str(int(time.time()))
    headers = {"X-MLflow-Signature": signature("s3cret", "d1", now, body), "X-MLflow-Timestamp": now,
               "X-MLflow-Delivery-Id": "d1"}
    verify("s3cret", headers, body)
    for changed, says in (({"X-MLflow-Signature": "v1,AAAA"}, "does not match"),
                          ({"X-MLflow-Timestamp": str(int(time.time()) - 3600)}, "a replay"),
                          ({"X-MLflow-Signature": ""}, "are required")):
        with pytest.raises(RequestRefused, match=says) as refused:
            verify("s3cret", {**headers, **changed}, body)
        assert refused.value.status == 401
    with pytest.raises(RequestRefused):
        verify("another", headers, body)
    assert alias_event(body, "m", ["champion", "challenger"]) == "created champion"
    assert alias_event(body, "other-model", ["champion"]) is None
    assert alias_event(body.replace(b"model_version_alias", b"model_version_tag"), "m", ["champion"]) is None


@pytest.fixture
def traffic_setup(tmp_path: Path):
    project = load_project(ROOT / "params.yaml")
    paths = Paths(**{name: tmp_path / name for name in Paths.model_fields})
    serving = project.serving.model_copy(update={"batch_rows": 4, "batch_max_s": 3600, "min_batch_rows": 2,
                                                 "feedback_rows": 6})
    return DatasetLayout(paths, "d"), serving


def _rows(n: int, start: int = 0) -> pd.DataFrame:
    return pd.DataFrame({"x": np.arange(start, start + n, dtype=float), "y": np.ones(n)})


def test_requests_go_to_the_inbox_in_micro_batches_and_labels_join_them_by_request_id(traffic_setup):
    layout, serving = traffic_setup
    log = TrafficLog(layout, serving, "m", ["no", "yes"], writer=False)  # batches written when flushed here
    try:
        for i in range(3):
            log.add(f"r{i}", _rows(2, 2 * i), "1", np.array([0, 1]))
        log.shadow("r0", "challenger", "2", [0, 0])
        assert log.feedback("r1", ["yes", 0]) == 2
        with pytest.raises(RequestRefused, match="received already"):
            log.feedback("r1", [1, 1])
        with pytest.raises(RequestRefused, match="send one label per row"):
            log.feedback("r2", [1])
        with pytest.raises(RequestRefused, match="is not one of the classes"):
            log.feedback("r2", ["maybe", 1])
        for i in range(3, 6):
            log.add(f"r{i}", _rows(2, 2 * i), "1", np.array([1, 1]))
        with pytest.raises(RequestRefused, match="unknown, or older than the last 6 rows") as gone:
            log.feedback("r0", [1, 1])  # the last 6 rows are r3, r4, r5 (r1 is labelled)
        assert gone.value.status == 404
        log.flush()
        batches = sorted(layout.inbox.glob("live-*.parquet"))
        assert len(batches) == 1 and len(pd.read_parquet(batches[0])) == 12, "4 rows a batch: one of 12"
        assert not list(layout.inbox.glob("feedback-*.parquet")), "2 labelled rows, waiting for 4 (or their time)"
        record = pd.concat(pd.read_parquet(p) for p in sorted(layout.served.glob("live-*.parquet")))
        assert record["request_id"].tolist()[:4] == ["r0", "r0", "r1", "r1"]
        assert record["shadow_prediction"].tolist()[:2] == [0, 0] and record["shadow_version"].iloc[0] == "2"
        assert set(record["inbox_batch"]) == {b.name for b in batches}
        log.feedback("r5", [1, 1])
    finally:
        log.close()
    labelled = pd.read_parquet(next(layout.inbox.glob("feedback-*.parquet")))
    assert labelled["label"].tolist() == [1, 0, 1, 1] and labelled["x"].tolist() == [2.0, 3.0, 10.0, 11.0]


def test_rows_too_few_for_a_batch_wait_for_the_next_server(traffic_setup):
    layout, serving = traffic_setup
    log = TrafficLog(layout, serving, "m", ["no", "yes"])
    log.add("a", _rows(1), "1", np.array([0]))
    log.close()
    assert not list(layout.inbox.glob("*.parquet")) and (layout.served_pending / "traffic.parquet").is_file()
    assert len(list(layout.served.glob("live-*.parquet"))) == 1, "what was answered is recorded at once"
    again = TrafficLog(layout, serving, "m", ["no", "yes"])
    again.add("b", _rows(1, 5), "1", np.array([1]))
    again.close()
    assert pd.read_parquet(next(layout.inbox.glob("live-*.parquet")))["x"].tolist() == [0.0, 5.0]
    assert not (layout.served_pending / "traffic.parquet").exists()
