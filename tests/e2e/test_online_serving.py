"""`cleargate serve-model` as a real process on a copy of the golden breast-cancer project, with a bearer token and a
webhook secret: MLflow's request shapes, 500+ malformed requests, the alias followed under 30 s of load while
`cleargate promote` / `rollback` move it, a broken version refused, the challenger in the shadow, an MLflow-signed
registry webhook, and labels fed back reaching the monitoring flow as live metrics. One server for the module."""

from __future__ import annotations

import http.client
import json
import os
import secrets
import shutil
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml
from mlflow.tracking import MlflowClient

from tests.projects import CLEARGATE, ROOT, run
from tests.servers import ModelServer

pytestmark = pytest.mark.slow
NAME = "breast-cancer-classifier"
TOKEN = secrets.token_urlsafe(16)
SECRET = secrets.token_urlsafe(16)


class Served:
    """The running server and what the tests need around it."""

    def __init__(self, project: Path, server: ModelServer, client: MlflowClient, test: pd.DataFrame,
                 features: list[str]) -> None:
        self.project, self.server, self.client, self.test, self.features = project, server, client, test, features
        self.connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)  # one keep-alive

    def call(self, method: str, path: str, body: bytes | None = None, token: str | None = TOKEN,
             headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
        sent = {"Content-Type": "application/json", **({"Authorization": f"Bearer {token}"} if token else {}),
                **(headers or {})}
        try:
            self.connection.request(method, path, body, sent)
            answer = self.connection.getresponse()
        except (http.client.HTTPException, OSError):  # a connection the server closed: one more, on a new one
            self.connection.close()
            self.connection.request(method, path, body, sent)
            answer = self.connection.getresponse()
        return answer.status, {k.lower(): v for k, v in answer.getheaders()}, answer.read()

    def version(self) -> dict[str, Any]:
        status, _, body = self.call("GET", "/version")
        assert status == 200, body
        return json.loads(body)

    def wait_for(self, check, what: str, timeout: float = 60) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            state = self.version()
            if check(state):
                return state
            time.sleep(0.2)
        raise AssertionError(f"{what}: not within {timeout} s; /version says {state}; log: {self.server.log()[-2000:]}")

    def cli(self, *args: str) -> str:
        done = run([CLEARGATE, *args], self.project, check=False)
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout


def on_store(served_or_project: Served | Path) -> None:
    """MLflow's registry resolves a `models:/m-...` source with the global tracking URI: the project's store."""
    import mlflow

    project = served_or_project.project if isinstance(served_or_project, Served) else served_or_project
    mlflow.set_tracking_uri(f"sqlite:///{project / 'mlflow.db'}")


def copy_version(client: MlflowClient, version: str, challenger: bool = False) -> str:
    """A new version of the same logged model (its gates' tags too): a real second version to move aliases to."""
    source = client.get_model_version(NAME, version)
    model_id = source.source.removeprefix("models:/") if source.source.startswith("models:/m-") else None
    new = client.create_model_version(NAME, source.source, run_id=source.run_id, tags=source.tags, model_id=model_id)
    if challenger:
        client.set_registered_model_alias(NAME, "challenger", new.version)
    return str(new.version)


@pytest.fixture(scope="module")
def served(golden_records, tmp_path_factory: pytest.TempPathFactory):
    project = golden_records.clone(tmp_path_factory.mktemp("online"))
    params = yaml.safe_load((project / "params.yaml").read_text())
    params["serving"].update(poll_s=0.5, batch_max_s=2, min_batch_rows=1, shadow="challenger")
    params["drift"]["on_drift"] = "flag"  # a small batch of live rows is scored even when its PSI is noisy
    (project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    uri = f"sqlite:///{project / 'mlflow.db'}"
    client = MlflowClient(uri, uri)
    on_store(project)
    copy_version(client, "1", challenger=True)   # v2: the same model, the challenger the shadow scores
    server = ModelServer(project / "server", project, f"{NAME}@champion",
                         {"CLEARGATE_SERVING_TOKEN": TOKEN, "CLEARGATE_WEBHOOK_SECRET": SECRET}).launch()
    try:
        server.wait(timeout=180)
        from cleargate.params import load_project

        dataset = load_project(project / "params.yaml").scope("breast_cancer")
        test = pd.read_parquet(dataset.layout.split("test"))
        yield Served(project, server, client, test, dataset.features)
    finally:
        server.stop()


def invocation(rows: pd.DataFrame, shape: str = "dataframe_split") -> bytes:
    if shape == "dataframe_split":
        return json.dumps({shape: rows.to_dict(orient="split")}).encode()
    if shape == "dataframe_records":
        return json.dumps({shape: rows.to_dict(orient="records")}).encode()
    if shape == "instances":
        return json.dumps({shape: rows.to_numpy().tolist()}).encode()
    return json.dumps({shape: rows.to_dict(orient="list")}).encode()


def test_mlflows_request_shapes_get_the_champions_labels(served: Served):
    from mlflow.deployments import PredictionsResponse
    from mlflow.utils.proto_json_utils import dump_input_data

    from cleargate.serving.loading import load_served

    rows = served.test[served.features].head(8)
    on_store(served)
    expected = np.asarray(load_served(f"models:/{NAME}@champion")[0].predict(rows)).tolist()
    status, headers, body = served.call("POST", "/invocations", dump_input_data(rows).encode())  # MLflow's client
    assert status == 200, body
    assert PredictionsResponse.from_json(body.decode()).get_predictions(predictions_format="ndarray").tolist() \
        == expected
    assert headers["x-model-version"] == "1" and len(headers["x-request-id"]) == 32
    for shape in ("dataframe_split", "dataframe_records", "instances", "inputs"):
        status, _, body = served.call("POST", "/invocations", invocation(rows, shape))
        assert status == 200 and json.loads(body)["predictions"] == expected, (shape, body)


def test_the_token_guards_everything_but_health(served: Served):
    body = invocation(served.test[served.features].head(1))
    for method, path, payload in (("POST", "/invocations", body), ("GET", "/version", None), ("GET", "/metrics", None)):
        for token in (None, "wrong"):
            status, headers, answer = served.call(method, path, payload, token=token)
            assert status == 401 and headers["www-authenticate"] == "Bearer", (path, token, answer)
            assert json.loads(answer)["check"] == "auth"
    assert served.call("GET", "/health", token=None)[0] == 200
    state = served.version()
    assert state["name"] == NAME and state["alias"] == "champion" and state["version"] == "1"
    assert len(state["lineage_commit"]) >= 40 and state["run_id"], state
    status, headers, text = served.call("GET", "/metrics")
    assert status == 200 and headers["content-type"].startswith("text/plain")
    for line in ('cleargate_model_version{alias="champion",model="breast-cancer-classifier"} 1.0',
                 "cleargate_request_seconds_bucket", 'cleargate_requests_total{code="200",endpoint="invocations"}'):
        assert line in text.decode(), text.decode()[:2000]


def malformed(rng: np.random.Generator, row: dict[str, Any], n: int) -> list[tuple[str, bytes, dict[str, str]]]:
    """`n` requests that must all be refused: wrong JSON, shapes, columns, types, values, sizes."""
    columns = list(row)

    def records(change: dict[str, Any], drop: str | None = None) -> bytes:
        one = {k: v for k, v in {**row, **change}.items() if k != drop}
        return json.dumps({"dataframe_records": [one]}, allow_nan=True).encode()

    makers = [
        lambda: ("json", rng.bytes(int(rng.integers(1, 200))), {}),
        lambda: ("json", b'{"dataframe_split": ' + bytes(rng.choice(list(b'{[:,"0'), 8).tolist()), {}),
        lambda: ("shape", [b"[]", b"1", b'"x"', b"null", b"{}", b'{"columns": []}'][int(rng.integers(6))], {}),
        lambda: ("shape", json.dumps({"dataframe_split": {"columns": columns, "data": [list(row.values())[:-1]]}})
                 .encode(), {}),
        lambda: ("shape", json.dumps({"instances": [[1.0] * int(rng.integers(1, 29))]}).encode(), {}),
        lambda: ("shape", json.dumps({"dataframe_records": [row], "instances": [row]}).encode(), {}),
        lambda: ("columns", records({}, drop=str(rng.choice(columns))), {}),
        lambda: ("columns", records({f"extra_{rng.integers(100)}": 1.0}), {}),
        lambda: ("identifiers", records({"patient_name": "Ada"}), {}),
        lambda: ("dtypes", records({str(rng.choice(columns)): rng.choice(["big", "", "1.0"]).item()}), {}),
        lambda: ("dtypes", records({str(rng.choice(columns)): bool(rng.integers(2))}), {}),
        lambda: ("dtypes", records({str(rng.choice(columns)): [1.0, 2.0]}), {}),
        lambda: ("values", records({str(rng.choice(columns)): -float(rng.integers(1, 10**6))}), {}),
        lambda: ("values", records({str(rng.choice(columns)): None}), {}),
        lambda: ("values", records({str(rng.choice(columns)): float("nan")}), {}),
        lambda: ("model", records({str(rng.choice(columns)): float("inf")}), {}),
        lambda: ("rows", json.dumps({"instances": [list(row.values())] * 1001}).encode(), {}),
        lambda: ("body", b" " * ((1 << 20) + 100), {}),
        lambda: ("content_type", records({}), {"Content-Type": "text/csv"}),
        lambda: ("request_id", records({}), {"X-Request-Id": "bad id with spaces"}),
    ]
    return [makers[int(rng.integers(len(makers)))]() for _ in range(n)]


def test_500_malformed_requests_get_4xx_and_the_server_keeps_answering(served: Served):
    row = served.test[served.features].iloc[0].to_dict()
    cases = malformed(np.random.default_rng(32), row, 520)
    answers = []
    for what, body, headers in cases:
        status, _, answer = served.call("POST", "/invocations", body, headers=headers)
        answers.append((what, status, answer))
    wrong = [(w, s, a[:300]) for w, s, a in answers if not 400 <= s < 500]
    assert not wrong, wrong[:5]
    assert all(b"Traceback" not in a and "message" in json.loads(a) for _, _, a in answers)
    said = {}
    for what, _, answer in answers:
        said.setdefault(what, set()).add(json.loads(answer)["check"])
    assert len(said) == 11, "every kind of mistake was sent"
    random_bytes = said.pop("json")
    assert random_bytes <= {"json", "shape"} and all(checks == {what} for what, checks in said.items()), said
    status, _, body = served.call("POST", "/invocations", invocation(served.test[served.features].head(1)))
    assert status == 200 and served.call("GET", "/health", token=None)[0] == 200, body
    refused = json.loads(served.call("POST", "/invocations", json.dumps({"dataframe_records": [
        {**row, "mean_radius": -1.0}]}).encode())[2])
    assert refused["check"] == "values" and refused["field"] == "mean_radius" and refused["rows"] == [0], refused


def test_the_shadow_scores_the_challenger_and_logs_the_agreement(served: Served):
    state = served.wait_for(lambda s: (s["shadow"] or {}).get("rows_compared", 0) > 0, "shadow rows compared")
    assert state["shadow"]["alias"] == "challenger" and state["shadow"]["version"] == "2"
    assert state["shadow"]["agreement"] == 1.0, "the challenger is the champion's model: every label agrees"
    text = served.call("GET", "/metrics")[2].decode()
    assert 'cleargate_shadow_rows_total{outcome="agree"}' in text and \
        'cleargate_shadow_rows_total{outcome="disagree"} 0.0' in text


def test_labels_fed_back_reach_the_monitoring_flow_as_live_metrics(served: Served, prefect_api: str):
    rows = served.test.head(60)
    labels = {}
    for i, (_, row) in enumerate(rows.iterrows()):
        request_id = f"visit-{i}"
        status, headers, body = served.call("POST", "/invocations", invocation(row[served.features].to_frame().T
                                                                               .astype("float64")),
                                            headers={"X-Request-Id": request_id})
        assert status == 200 and headers["x-request-id"] == request_id, body
        labels[request_id] = int(row["label"])
    feedback = [{"request_id": rid, "label": ["benign", "malignant"][label]} for rid, label in labels.items()]
    status, _, body = served.call("POST", "/feedback", json.dumps(feedback).encode())
    assert status == 200 and json.loads(body)["accepted_rows"] == 60, body
    assert served.call("POST", "/feedback", json.dumps(feedback[0]).encode())[0] == 409, "labels once per request"
    assert served.call("POST", "/feedback", json.dumps({"request_id": "nope", "label": 0}).encode())[0] == 404
    inbox = served.project / "data" / "inbox" / "breast_cancer"
    deadline = time.monotonic() + 30
    while not list(inbox.glob("feedback-*.parquet")) and time.monotonic() < deadline:
        time.sleep(0.2)
    batch = pd.read_parquet(next(inbox.glob("feedback-*.parquet")))
    assert list(batch.columns) == [*served.features, "label"] and len(batch) == 60
    served_log = pd.concat(pd.read_parquet(p) for p in (served.project / "data" / "served" / "breast_cancer")
                           .glob("live-*.parquet"))
    assert set(labels) <= set(served_log["request_id"]) and (served_log["version"] == "1").all()
    done = run([CLEARGATE, "monitor", "--dataset", "breast_cancer", "--no-retrain"], served.project, check=False,
               env={**os.environ, "PREFECT_API_URL": prefect_api}, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    reports = [json.loads(p.read_text()) for p in (inbox / "done").glob("*feedback-*.report.json")]
    assert reports and reports[0]["rows"] == 60 and set(reports[0]["live"]) == {"accuracy", "balanced_accuracy",
                                                                                "macro_f1"}, reports
    assert reports[0]["live"]["accuracy"] > 0.8, reports[0]
    assert list((inbox / "done").glob("*live-*.report.json")), "the unlabelled traffic was monitored too"


def locust(served: Served, seconds: int, users: int, folder: Path) -> Any:
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from online_serving import drive

    return drive(f"http://127.0.0.1:{served.server.port}", invocation(served.test[served.features].head(1)),
                 users, seconds, folder, token=TOKEN, background=True)


def test_promote_and_rollback_under_30_s_of_load_swap_versions_with_no_failed_request(served: Served,
                                                                                        tmp_path: Path):
    load = locust(served, 30, 4, tmp_path)
    time.sleep(3)
    served.cli("promote", f"{NAME}/2", "--reason", "online swap under load")
    served.wait_for(lambda s: s["version"] == "2", "champion v2 served")
    time.sleep(2)
    served.cli("rollback", NAME, "--reason", "back under load")
    served.wait_for(lambda s: s["version"] == "1", "champion v1 served again")
    result = load.result(timeout=120)
    assert result["seconds"] >= 25 and result["requests"] > 100, result
    assert result["failures"] == 0 and set(result["status"]) == {"200"}, result
    assert set(result["versions"]) == {"1", "2"}, result
    assert "breast-cancer-classifier@champion: v1 -> v2" in served.server.log()


def test_an_mlflow_signed_webhook_re_resolves_at_once_and_a_forged_one_is_refused(served: Served, monkeypatch):
    from types import SimpleNamespace

    from mlflow.entities.webhook import WebhookEvent
    from mlflow.webhooks import delivery

    monkeypatch.setenv("MLFLOW_WEBHOOK_ALLOWED_SCHEMES", "http,https")
    monkeypatch.setenv("MLFLOW_WEBHOOK_ALLOW_PRIVATE_IPS", "true")
    url = f"http://127.0.0.1:{served.server.port}/webhooks/mlflow"
    event = WebhookEvent("model_version_alias", "created")
    before = served.version()["resolutions"]["webhook"]
    session = delivery._create_webhook_session()
    sent = delivery._send_webhook_request(SimpleNamespace(url=url, secret=SECRET, workspace=None),
                                          {"name": NAME, "alias": "champion", "version": "1"}, event, session)
    assert sent.status_code == 200 and sent.json()["status"] == "re-resolving", sent.text
    served.wait_for(lambda s: s["resolutions"]["webhook"] > before, "a re-resolution on the webhook", timeout=10)
    forged = delivery._send_webhook_request(SimpleNamespace(url=url, secret="not-the-secret", workspace=None),
                                            {"name": NAME, "alias": "champion", "version": "1"}, event, session)
    assert forged.status_code == 401 and forged.json()["check"] == "signature"
    other = delivery._send_webhook_request(SimpleNamespace(url=url, secret=SECRET, workspace=None),
                                           {"name": "another-model", "alias": "champion", "version": "7"}, event,
                                           session)
    assert other.json()["status"] == "ignored"


def broken_bundle_version(served: Served, folder: Path) -> str:
    """A version whose weights are damaged: it cannot load."""
    import mlflow

    from cleargate.params import load_project
    from cleargate.serving.logged_model import log_model_artifact

    model = served.client.get_run(served.client.get_model_version(NAME, "1").run_id).info.run_name
    bundle = folder / "bundle"
    shutil.copytree(load_project(served.project / "params.yaml").scope("breast_cancer").layout.model(model).dir,
                    bundle)
    weights = next(p for p in bundle.iterdir() if p.suffix in (".skops", ".pt"))
    weights.write_bytes(b"not a model")
    on_store(served)
    with mlflow.start_run(experiment_id=experiment_of(served)):
        uri = log_model_artifact(bundle, served.test[served.features].head(4), "damaged")
    return str(served.client.create_model_version(NAME, uri, model_id=uri.removeprefix("models:/")).version)


def experiment_of(served: Served) -> str:
    """The experiment of the served model's first version: where a test logs a version of its own."""
    return served.client.get_run(served.client.get_model_version(NAME, "1").run_id).info.experiment_id


def failing_model_version(served: Served, folder: Path) -> str:
    """A version that loads, with the right columns, but fails on its own example: it must not serve."""
    import mlflow

    code = folder / "failing.py"
    code.write_text("import mlflow\n\nclass Failing(mlflow.pyfunc.PythonModel):\n"
                    "    def predict(self, context, model_input, params=None):\n"
                    "        raise RuntimeError('broken on purpose')\n\nmlflow.models.set_model(Failing())\n")
    example = served.test[served.features].head(2)
    meta = {"dataset": "breast_cancer", "input_columns": served.features,
            "input_kinds": {c: "f" for c in served.features}}
    on_store(served)
    with mlflow.start_run(experiment_id=experiment_of(served)):  # not the process's last one (a deleted lock's)
        info = mlflow.pyfunc.log_model(name="failing", python_model=str(code), input_example=example, metadata=meta)
    return str(served.client.create_model_version(NAME, info.model_uri, model_id=info.model_id).version)


def test_a_broken_version_is_not_swapped_in_and_the_old_one_keeps_serving(served: Served, tmp_path: Path):
    body = invocation(served.test[served.features].head(1))
    for version in (broken_bundle_version(served, tmp_path), failing_model_version(served, tmp_path)):
        served.cli("promote", f"{NAME}/{version}", "--force", "--reason", "broken on purpose")
        state = served.wait_for(lambda s, v=version: any(r["version"] == v for r in s["refused_swaps"]),
                                f"v{version} refused")
        assert state["version"] == "1", state
        status, headers, _ = served.call("POST", "/invocations", body)
        assert status == 200 and headers["x-model-version"] == "1"
    reasons = [r["reason"] for r in served.version()["refused_swaps"]]
    assert reasons[0].startswith("does not load") and "fails on its own serving example" in reasons[1], reasons
    assert 'cleargate_model_swaps_refused_total{alias="champion"} 2.0' in served.call("GET", "/metrics")[2].decode()
    assert "NOT swapped in" in served.server.log()
