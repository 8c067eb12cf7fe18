"""`cleargate serve-model` on the golden CNN (8x8 digits), pinned to a version (NAME/VERSION: never re-resolved),
on loopback without a token: pixel rows in answer with the network's labels; a pixel out of range or of another
type than the network learnt is refused, naming the pixel and the check."""

from __future__ import annotations

import json
import os

import numpy as np
import pandas as pd
import pytest
import requests

from tests.servers import ModelServer

pytestmark = pytest.mark.slow
NAME = "digits-classifier"


@pytest.fixture(scope="module")
def digits_server(golden_digits, tmp_path_factory: pytest.TempPathFactory):
    project = golden_digits.clone(tmp_path_factory.mktemp("online-digits"))
    env = {k: "" for k in ("CLEARGATE_SERVING_TOKEN", "CLEARGATE_WEBHOOK_SECRET") if k in os.environ}
    server = ModelServer(project / "server", project, f"{NAME}/1", env).launch()
    try:
        server.wait(timeout=180)
        from cleargate.params import load_project

        dataset = load_project(project / "params.yaml").scope("digits")
        yield project, server, pd.read_parquet(dataset.layout.split("test"))[dataset.features]
    finally:
        server.stop()


def test_pixel_rows_get_the_networks_labels_from_the_pinned_version(digits_server):
    project, server, test = digits_server
    from cleargate.serving.loading import load_served

    os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{project / 'mlflow.db'}"
    rows = test.head(16)
    expected = np.asarray(load_served(f"models:/{NAME}/1")[0].predict(rows)).tolist()
    answer = requests.post(f"{server.uri}/invocations", json={"instances": rows.to_numpy().tolist()}, timeout=30)
    assert answer.status_code == 200 and answer.json()["predictions"] == expected, answer.text
    state = requests.get(f"{server.uri}/version", timeout=10).json()
    assert state["version"] == "1" and state["alias"] is None and state["shadow"]["alias"] == "challenger"


@pytest.mark.parametrize(("value", "check"), [(300, "values"), (2.5, "model"), (None, "values")])
def test_a_pixel_out_of_range_or_of_another_type_is_refused_by_name(digits_server, value, check):
    _, server, test = digits_server
    row = test.iloc[0].tolist()
    row[5] = value
    answer = requests.post(f"{server.uri}/invocations", json={"dataframe_split": {"columns": test.columns.tolist(),
                                                                                  "data": [row]}}, timeout=30)
    body = answer.json()
    assert answer.status_code == 422 and body["check"] == check and body["field"] == test.columns[5], body
    assert json.dumps(body).count("Traceback") == 0
