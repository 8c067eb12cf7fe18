"""End to end on the team stack (PostgreSQL, MLflow server, Prefect server, a process worker), on loopback.

In order, on the stack and project of tests/ops (trained on the embedded default, then pointed at this fresh stack):
the stack's own report; the training deployment run twice at once by the worker (one after the other): the
first registers the project's champion on the PostgreSQL-backed MLflow server, told once; monitoring (a clean
batch scored, a mislabelled one degraded, a drifted one refused and told, one retraining started; one MLflow run
of the champion with a step per batch); both UIs in a real browser. `test_stack_events.py` goes on with every
notification, `test_stack_faults.py` with the failures; the package's fixture then stops
the stack and checks that nothing is left running.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import time
from pathlib import Path

import mlflow
import pandas as pd
import psutil
import pytest
from mlflow.tracking import MlflowClient

from infra.stack.state import load_state
from tests.browser import rendered_text
from tests.ops.conftest import DATASET, MODEL
from tests.ops.helpers import (
    EXPERIMENT,
    drifted,
    drop_batch,
    inbox,
    mlflow_client,
    prefect_api,
    reports,
    run_deployment,
    split_of,
    wait_final,
)
from tests.projects import run

pytestmark = pytest.mark.slow


def listening(pids: list[int]) -> set[str]:
    found = set()
    for pid in pids:
        for process in [psutil.Process(pid), *psutil.Process(pid).children(recursive=True)]:
            found |= {c.laddr.ip for c in process.net_connections("tcp") if c.status == psutil.CONN_LISTEN}
    return found


def test_stack_up_starts_its_services_on_loopback_and_registers_both_deployments(stack, capsys):
    out = stack.up_output
    for service in ("postgres  started", "mlflow    started", "prefect   started", "relay     started",
                    "worker    started", "webhook   created", "notify    registered", f"serve-{MODEL} started"):
        assert service in out, out
    nightly, hourly = stack.cron("pipeline"), stack.cron("monitor")
    assert f"cleargate-pipeline/nightly ({nightly}); cleargate-monitor/hourly ({hourly}) -> pool 'cleargate'" in out
    assert f"-> {stack.receiver.uri}/hook" in out and "late" in out and "champion_moved" in out, out
    assert f"MLflow UI:  {stack.mlflow_uri}" in out and "Prefect UI: http://127.0.0.1:" in out
    env_file = stack.dir / "env"
    assert stat.S_IMODE(env_file.stat().st_mode) == 0o600
    assert {"MLFLOW_TRACKING_URI", "PREFECT_API_URL", "CLEARGATE_WEBHOOK_SECRET"} <= set(stack.client_env)
    state = load_state(stack.dir / "state.json")
    pg_pid = int((stack.dir / "postgres" / "data" / "postmaster.pid").read_text().split()[0])
    assert listening([pg_pid, *(r.pid for r in state.values())]) == {"127.0.0.1"}, "everything on loopback"

    from prefect.client.orchestration import get_client

    with prefect_api(stack), get_client(sync_client=True) as client:
        pipeline = client.read_deployment_by_name("cleargate-pipeline/nightly")
        monitor = client.read_deployment_by_name("cleargate-monitor/hourly")
    assert [s.schedule.cron for s in pipeline.schedules] == [nightly]
    assert [s.schedule.cron for s in monitor.schedules] == [hourly]
    assert pipeline.work_pool_name == monitor.work_pool_name == "cleargate"
    assert pipeline.parameters == {"datasets": None, "rerun": []}
    assert pipeline.global_concurrency_limit.limit == 1, "Prefect's own limit: one pipeline run at a time"
    assert pipeline.concurrency_options.collision_strategy == "ENQUEUE", "a second pipeline run waits"
    assert monitor.concurrency_options.collision_strategy == "CANCEL_NEW", "a second monitoring run is skipped"
    status = stack.stack("status")
    assert status.stdout.count("running") >= 5 and f"cron {nightly}" in status.stdout, status.stdout
    with capsys.disabled():
        print(f"\n[figure] stack up (fresh PostgreSQL cluster, migrations, deployments, worker): "
              f"{stack.up_seconds:.1f} s")


def test_the_training_deployment_runs_through_the_worker_and_registers_on_postgres(stack, capsys):
    """Two runs asked for at once: the worker runs both, one after the other (the deployment's limit). The project
    was trained on the embedded store: DVC finds every stage up to date, and the first run registers its champion
    on the stack all the same (the stack's registry does not hold it), which is told exactly once."""
    from prefect.deployments import run_deployment as start_run

    registry = MlflowClient(stack.mlflow_uri, stack.mlflow_uri)
    assert registry.search_registered_models(f"name = '{MODEL}'") == [], "the stack has never seen the project's model"
    since, start = time.time(), time.monotonic()
    with prefect_api(stack):
        asked = [start_run("cleargate-pipeline/nightly", parameters={"datasets": [DATASET]}, timeout=0,
                           as_subflow=False) for _ in range(2)]
    first, second = sorted((wait_final(stack, str(r.id)) for r in asked), key=lambda r: r.start_time)
    seconds = time.monotonic() - start
    for flow_run in (first, second):
        assert flow_run.state.is_completed(), flow_run.state.message
        assert flow_run.work_pool_name == "cleargate" and flow_run.infrastructure_pid, "run by the process worker"
    assert second.start_time >= first.end_time, "two pipeline runs overlapped"
    flow_run = first
    client = mlflow_client(stack)
    version = client.get_model_version_by_alias(MODEL, "champion")
    tags = version.tags
    assert tags["gate.passed"] == "true" and tags["prefect.flow_run_id"] == str(flow_run.id)
    assert len(tags["lineage.raw_data_sha256"]) == 64 and len(tags["lineage.model_sha256"]) == 64
    assert {"lineage.git_commit", "lineage.params_sha256", "lineage.dvc_lock_sha256"} <= set(tags)
    experiment = client.get_experiment_by_name(EXPERIMENT)
    assert experiment.artifact_location.startswith("mlflow-artifacts:"), "artifacts served by the server"
    profile = mlflow.artifacts.download_artifacts(run_id=version.run_id, artifact_path="reference_profile.json")
    assert json.loads(Path(profile).read_text()), "downloaded through the server"
    assert list((stack.dir / "mlartifacts").rglob("reference_profile.json")), "stored under .stack/"
    model = mlflow.pyfunc.load_model(f"models:/{MODEL}@champion")
    raw = pd.read_parquet(stack.project / "data" / "raw" / f"{DATASET}.parquet")
    assert len(model.predict(raw.drop(columns="diagnosis").head(20))) == 20
    assert "up to date" in run(["dvc", "status"], stack.project).stdout, "same DVC bookkeeping as make run"
    stack.notified(since, 1, 30)
    time.sleep(5)
    told = stack.notified(since)
    assert [(p["json"]["event"], p["json"]["source"], p["json"]["action"]) for p in told] == [
        ("champion_moved", "registry", "gate")], told
    assert told[0]["json"]["links"]["run"].endswith(f"/runs/flow-run/{flow_run.id}"), told[0]["json"]
    with capsys.disabled():
        print(f"\n[figure] two runs of cleargate-pipeline/nightly (breast_cancer) through the worker, one after "
              f"the other: {seconds:.1f} s (the first registers the champion trained on the embedded store, the "
              "second finds everything up to date)")


def test_the_stacks_model_server_follows_the_champion_the_worker_registered(stack):
    """Started with the stack before any version existed (503 on /health), it serves the champion once the
    training deployment registered one, within its poll."""
    import requests

    from cleargate.params import load_project

    champion = mlflow_client(stack).get_model_version_by_alias(MODEL, "champion").version
    deadline = time.monotonic() + 60
    while requests.get(f"{stack.model_server}/health", timeout=10).status_code != 200:
        assert time.monotonic() < deadline, requests.get(f"{stack.model_server}/version", timeout=10).text
        time.sleep(0.5)
    assert requests.get(f"{stack.model_server}/version", timeout=10).json()["version"] == champion
    features = load_project(stack.project / "params.yaml").scope(DATASET).features
    rows = split_of(stack, DATASET)[features].head(5)
    answer = requests.post(f"{stack.model_server}/invocations", json={"dataframe_split": rows.to_dict(orient="split")},
                           timeout=30)
    assert answer.status_code == 200 and len(answer.json()["predictions"]) == 5, answer.text
    assert answer.headers["X-Model-Version"] == champion


def test_monitoring_scores_a_clean_batch_and_a_drifted_one_starts_a_retraining(stack):
    test = split_of(stack, DATASET)
    drop_batch(stack, DATASET, "clean.parquet", test.head(100))             # with labels
    drop_batch(stack, DATASET, "drifted.parquet", drifted(test.head(100)))  # no labels, shifted population
    wrong = test.head(100).assign(label=1 - test.head(100)["label"])         # labels that came back different
    drop_batch(stack, DATASET, "mislabelled.parquet", wrong)
    since = time.time()
    flow_run = run_deployment(stack, "cleargate-monitor/hourly", {"datasets": [DATASET]})
    assert flow_run.state.is_completed(), flow_run.state.message
    done, refused = reports(stack, "done"), reports(stack, "refused")
    assert done["clean.parquet"]["outcome"] == "scored" and not done["clean.parquet"]["degraded"]
    assert set(done["clean.parquet"]["live"]) == {"accuracy", "balanced_accuracy", "macro_f1"}
    assert done["clean.parquet"]["retrain_run"] is None
    worse = done["mislabelled.parquet"]
    assert worse["degraded"] == ["accuracy", "balanced_accuracy", "macro_f1"] and worse["live"]["accuracy"] < 0.2
    assert worse["retrain_reasons"] == ["degradation"]
    drift = refused["drifted.parquet"]
    assert drift["outcome"] == "refused: drift" and drift["retrain_reasons"] == ["drift"] and drift["retrain_run"]
    assert worse["retrain_run"] == drift["retrain_run"], "one training run for the pass, recorded in both"
    assert not list(inbox(stack, DATASET).glob("*.parquet")) and not list(inbox(stack, DATASET, "processing").iterdir())

    retrain = wait_final(stack, drift["retrain_run"])
    assert retrain.state.is_completed(), retrain.state.message
    assert retrain.parameters["datasets"] == [DATASET] and "triggered-by:cleargate-monitor" in retrain.tags
    assert retrain.work_pool_name == "cleargate"

    client = mlflow_client(stack)
    experiment = client.get_experiment_by_name(f"{EXPERIMENT}-monitoring")
    (champion_run,) = client.search_runs([experiment.experiment_id])   # one run: the champion's version
    steps = {int(v): k.removeprefix("cleargate.batch.").split("-", 1)[1] for k, v in champion_run.data.tags.items()
             if k.startswith("cleargate.batch.")}
    assert sorted(steps) == [0, 1, 2] and set(steps.values()) == {"clean.parquet", "drifted.parquet",
                                                                  "mislabelled.parquet"}
    history = {m: {p.step: p.value for p in client.get_metric_history(champion_run.info.run_id, m)}
               for m in ("refused", "degraded", "psi_max", "drifted_fraction")}
    by_batch = {name: {m: values.get(step) for m, values in history.items()} for step, name in steps.items()}
    assert by_batch["drifted.parquet"]["refused"] == 1.0 and by_batch["mislabelled.parquet"]["degraded"] == 1.0
    assert by_batch["drifted.parquet"]["psi_max"] > 0.25 > by_batch["clean.parquet"]["psi_max"]
    retrains = {v for k, v in champion_run.data.tags.items() if k.startswith("cleargate.retrain.")}
    assert retrains == {drift["retrain_run"]}
    stack.notified(since, 1, 30)
    told = stack.notified(since)   # the retraining has finished too, and told nothing
    assert [(p["json"]["event"], p["json"]["batch"]) for p in told] == [("drift", "drifted.parquet")], told
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    with prefect_api(stack), get_client(sync_client=True) as prefect:
        artifacts = prefect.read_artifacts(artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[
            "monitoring-summary"])))
    assert any("drifted.parquet" in a.data and "refused: drift" in a.data for a in artifacts)


def worded(cron: str) -> str:
    """How Prefect's UI words a daily cron `M H * * *`: At 02:00 AM every day."""
    minute, hour = (int(field) for field in cron.split()[:2])
    return f"At {(hour % 12) or 12:02d}:{minute:02d} {'AM' if hour < 12 else 'PM'} every day"


def test_both_uis_in_a_headless_browser(stack):
    if not shutil.which("chromium") and not os.environ.get("CLEARGATE_REQUIRE_BROWSER"):
        pytest.skip("no chromium here (`apt-get install chromium`); CI installs it and requires it (.ci/run)")
    prefect_ui = stack.prefect_api.removesuffix("/api")
    page = rendered_text(f"{prefect_ui}/deployments")
    for text in ("cleargate-pipeline", "nightly", "cleargate-monitor", "hourly"):
        assert text in page, f"Prefect UI: no '{text}' in {page[:2000]}"
    shown = worded(stack.cron("pipeline"))   # both deployments: the same daily cron here (tests/ops/conftest.py)
    assert stack.cron("monitor") == stack.cron("pipeline") and page.count(shown) >= 2, f"no {shown!r}: {page[:2000]}"
    client = mlflow_client(stack)
    champion = client.get_model_version_by_alias(MODEL, "champion")
    page = rendered_text(f"{stack.mlflow_uri}/#/models/{MODEL}")
    assert MODEL in page and "@ champion" in page and f"Version {champion.version}" in page, page[:3000]
    run_page = rendered_text(f"{stack.mlflow_uri}/#/experiments/"
                             f"{client.get_run(champion.run_id).info.experiment_id}/runs/{champion.run_id}")
    for metric in ("test_pr_auc", "test_balanced_accuracy", "test_positive_recall"):
        assert metric in run_page, f"MLflow UI: run page lacks {metric}: {run_page[:3000]}"
