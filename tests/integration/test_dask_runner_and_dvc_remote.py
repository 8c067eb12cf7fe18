"""Fits fanned out on Dask, and the DVC cache shared through a remote, on real components.

One tiny project (breast-cancer records, two tree models) runs the flow on the process pool and `make push`es
its cache to a local-directory remote; a `git clone` of it `make pull`s and is up to date (nothing re-runs),
and another clone re-runs every fit on a real Dask `LocalCluster` of two worker processes and writes the
same metrics. Plus the runner's preflight: an unreachable scheduler is one line, in seconds.
"""

from __future__ import annotations

import filecmp
import json
import os
import sys
import time
from pathlib import Path

import psutil
import pytest
import yaml

from cleargate.processes import free_port
from tests.projects import CLEARGATE, ROOT, commit, run, tiny_params, write_params

PY = sys.executable
VENV = Path(sys.executable).parent.parent
UP_TO_DATE = "Data and pipelines are up to date."
MODELS = ("cancer_hgb", "cancer_rf")


def make(target: str, project: Path):
    """A Makefile target on the suite's venv (`-o`: never rebuild it)."""
    return run(["make", target, f"VENV={VENV}", "-o", f"{VENV}/.installed"], project, check=False)


def clone_and_pull(origin: Path, name: str) -> Path:
    """A teammate's checkout: `git clone` next to the origin, then `make pull` (the remote is `../remote`)."""
    target = origin.parent / name
    run(["git", "clone", "-q", str(origin), str(target)], origin.parent)
    pulled = make("pull", target)
    assert pulled.returncode == 0, pulled.stdout[-2000:] + pulled.stderr[-3000:]
    return target


def one_line_error(stderr: str) -> str:
    assert "Traceback" not in stderr, stderr[-3000:]
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert lines, "no error was printed"
    return lines[-1]


def metrics_without_timings(project: Path, model: str) -> dict:
    """A model's test metrics; `fit_seconds` and `explain_seconds` are how long the fit and its explanations took,
    measurements of the machine."""
    metrics = json.loads((project / "reports" / "breast_cancer" / "metrics" / f"{model}.json").read_text())
    assert metrics["fit_seconds"] > 0
    return {key: value for key, value in metrics.items() if not key.endswith("_seconds")}


@pytest.fixture(scope="module")
def origin(tmp_path_factory: pytest.TempPathFactory, golden_records) -> Path:
    """The flow run on the process pool, dvc.lock committed (the golden records project), with a DVC remote
    named in params.yaml (committed too) and the cache pushed to it."""
    tmp = tmp_path_factory.mktemp("shared")
    project = golden_records.clone(tmp)
    params = yaml.safe_load((project / "params.yaml").read_text())
    params["orchestration"].update({"fit_workers": 2, "task_runner": "process", "dask_address": None})
    params["storage"] = {"dvc_remote": {"name": "team", "url": "../remote"}}  # next to every clone
    write_params(project / "params.yaml", params)
    commit(project, "a DVC remote for the team", "params.yaml")
    assert UP_TO_DATE in run(["dvc", "status"], project).stdout, "where the cache goes changes no stage"
    pushed = make("push", project)
    assert pushed.returncode == 0, pushed.stdout[-2000:] + pushed.stderr[-3000:]
    assert f"DVC remote 'team': {tmp / 'remote'}" in pushed.stdout
    return project


@pytest.mark.slow
def test_a_clone_pulls_every_output_from_the_remote_and_nothing_reruns(origin: Path):
    assert any((origin.parent / "remote").rglob("*")), "make push filled the local-directory remote"
    assert "team" not in (origin / ".dvc" / "config").read_text(), "params.yaml is the one place naming it"
    clone = clone_and_pull(origin, "clone")
    assert not (clone / "mlflow.db").exists()
    assert UP_TO_DATE in run(["dvc", "status"], clone).stdout
    repro = run(["dvc", "repro"], clone)
    assert UP_TO_DATE in repro.stdout and "Running stage" not in repro.stdout, repro.stdout[-2000:]
    for folder in ("data", "models", "reports"):
        compared = filecmp.dircmp(origin / folder, clone / folder)
        differ = [(str(d.left), sorted(d.left_only + d.right_only + d.diff_files)) for d in _walk(compared)
                  if d.left_only or d.right_only or d.diff_files]
        # run_timings.json: what the origin's run cost, no stage's output (DVC does not track it)
        assert differ in ([], [(str(origin / "reports"), ["run_timings.json"])]), differ


def _walk(compared: filecmp.dircmp) -> list[filecmp.dircmp]:
    return [compared, *(d for sub in compared.subdirs.values() for d in _walk(sub))]


@pytest.mark.slow
def test_fits_on_a_dask_local_cluster_write_the_same_metrics_as_the_process_pool(origin: Path):
    from distributed import Client, LocalCluster

    project = clone_and_pull(origin, "clone-dask")
    for model in MODELS:  # rewritten by this run, not left over from the pull
        (project / "reports" / "breast_cancer" / "metrics" / f"{model}.json").unlink()
    cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                           dashboard_address=None)
    try:
        params = yaml.safe_load((project / "params.yaml").read_text())
        params["orchestration"].update({"task_runner": "dask", "dask_address": cluster.scheduler_address})
        write_params(project / "params.yaml", params)
        result = run([CLEARGATE, "run", "--rerun", "train", "--rerun", "evaluate"], project, check=False)
        assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
        with Client(cluster) as client:
            executed = client.run(lambda dask_worker: dask_worker.state.executed_count)
    finally:
        cluster.close()
    workers = params["orchestration"]["fit_workers"]  # one warm-up per fit worker (flows/beside.py)
    assert sum(executed.values()) == 2 * len(MODELS) + workers, \
        f"train and evaluate of each model, and the warm-ups, on Dask: {executed}"
    for model in MODELS:
        assert f"train@{model}" in result.stdout
        assert metrics_without_timings(project, model) == metrics_without_timings(origin, model), model
        predictions = Path("reports") / "breast_cancer" / "predictions" / f"{model}.parquet"
        assert filecmp.cmp(project / predictions, origin / predictions, shallow=False), model


def test_an_unreachable_dask_scheduler_stops_the_run_in_seconds_with_one_line(tmp_path: Path):
    address = f"tcp://127.0.0.1:{free_port()}"  # nothing listens there
    params = tiny_params("breast_cancer", digits=False)
    params["orchestration"].update({"task_runner": "dask", "dask_address": address, "dask_connect_budget_s": 2})
    path = write_params(tmp_path / "params.yaml", params)
    started = time.monotonic()
    result = run([CLEARGATE, "run", "--params", str(path)], ROOT, check=False)
    took = time.monotonic() - started
    assert result.returncode == 5, result.stdout[-2000:] + result.stderr[-2000:]  # infrastructure
    line = one_line_error(result.stderr)
    assert f"{address}: Dask scheduler not reachable after 2 s" in line, line
    assert "dask scheduler" in line and "orchestration.dask_address" in line, line
    assert not (tmp_path / "models").exists() and not (tmp_path / "data").exists(), "nothing ran"
    assert took < 45, f"{took:.0f} s"  # the interpreter's imports included; the check itself is 2 s


def test_dask_with_no_address_starts_a_local_cluster_of_fit_workers_and_stops_it(tmp_path: Path):
    from cleargate.params import load_project
    from flows.runners import task_runner

    params = tiny_params("breast_cancer", digits=False)
    params["orchestration"].update({"fit_workers": 2, "task_runner": "dask", "dask_address": None})
    project = load_project(write_params(tmp_path / "params.yaml", params))
    with task_runner(project) as runner:
        workers = runner.client.scheduler_info(n_workers=-1)["workers"]
        pids = set(runner.client.run(os.getpid).values())
    assert len(workers) == 2 and {w["nthreads"] for w in workers.values()} == {1}, workers
    assert all(address.startswith("tcp://127.0.0.1:") for address in workers), workers
    assert len(pids - {os.getpid()}) == 2, "each worker its own process"
    assert not _alive(pids), "the cluster stops with the run"


def _alive(pids: set[int]) -> set[int]:
    deadline = time.monotonic() + 10
    while True:
        alive = {pid for pid in pids if psutil.pid_exists(pid) and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE}
        if not alive or time.monotonic() > deadline:
            return alive
        time.sleep(0.2)


def test_a_dask_address_without_the_dask_runner_is_a_config_error(tmp_path: Path):
    from cleargate.errors import ConfigError
    from cleargate.params import load_project

    params = tiny_params("breast_cancer", digits=False)
    params["orchestration"].update({"task_runner": "process", "dask_address": "tcp://127.0.0.1:8786"})
    with pytest.raises(ConfigError, match="orchestration: .*dask_address is set .* but task_runner is 'process'"):
        load_project(write_params(tmp_path / "params.yaml", params))


def test_a_dask_worker_that_cannot_import_the_project_stops_the_run_with_one_line_naming_it(tmp_path: Path):
    """A team's cluster (`dask scheduler`, `dask worker` from the CLI) where one worker runs in an environment whose
    `cleargate` is not the project's (an old checkout on its PYTHONPATH): the run stops before anything starts,
    naming that worker, the check and the fix."""
    from tests.servers import dask_cluster

    stale = tmp_path / "stale-checkout" / "cleargate"
    stale.mkdir(parents=True)
    (stale / "__init__.py").write_text('raise ImportError("an old checkout of cleargate, not the project\'s")\n')
    params = tiny_params("breast_cancer", digits=False)
    env = {**os.environ, "PYTHONPATH": ""}
    (tmp_path / "cluster").mkdir()
    with dask_cluster(env, tmp_path / "cluster", workers=1,
                      worker_env={"PYTHONPATH": str(stale.parent)}) as (address, _):
        params["orchestration"].update({"task_runner": "dask", "dask_address": address, "dask_connect_budget_s": 10})
        path = write_params(tmp_path / "params.yaml", params)
        result = run([CLEARGATE, "run", "--params", str(path)], ROOT, check=False)
    assert result.returncode == 5, result.stdout[-2000:] + result.stderr[-2000:]  # infrastructure
    line = one_line_error(result.stderr)
    assert line.startswith("cleargate: run stopped: Dask worker tcp://127.0.0.1:"), line
    assert "cannot import cleargate (ImportError: an old checkout of cleargate, not the project's)" in line, line
    assert f"`dask worker {address}`" in line and "the project's environment" in line, line
    assert not (tmp_path / "models").exists() and not (tmp_path / "data").exists(), "nothing ran"
