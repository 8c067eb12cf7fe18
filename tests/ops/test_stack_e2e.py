"""End to end on the team stack (PostgreSQL, MLflow server, Prefect server, a process worker), on loopback.

In order, on one stack and one project: the stack's own report; the training deployment run by the worker and
its registered version on the PostgreSQL-backed MLflow server; monitoring (a clean batch scored, a drifted one
refused and a retraining started); a monitoring run killed midway; the MLflow server killed during a pipeline
run; both UIs in a real browser; a restart on the same data with authentication on. The session fixture then
stops the stack and checks that nothing is left running.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import mlflow
import pandas as pd
import psutil
import pytest
from infra.stack.processes import load_state, stop
from mlflow.tracking import MlflowClient

from tests.conftest import run
from tests.ops.conftest import DATASET, MODEL
from tests.ops.helpers import (
    drifted,
    drop_batch,
    inbox,
    prefect_api,
    read_flow_run,
    rendered_text,
    run_deployment,
    split_of,
)

pytestmark = pytest.mark.slow
EXPERIMENT = "cleargate-test-breast_cancer"


def mlflow_client(stack) -> MlflowClient:
    mlflow.set_tracking_uri(stack.mlflow_uri)
    mlflow.set_registry_uri(stack.mlflow_uri)
    return MlflowClient(stack.mlflow_uri, stack.mlflow_uri)


def listening(pids: list[int]) -> set[str]:
    found = set()
    for pid in pids:
        for process in [psutil.Process(pid), *psutil.Process(pid).children(recursive=True)]:
            found |= {c.laddr.ip for c in process.net_connections("tcp") if c.status == psutil.CONN_LISTEN}
    return found


def test_stack_up_starts_four_services_on_loopback_and_registers_both_deployments(stack, capsys):
    out = stack.up_output
    for service in ("postgres  started", "mlflow    started", "prefect   started", "worker    started"):
        assert service in out, out
    assert "cleargate-pipeline/nightly (0 2 * * *); cleargate-monitor/hourly (0 * * * *) -> pool 'cleargate'" in out
    assert f"MLflow UI:  {stack.mlflow_uri}" in out and "Prefect UI: http://127.0.0.1:" in out
    env_file = stack.dir / "env"
    assert stat.S_IMODE(env_file.stat().st_mode) == 0o600
    assert {"MLFLOW_TRACKING_URI", "PREFECT_API_URL"} <= set(stack.client_env)
    state = load_state(stack.dir / "state.json")
    pg_pid = int((stack.dir / "postgres" / "data" / "postmaster.pid").read_text().split()[0])
    assert listening([pg_pid, *(r.pid for r in state.values())]) == {"127.0.0.1"}, "everything on loopback"

    from prefect.client.orchestration import get_client

    with prefect_api(stack), get_client(sync_client=True) as client:
        pipeline = client.read_deployment_by_name("cleargate-pipeline/nightly")
        monitor = client.read_deployment_by_name("cleargate-monitor/hourly")
    assert [s.schedule.cron for s in pipeline.schedules] == ["0 2 * * *"]
    assert [s.schedule.cron for s in monitor.schedules] == ["0 * * * *"]
    assert pipeline.work_pool_name == monitor.work_pool_name == "cleargate"
    assert pipeline.parameters == {"datasets": None, "rerun": []}
    assert pipeline.global_concurrency_limit.limit == 1, "Prefect's own limit: one pipeline run at a time"
    assert pipeline.concurrency_options.collision_strategy == "ENQUEUE", "a second pipeline run waits"
    assert monitor.concurrency_options.collision_strategy == "CANCEL_NEW", "a second monitoring run is skipped"
    status = stack.stack("status")
    assert status.stdout.count("running") >= 4 and "cron 0 2 * * *" in status.stdout, status.stdout
    with capsys.disabled():
        print(f"\n[figure] stack up (fresh PostgreSQL cluster, migrations, deployments, worker): "
              f"{stack.up_seconds:.1f} s")


def wait_final(stack, run_id: str, timeout: float = 900):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        flow_run = read_flow_run(stack, run_id)
        if flow_run.state.is_final():
            return flow_run
        time.sleep(3)
    raise AssertionError(f"flow run {run_id} still {flow_run.state.type} after {timeout:.0f}s")


def test_the_training_deployment_runs_through_the_worker_and_registers_on_postgres(stack, capsys):
    """Two runs asked for at once: the worker runs both, one after the other (the deployment's limit)."""
    from prefect.deployments import run_deployment as start_run

    start = time.monotonic()
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
    with capsys.disabled():
        print(f"\n[figure] two runs of cleargate-pipeline/nightly (breast_cancer) through the worker, one after "
              f"the other: {seconds:.1f} s (the first trains, the second finds everything up to date)")


def reports(stack, folder: str) -> dict[str, dict]:
    return {json.loads(p.read_text())["batch"]: json.loads(p.read_text())
            for p in inbox(stack, DATASET, folder).glob("*.report.json")}


def test_monitoring_scores_a_clean_batch_and_a_drifted_one_starts_a_retraining(stack):
    test = split_of(stack, DATASET)
    drop_batch(stack, DATASET, "clean.parquet", test.head(100))             # with labels
    drop_batch(stack, DATASET, "drifted.parquet", drifted(test.head(100)))  # no labels, shifted population
    wrong = test.head(100).assign(label=1 - test.head(100)["label"])         # labels that came back different
    drop_batch(stack, DATASET, "mislabelled.parquet", wrong)
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
    runs = client.search_runs([experiment.experiment_id])
    outcomes = {r.data.tags["batch"]: r.data.tags["outcome"] for r in runs}
    assert outcomes == {"clean.parquet": "scored", "drifted.parquet": "refused: drift", "mislabelled.parquet": "scored"}
    assert {r.data.tags["retrain_run"] for r in runs} == {"none", drift["retrain_run"]}
    assert {r.data.tags["batch"]: r.data.metrics.get("degraded") for r in runs}["mislabelled.parquet"] == 1.0
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    with prefect_api(stack), get_client(sync_client=True) as prefect:
        artifacts = prefect.read_artifacts(artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[
            "monitoring-summary"])))
    assert any("drifted.parquet" in a.data and "refused: drift" in a.data for a in artifacts)


def locations(stack, names: list[str]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {n: [] for n in names}
    for folder in ("", "processing", "done", "refused"):
        for path in inbox(stack, DATASET, folder).glob("*.parquet") if inbox(stack, DATASET, folder).is_dir() else []:
            for name in names:
                if path.name == name or path.name.endswith(f"-{name}"):
                    found[name].append(folder or "inbox")
    return found


def test_a_monitoring_run_killed_midway_loses_no_batch_and_scores_none_twice(stack):
    test = split_of(stack, DATASET)
    names = [f"batch{i}.parquet" for i in range(4)]
    for i, name in enumerate(names):
        drop_batch(stack, DATASET, name, test.sample(100, random_state=i))
    command = [sys.executable, "flows/monitor.py", "--dataset", DATASET, "--no-retrain"]
    proc = subprocess.Popen(command, cwd=stack.project, env=stack.client_env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    processing = inbox(stack, DATASET, "processing")
    deadline = time.monotonic() + 600
    while not list(processing.glob("*.report.json")) and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)  # the whole flow process group, mid-batch
    proc.wait(timeout=30)
    decided = {p.name: json.loads(p.read_text())["decided_at"] for p in processing.glob("*.report.json")}
    assert decided and len(list(processing.glob("*.parquet"))) > 1, "killed while batches were still claimed"
    assert all(len(where) == 1 for where in locations(stack, names).values()), locations(stack, names)

    again = subprocess.run(command, cwd=stack.project, env=stack.client_env, capture_output=True, text=True,
                           timeout=900)
    assert again.returncode == 0, again.stderr[-3000:]
    where = locations(stack, names)  # scored or refused (small samples may drift): finished, each once
    assert all(w in (["done"], ["refused"]) for w in where.values()), where
    finished = {p.name: json.loads(p.read_text()) for folder in ("done", "refused")
                for p in inbox(stack, DATASET, folder).glob("*batch*.report.json")}
    assert len(finished) == 4
    for name, at in decided.items():
        assert finished[name]["decided_at"] == at, f"{name} was scored again after the kill"
    client = mlflow_client(stack)
    experiment = client.get_experiment_by_name(f"{EXPERIMENT}-monitoring")
    for report in finished.values():
        runs = client.search_runs([experiment.experiment_id], f"tags.`cleargate.batch` = '{report['claimed']}'")
        assert len(runs) == 1 and runs[0].info.status == "FINISHED", report["claimed"]


def test_mlflow_server_killed_during_a_pipeline_run(stack):
    """One line naming the server, exit 2, no half-registered version; once it is back the next run succeeds."""
    client = mlflow_client(stack)
    experiment = client.get_experiment_by_name(EXPERIMENT)
    since = int(time.time() * 1000)
    command = [sys.executable, "flows/pipeline.py", "--dataset", DATASET]
    proc = subprocess.Popen([*command, "--rerun", "promote"], cwd=stack.project, env=stack.client_env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    deadline = time.monotonic() + 600
    while not client.search_runs([experiment.experiment_id], f"attributes.start_time > {since}"):
        assert time.monotonic() < deadline and proc.poll() is None, "promote never started"
        time.sleep(0.2)
    stop(load_state(stack.dir / "state.json")["mlflow"])  # promote@breast_cancer has begun: the server dies
    _, err = proc.communicate(timeout=600)
    assert proc.returncode == 2, err[-3000:]
    last = err.strip().splitlines()[-1]
    assert last.startswith(f"cleargate: run stopped: [{DATASET}] MLflow tracking server {stack.mlflow_uri}: not "
                           "answering during promote@breast_cancer") and "make stack-up" in last, err[-3000:]

    back = stack.stack("up").stdout
    assert "mlflow    started" in back and "prefect   already running" in back, back
    client = mlflow_client(stack)
    versions = client.search_model_versions(f"name='{MODEL}'")
    for version in versions:  # each version complete: verdicts, lineage, and the profile scoring needs
        assert version.tags.get("gate.passed") in ("true", "false") and "lineage.model_sha256" in version.tags
        mlflow.artifacts.download_artifacts(run_id=version.run_id, artifact_path="reference_profile.json")
    champion = client.get_model_version_by_alias(MODEL, "champion")
    assert champion.version in {v.version for v in versions}

    again = subprocess.run([*command, "--rerun", "promote"], cwd=stack.project, env=stack.client_env,
                           capture_output=True, text=True, timeout=900)
    assert again.returncode == 0, again.stderr[-3000:]
    assert f"promote@{DATASET}" in again.stdout.split("stages ran:")[1].splitlines()[0]
    newest = max(client.search_model_versions(f"name='{MODEL}'"), key=lambda v: int(v.version))
    assert int(newest.version) > max(int(v.version) for v in versions) and newest.tags["gate.passed"] == "true"


def test_both_uis_in_a_headless_browser(stack):
    if not shutil.which("chromium") and not os.environ.get("CLEARGATE_REQUIRE_BROWSER"):
        pytest.skip("no chromium here (`apt-get install chromium`); CI installs it and requires it (.ci/run)")
    prefect_ui = stack.prefect_api.removesuffix("/api")
    page = rendered_text(f"{prefect_ui}/deployments")
    for text in ("cleargate-pipeline", "nightly", "At 02:00 AM", "cleargate-monitor", "hourly", "Every hour"):
        assert text in page, f"Prefect UI: no '{text}' in {page[:2000]}"
    client = mlflow_client(stack)
    champion = client.get_model_version_by_alias(MODEL, "champion")
    page = rendered_text(f"{stack.mlflow_uri}/#/models/{MODEL}")
    assert MODEL in page and "@ champion" in page and f"Version {champion.version}" in page, page[:3000]
    run_page = rendered_text(f"{stack.mlflow_uri}/#/experiments/"
                             f"{client.get_run(champion.run_id).info.experiment_id}/runs/{champion.run_id}")
    for metric in ("test_pr_auc", "test_balanced_accuracy", "test_positive_recall"):
        assert metric in run_page, f"MLflow UI: run page lacks {metric}: {run_page[:3000]}"


def refused(url: str) -> int:
    try:
        urllib.request.urlopen(url, timeout=10)
    except urllib.error.HTTPError as exc:
        return exc.code
    return 200


def test_a_restart_keeps_the_data_and_authentication_refuses_strangers(stack, monkeypatch):
    client = mlflow_client(stack)
    champion = client.get_model_version_by_alias(MODEL, "champion").version
    drop_batch(stack, DATASET, "during-down.parquet", split_of(stack, DATASET).head(100))
    with prefect_api(stack):
        from prefect.deployments import run_deployment as start

        busy = start("cleargate-monitor/hourly", parameters={"datasets": [DATASET]}, timeout=0, as_subflow=False)
    deadline = time.monotonic() + 300
    while not read_flow_run(stack, str(busy.id)).state.is_running():
        assert time.monotonic() < deadline, "the worker never started the monitoring run"
        time.sleep(0.5)
    down = stack.stack("down").stdout  # while that run runs
    assert f"1 flow run(s) marked CRASHED: {busy.id}" in down, down
    assert "postgres  stopped" in down and not [p for p in stack.processes() if p.is_running()]

    stack.env["STACK_AUTH"] = "1"  # as STACK_HOST=0.0.0.0 would, without leaving loopback in a test
    out = stack.stack("up").stdout
    secrets = json.loads((stack.dir / "secrets.json").read_text())
    assert "auth:       on" in out and secrets["admin_password"] not in out and secrets["pg_password"] not in out
    assert stat.S_IMODE((stack.dir / "secrets.json").stat().st_mode) == 0o600
    env = stack.client_env
    assert env["MLFLOW_TRACKING_PASSWORD"] == secrets["admin_password"] and "PREFECT_API_AUTH_STRING" in env

    assert refused(f"{stack.mlflow_uri}/api/2.0/mlflow/registered-models/get?name={MODEL}") == 401
    assert refused(f"{stack.prefect_api}/deployments/name/cleargate-pipeline/nightly") == 401
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", env["MLFLOW_TRACKING_USERNAME"])
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", env["MLFLOW_TRACKING_PASSWORD"])
    client = mlflow_client(stack)
    assert client.get_model_version_by_alias(MODEL, "champion").version == champion, "registry kept"
    mlflow.artifacts.download_artifacts(run_id=client.get_model_version(MODEL, champion).run_id,
                                        artifact_path="reference_profile.json")
    from prefect.client.orchestration import get_client

    with prefect_api(stack), get_client(sync_client=True) as prefect:
        monitor = prefect.read_deployment_by_name("cleargate-monitor/hourly")
        assert monitor.schedules, "deployments kept"
        assert monitor.global_concurrency_limit.active_slots == 0, "the interrupted run gave its slot back"
        assert prefect.read_flow_run(busy.id).state.is_crashed()
    assert len(locations(stack, ["during-down.parquet"])["during-down.parquet"]) == 1, "the batch is kept for the " \
        "next pass (inbox or processing/)"
