"""The registry and the promotion lock against the stack's MLflow server on PostgreSQL (where a registered-model
tag is varchar(5000), and where several processes really race)."""

from __future__ import annotations

import itertools
import subprocess
import sys
import time
from pathlib import Path

import mlflow
import pytest
from mlflow.tracking import MlflowClient
from typer.testing import CliRunner

from cleargate.cli import app
from cleargate.records import Check, GateReport
from cleargate.release.promotion import register_judged
from cleargate.tracking import registry
from tests.dataset_inputs import log_at_once, split
from tests.projects import ROOT, tiny_params, write_params

PASSED = GateReport(model="m", checks=(Check(name="accuracy", threshold=0.5, value=0.9, passed=True),))


@pytest.fixture(scope="module")
def logged_model(stack) -> str:
    """A real logged model on the server: every version below is registered from it, as the pipeline does."""
    from sklearn.dummy import DummyClassifier

    mlflow.set_tracking_uri(stack.mlflow_uri)
    mlflow.set_experiment("registry-tests")
    with mlflow.start_run():
        info = mlflow.sklearn.log_model(DummyClassifier().fit([[0], [1]], [0, 1]), name="model",
                                        pip_requirements=["scikit-learn"])
    return info.model_uri


@pytest.mark.slow
def test_a_hundred_promotions_and_rollbacks_keep_every_move(stack, logged_model, tmp_path: Path, capsys):
    """67 promotions, each second one rolled back: 100 champion moves, each a record of its own."""
    name = "pg-history-classifier"
    client = MlflowClient(stack.mlflow_uri, stack.mlflow_uri)
    expected: list[str] = []
    start = time.monotonic()
    for i in range(67):
        moved = register_judged(client, name, logged_model, None, {"model": "m"}, lambda champion: PASSED, f"d{i}")
        assert moved.moved, moved.reason
        expected.append(moved.version)
        if i % 2:  # a long reason each time: the old single history tag passed 5,000 characters within a dozen
            expected.append(registry.rollback(client, name, reason="operator note " * 100))
    seconds = time.monotonic() - start
    events = registry.history(client, name)
    assert [e["version"] for e in events] == expected and len(events) == 100, "every move is in the history"
    assert events[0]["previous"] is None
    assert all(after["previous"] == before["version"] for before, after in itertools.pairwise(events)), "chained"
    assert registry.alias_version(client, name, "champion") == expected[-1]
    tags = client.get_registered_model(name).tags
    assert registry.LEGACY_HISTORY_TAG not in tags and max(len(v) for v in tags.values()) < 5000

    params = tiny_params("breast_cancer", digits=False)
    params["datasets"]["breast_cancer"]["registry"]["model_name"] = name
    path = write_params(tmp_path / "params.yaml", params)
    status = CliRunner().invoke(app, ["status", name, "--params", str(path)], env=stack.client_env)
    assert status.exit_code == 0, status.output
    assert f"champion=v{expected[-1]}" in status.output and status.output.count(" rollback ") == 33
    with capsys.disabled():
        print(f"\n[figure] 67 promotions + 33 rollbacks on the PostgreSQL-backed MLflow server: {seconds:.1f} s")


def _promoters(stack, logged_model: str, name: str, barrier: Path, rounds: int) -> list[subprocess.Popen]:
    return [subprocess.Popen([sys.executable, "-m", "tests.integration.promoter", stack.mlflow_uri, name,
                              f"rounds:{rounds}:{i}:{barrier}", "0.1", logged_model], cwd=ROOT,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for i in range(4)]


@pytest.mark.slow
def test_four_processes_promoting_at_once_for_twenty_rounds(stack, logged_model, tmp_path: Path, capsys):
    """Each round all four promote the same new model: exactly one moves `champion`, three find it identical."""
    name = "pg-race-classifier"
    client = MlflowClient(stack.mlflow_uri, stack.mlflow_uri)
    base = register_judged(client, name, logged_model, None, {}, lambda champion: PASSED, "base")
    start = time.monotonic()
    procs = _promoters(stack, logged_model, name, tmp_path, 20)
    outputs = [p.communicate(timeout=900) for p in procs]
    seconds = time.monotonic() - start
    assert all(p.returncode == 0 for p in procs), [o[1][-2000:] for o in outputs]
    lines = [line.split(" ", 4) for out, _ in outputs for line in out.splitlines() if line.startswith("ROUND")]
    assert len(lines) == 80
    movers: dict[int, list[str]] = {}
    for _, r, version, moved, reason in lines:
        if moved == "moved=True":
            movers.setdefault(int(r), []).append(version.removeprefix("v"))
        else:
            assert reason.startswith("identical to champion"), reason
    assert sorted(movers) == list(range(20)) and all(len(v) == 1 for v in movers.values()), movers
    events = registry.history(client, name)
    assert [e["version"] for e in events] == [base.version] + [movers[r][0] for r in range(20)]
    assert all(after["previous"] == before["version"] for before, after in itertools.pairwise(events))
    assert registry.alias_version(client, name, "champion") == movers[19][0]
    assert not client.search_registered_models(f"name LIKE '{name}.promotion-lock.%'"), "the registry: models only"
    held = [e.name for e in client.search_experiments(filter_string=f"name LIKE '{name}.promotion-lock.%'")]
    assert held == [], f"every lock released: {held}"
    with capsys.disabled():
        print(f"\n[figure] 4 processes x 20 rounds of promotion on PostgreSQL: {seconds:.1f} s "
              f"(versions registered: {len(lines) + 1}, champion moves: {len(events)})")


@pytest.mark.slow
def test_evaluations_logging_the_same_split_at_once_on_postgresql_all_link_to_one_dataset(stack):
    """The server answers the second insert of a dataset row with PostgreSQL's duplicate-key message (a 400, which
    MLflow's client does not retry); the evaluation's own retry links the run to the row that won."""
    client = MlflowClient(stack.mlflow_uri, stack.mlflow_uri)
    log_at_once(client, rounds=10, evaluations=4, dataset=split("pg-demo-test"), prefix="pg-dataset-race")
