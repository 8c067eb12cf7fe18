"""Failures on the team stack, after `test_stack_e2e.py` (a champion is registered): a monitoring run killed
midway, the MLflow server killed during a pipeline run, and last, a restart on the same data with
authentication on (taken while a monitoring run runs)."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import stat
import subprocess
import time
from pathlib import Path

import mlflow
import psutil
import pytest
import yaml

from cleargate.processes import http_ok, stop
from infra.stack.state import load_state
from tests.ops.conftest import DATASET, MODEL
from tests.ops.helpers import (
    drop_batch,
    inbox,
    locations,
    mlflow_client,
    prefect_api,
    read_flow_run,
    refused,
    run_deployment,
    split_of,
)
from tests.projects import CLEARGATE
from tests.servers import dask_cluster

pytestmark = pytest.mark.slow


def test_a_monitoring_run_killed_midway_loses_no_batch_and_scores_none_twice(stack):
    test = split_of(stack, DATASET)
    names = [f"batch{i}.parquet" for i in range(4)]
    for i, name in enumerate(names):
        drop_batch(stack, DATASET, name, test.sample(100, random_state=i))
    command = [CLEARGATE, "monitor", "--dataset", DATASET, "--no-retrain"]
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
    client = mlflow_client(stack)   # each batch is one step of its champion's run, however often it was logged
    steps = []
    for report in finished.values():
        run = client.get_run(report["mlflow_run_id"])
        assert run.info.status == "FINISHED" and run.data.tags["model_version"] == report["version"]
        steps.append((run.info.run_id, int(run.data.tags[f"cleargate.batch.{report['claimed']}"])))
        logged = [m.step for m in client.get_metric_history(run.info.run_id, "refused")]
        assert len(logged) == len(set(logged)), f"{report['claimed']}: a step logged twice"
    assert len(set(steps)) == 4


def test_mlflow_server_killed_during_a_pipeline_run(stack):
    """One line naming the server, exit 2, no half-registered version; once it is back the next run succeeds."""
    client = mlflow_client(stack)
    experiment = client.get_experiment_by_name("cleargate-test-breast_cancer")
    since = int(time.time() * 1000)
    command = [CLEARGATE, "run", "--dataset", DATASET]
    proc = subprocess.Popen([*command, "--rerun", "promote"], cwd=stack.project, env=stack.client_env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    deadline = time.monotonic() + 600
    while not client.search_runs([experiment.experiment_id], f"attributes.start_time > {since}"):
        assert time.monotonic() < deadline and proc.poll() is None, "promote never started"
        time.sleep(0.2)
    stop(load_state(stack.dir / "state.json")["mlflow"])  # promote@breast_cancer has begun: the server dies
    _, err = proc.communicate(timeout=600)
    assert proc.returncode == 5, err[-3000:]  # infrastructure (cleargate.errors)
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
    assert re.search(rf"^ *promote@{DATASET} +[\d.]+ s  ran", again.stdout, re.M), again.stdout[-2000:]
    newest = max(client.search_model_versions(f"name='{MODEL}'"), key=lambda v: int(v.version))
    assert int(newest.version) > max(int(v.version) for v in versions) and newest.tags["gate.passed"] == "true"


def test_the_nightly_deployment_on_a_cli_started_dask_cluster_writes_the_process_pools_metrics(stack, tmp_path):
    metrics_dir = stack.project / "reports" / DATASET / "metrics"
    before = {p.name: _without_timings(p) for p in metrics_dir.glob("*.json")}
    assert before, "the process pool's nightly run wrote them (test_stack_e2e)"
    original = (stack.project / "params.yaml").read_text()
    with dask_cluster(stack.client_env, tmp_path) as (address, dashboard):
        params = yaml.safe_load(original)
        params["orchestration"].update({"task_runner": "dask", "dask_address": address, "fit_workers": 2})
        (stack.project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
        try:
            ran = run_deployment(stack, "cleargate-pipeline/nightly",
                                 {"datasets": [DATASET], "rerun": ["train", "evaluate"]}, timeout=600)
        finally:
            (stack.project / "params.yaml").write_text(original)
    assert ran.state.is_completed(), ran.state.message
    assert {p.name: _without_timings(p) for p in metrics_dir.glob("*.json")} == before, "the same metrics"
    timings = json.loads((stack.project / "reports" / "run_timings.json").read_text())
    assert timings["runner"] == f"Dask ({address})" and timings["dask_dashboard"] == dashboard, timings
    client = mlflow_client(stack)
    parent = client.get_run(json.loads((stack.project / "reports" / DATASET / "promotion.json").read_text())
                            ["pipeline_run_id"])
    assert parent.data.tags["cleargate.runner"] == f"Dask ({address})"


def _without_timings(path: Path) -> dict:
    """The metrics without what measures the machine (`fit_seconds`, `explain_seconds`)."""
    return {k: v for k, v in json.loads(path.read_text()).items() if not k.endswith("_seconds")}


def still_running(processes: dict[int, float]) -> list[str]:
    """The command lines of those of `processes` (pid: create time) that still run (not the same pid reused)."""
    left = []
    for pid, created in processes.items():
        with contextlib.suppress(psutil.Error):
            process = psutil.Process(pid)
            if process.create_time() == created and process.status() != psutil.STATUS_ZOMBIE:
                left.append(" ".join(process.cmdline()[:4]))
    return left


def test_cancel_in_prefects_ui_stops_the_nightly_run_under_the_worker_within_10_s(stack):
    """What the UI's Cancel button does (the flow run set to Cancelling): the worker stops the run's process, the
    flow unwinds (its pool workers stopped by pid, what finished recorded in dvc.lock) and the run ends Cancelled
    within 10 s; nothing of it keeps running, and DVC's lock is free for the next run."""
    from prefect.client.orchestration import get_client
    from prefect.deployments import run_deployment as start
    from prefect.states import Cancelling

    with prefect_api(stack):
        started = start("cleargate-pipeline/nightly", parameters={"datasets": [DATASET], "rerun": ["train"]},
                        timeout=0, as_subflow=False)
    deadline = time.monotonic() + 300
    while not read_flow_run(stack, str(started.id)).state.is_running():
        assert time.monotonic() < deadline, "the worker never started the run"
        time.sleep(0.5)
    time.sleep(3)  # into its stages
    worker = next(p for p in stack.processes() if "worker" in " ".join(p.cmdline()) and "start" in p.cmdline())
    before = {p.pid: p.create_time() for p in worker.children(recursive=True)}  # the run and its pool
    assert before, "the worker runs the flow in a process of its own"
    with prefect_api(stack), get_client(sync_client=True) as client:
        asked = time.monotonic()
        client.set_flow_run_state(started.id, Cancelling(), force=True)
    while not read_flow_run(stack, str(started.id)).state.is_final():
        assert time.monotonic() - asked < 60, "the run never ended after Cancel"
        time.sleep(0.25)
    took = time.monotonic() - asked
    final = read_flow_run(stack, str(started.id)).state
    with prefect_api(stack), get_client(sync_client=True) as client:
        states = [(s.type.value, s.timestamp.isoformat()[11:23]) for s in client.read_flow_run_states(started.id)]
    assert final.is_cancelled() and took < 10, f"{final.type} after {took:.1f} s: {states}"
    ended = time.monotonic() + 10   # the run's process unwinds after its state is Cancelled: gone within 10 s
    while (left := still_running(before)) and time.monotonic() < ended:
        time.sleep(0.25)
    assert not left, f"still running 10 s after the run ended Cancelled: {left}"
    status = subprocess.run([str(Path(CLEARGATE).parent / "dvc"), "status"], cwd=stack.project, capture_output=True,
                            text=True, timeout=120)
    assert status.returncode == 0, status.stderr[-2000:]


def test_a_restart_keeps_the_data_and_authentication_refuses_strangers(stack, monkeypatch):
    client = mlflow_client(stack)
    champion = client.get_model_version_by_alias(MODEL, "champion").version
    rows = split_of(stack, DATASET).head(100)
    for n in range(8):  # claimed first (by name): the run is still busy when `stack down` comes, however fast it is
        drop_batch(stack, DATASET, f"a-before-down-{n}.parquet", rows)
    drop_batch(stack, DATASET, "during-down.parquet", rows)
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
    assert refused(f"{stack.model_server}/version") == 401, "the model server wants the stack's bearer token"
    token = {"Authorization": f"Bearer {env['CLEARGATE_SERVING_TOKEN']}"}
    assert http_ok(f"{stack.model_server}/version", token) and secrets["serving_token"] not in out
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
