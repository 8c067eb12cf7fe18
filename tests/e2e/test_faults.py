"""Faults a user meets, on real components: each ends in one line and a non-zero exit, and loses nothing.

A stopped MLflow server, a tracking server lost between stages, a truncated raw file, `kill -9` of the
run's main process, an invalid params.yaml under `dvc repro`. Each runs the real entry points in a real
git + DVC project on tiny data (trees on the breast-cancer records train in seconds).
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
import yaml

from cleargate.processes import free_port
from tests.projects import CLEARGATE, make_project, run, tiny_params
from tests.servers import MlflowServer

PY = sys.executable


def one_line_error(stderr: str) -> str:
    """The error a user sees: no traceback, and the last non-empty line says what happened."""
    assert "Traceback" not in stderr, stderr[-3000:]
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert lines, "no error was printed"
    return lines[-1]


def records_project(tmp_path: Path) -> Path:
    return make_project(tmp_path, tiny_params("breast_cancer", digits=False))


@pytest.mark.slow
def test_an_unreachable_tracking_server_stops_the_run_in_seconds_with_one_line(tmp_path: Path):
    project = records_project(tmp_path)
    uri = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    env = {**os.environ, "MLFLOW_TRACKING_URI": uri}
    started = time.monotonic()
    result = run([CLEARGATE, "run"], project, check=False, env=env)
    took = time.monotonic() - started
    assert result.returncode == 5, result.stdout[-2000:] + result.stderr[-2000:]  # infrastructure
    line = one_line_error(result.stderr)
    assert f"{uri}: MLflow tracking server not reachable after 5 s" in line and "MLFLOW_TRACKING_URI" in line
    assert not (project / "models").exists(), "nothing trained for nothing"
    assert took < 60, f"{took:.0f} s"  # Prefect's ephemeral API start included; the check itself is 5 s
    started = time.monotonic()
    status = run(["cleargate", "status"], project, check=False, env=env)
    assert status.returncode == 5 and time.monotonic() - started < 30
    assert f"{uri}: MLflow tracking server not reachable" in one_line_error(status.stderr)


@pytest.mark.slow
def test_a_tracking_server_lost_before_release_loses_nothing_and_the_next_run_completes(golden_records,
                                                                                           tmp_path: Path):
    """The golden records project pointed at a team's tracking server: its release there registers v1; then the
    server is lost before the next release, and comes back."""
    project = golden_records.clone(tmp_path)
    server = MlflowServer(tmp_path / "server").start()
    env = {**os.environ, "MLFLOW_TRACKING_URI": server.uri}
    try:
        first = run([CLEARGATE, "run", "--rerun", "promote"], project, check=False, env=env)
        assert first.returncode == 0, first.stderr[-3000:]
        server.stop()
        lost = run([PY, "-m", "cleargate.stages", "promote", "--dataset", "breast_cancer"], project, check=False,
                   env=env)
        assert lost.returncode == 5
        line = one_line_error(lost.stderr)
        assert server.uri in line and "MLflow tracking server" in line, line
        assert "up to date" in run(["dvc", "status"], project).stdout, "the finished stages stay recorded"
        server.start()
        again = run([CLEARGATE, "run", "--rerun", "promote"], project, check=False, env=env)
        assert again.returncode == 0, again.stderr[-3000:]
        from mlflow.tracking import MlflowClient

        versions = MlflowClient(server.uri).search_model_versions("name='breast-cancer-classifier'")
        assert sorted(int(v.version) for v in versions) == [1, 2], "no half-registered version from the lost run"
    finally:
        server.stop()


@pytest.mark.slow
def test_a_damaged_raw_file_stops_its_dataset_and_dvc_checkout_restores_it(golden_records, tmp_path: Path):
    project = golden_records.clone(tmp_path)
    raw = project / "data" / "raw" / "breast_cancer.parquet"
    recorded = (project / "data" / "raw" / "breast_cancer.json").read_text()
    raw.write_bytes(raw.read_bytes()[:-200])
    broken = run([CLEARGATE, "run", "--rerun", "validate"], project, check=False)
    assert broken.returncode == 4  # refused input (cleargate.errors)
    line = one_line_error(broken.stderr)
    assert "breast_cancer.parquet: sha256" in line and "dvc checkout" in line, line
    assert (project / "data" / "raw" / "breast_cancer.json").read_text() == recorded, "the record is never rewritten"
    restore = re.search(r"`(dvc checkout [^`]+)`", line)
    assert restore, line
    run(restore.group(1).split(), project)  # exactly the command the message gives
    fixed = run([CLEARGATE, "run", "--rerun", "validate"], project, check=False)
    assert fixed.returncode == 0, fixed.stderr[-3000:]
    assert "validate@breast_cancer" in fixed.stdout and "ran" in fixed.stdout


def as_a_terminals_job() -> None:
    """In the child, before exec: Ctrl-C at its default, as in a job a terminal runs in the foreground. A suite
    started in the background of a script (`make test &` without job control) has SIGINT ignored, every process it
    starts inherits that, and Python then keeps ignoring it: the run would rightly not see this test's Ctrl-C."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def long_run(tmp_path: Path) -> tuple[Path, dict, psutil.Popen, dict[int, float]]:
    """`cleargate run` on a digits project whose CNN trains for hundreds of epochs, in a session of its own (so a
    signal can go to its process group, as a terminal's Ctrl-C does), returned once the CNN's first epoch is
    done: the dataset stages have finished, the fit is under way. With every process it started so far."""
    params = tiny_params()
    params["train"] = {k: v for k, v in params["train"].items() if k in ("cnn", "hgb", "rf")}
    params["train"]["cnn"].update(max_epochs=400, patience=400)  # long enough to be stopped while it trains
    project = make_project(tmp_path, params)
    main = psutil.Popen([CLEARGATE, "run"], cwd=project, stdout=(tmp_path / "out.txt").open("w"),
                        stderr=(tmp_path / "err.txt").open("w"), env={**os.environ}, start_new_session=True,
                        preexec_fn=as_a_terminals_job)
    seen: dict[int, float] = {}
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:  # until a pool worker is training the CNN (its first epoch is done)
        for child in main.children(recursive=True):
            try:
                seen[child.pid] = child.create_time()
            except psutil.Error:
                continue
        if "cnn epoch 1/" in (tmp_path / "err.txt").read_text():
            return project, params, main, seen
        assert main.poll() is None, "the run ended: " + (tmp_path / "err.txt").read_text()[-2000:]
        time.sleep(0.5)
    main.kill()
    pytest.fail("the CNN fit never started: " + (tmp_path / "err.txt").read_text()[-2000:])


def left_running(seen: dict[int, float], wait_s: float = 30) -> list[str]:
    """The processes of `seen` still running after up to `wait_s` seconds (killed, so no test leaves them)."""
    alive: list[str] = []
    for _ in range(int(wait_s)):
        alive = [f"{pid} {psutil.Process(pid).cmdline()[:3]}" for pid, created in seen.items()
                 if psutil.pid_exists(pid) and psutil.Process(pid).create_time() == created
                 and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE]
        if not alive:
            break
        time.sleep(1)
    for pid, created in seen.items():
        with contextlib.suppress(psutil.Error):
            if psutil.Process(pid).create_time() == created:
                psutil.Process(pid).kill()
    return alive


@pytest.mark.slow
def test_kill_9_of_the_main_process_leaves_no_process_and_no_half_written_model(tmp_path: Path):
    project, params, main, seen = long_run(tmp_path)
    os.kill(main.pid, signal.SIGKILL)
    main.wait(30)
    alive = left_running(seen)
    assert not alive, f"left running after kill -9: {alive}"
    models = project / "models" / "digits"
    assert not (models / "cnn").exists(), "a killed fit leaves no model folder a later run would accept"
    params["train"]["cnn"].update(max_epochs=3, patience=3)
    (project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    again = run([CLEARGATE, "run"], project, check=False)
    assert again.returncode == 0, again.stderr[-3000:]
    assert (models / "cnn" / "model.pt").is_file() and not list(models.glob(".*.tmp"))


@contextlib.contextmanager
def two_cpu_hogs():
    """Two processes keeping both cores busy, as other work on the machine would; stopped by pid."""
    hogs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(2)]
    try:
        yield
    finally:
        for hog in hogs:
            hog.kill()
            hog.wait()


@pytest.mark.slow
@pytest.mark.parametrize(("how", "code"), [("Ctrl-C", 130), ("SIGTERM", 143)])
def test_a_run_stopped_mid_fit_says_so_in_one_line_keeps_what_finished_and_leaves_nothing(
        how: str, code: int, tmp_path: Path):
    """Ctrl-C (SIGINT to the run's process group, as a terminal sends it) or SIGTERM to the run's process: one
    line and exit 130 / 143 within 10 s, with two CPU hogs beside it; the finished stages are in dvc.lock, the
    interrupted fit's MLflow run ended FAILED, no process is left, and the next run goes on from there."""
    project, params, main, seen = long_run(tmp_path)
    with two_cpu_hogs():
        started = time.monotonic()
        if how == "Ctrl-C":
            os.killpg(main.pid, signal.SIGINT)
        else:
            os.kill(main.pid, signal.SIGTERM)
        returncode = main.wait(60)
        took = time.monotonic() - started
    err = (tmp_path / "err.txt").read_text()
    alive = left_running(seen)
    assert returncode == code and took < 10, f"exit {returncode} after {took:.1f} s: {err[-2000:]}"
    assert "Traceback" not in err, err[-3000:]
    assert err.strip().splitlines()[-1] == (f"cleargate: run stopped by {how}; the stages that finished are recorded "
                                            "in dvc.lock, the next run goes on from them")
    assert not alive, f"left running after {how}: {alive}"
    recorded = yaml.safe_load((project / "dvc.lock").read_text())["stages"]
    assert {"ingest@digits", "validate@digits", "clean@digits", "split@digits"} <= set(recorded), sorted(recorded)
    from mlflow.tracking import MlflowClient

    client = MlflowClient(f"sqlite:///{project / 'mlflow.db'}")
    runs = client.search_runs([client.get_experiment_by_name("cleargate-test-digits").experiment_id],
                              "attributes.run_name = 'cnn'")
    assert [r.info.status for r in runs] == ["FAILED"], f"the interrupted fit's run ended, as failed: {err[-3000:]}"
    if how == "Ctrl-C":  # the next run goes on from what finished: the dataset stages are not run again
        params["train"]["cnn"].update(max_epochs=3, patience=3)
        (project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
        again = run([CLEARGATE, "run"], project, check=False)
        assert again.returncode == 0, again.stderr[-3000:]
        assert all(f"{stage}@digits" not in line or "skipped" in line for stage in ("ingest", "validate", "split")
                   for line in again.stdout.splitlines()), again.stdout


@pytest.mark.slow
def test_dvc_repro_with_an_invalid_params_file_keeps_the_models(golden_records, tmp_path: Path):
    project = golden_records.clone(tmp_path)
    weights = sorted((project / "models").rglob("model.skops"))
    assert weights
    params = yaml.safe_load((project / "params.yaml").read_text())
    params["train"]["cancer_rf"]["n_estimatorz"] = 10  # a typo
    (project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    repro = run(["dvc", "repro"], project, check=False)
    assert repro.returncode != 0
    assert "train.cancer_rf.n_estimatorz: unknown key" in repro.stdout + repro.stderr
    assert all(path.is_file() for path in weights), "the previous models are still there"
