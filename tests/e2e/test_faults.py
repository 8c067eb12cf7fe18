"""Faults a user meets, on real components: each ends in one line and a non-zero exit, and loses nothing.

A stopped MLflow server, a tracking server lost between stages, a truncated raw file, Ctrl-C, SIGTERM and
`kill -9` of the run's main process, an invalid params.yaml under `dvc repro`. Each runs the real entry points in a real
git + DVC project on tiny data (trees on the breast-cancer records train in seconds).
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import sys
import time
from pathlib import Path

import psutil
import pytest
import yaml

from cleargate.params import load_params
from tests.conftest import make_project, run, tiny_params
from tests.servers import MlflowServer, free_port

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
    result = run([PY, "flows/pipeline.py"], project, check=False, env=env)
    took = time.monotonic() - started
    assert result.returncode == 2, result.stdout[-2000:] + result.stderr[-2000:]
    line = one_line_error(result.stderr)
    assert f"{uri}: MLflow tracking server not reachable after 5 s" in line and "MLFLOW_TRACKING_URI" in line
    assert not (project / "models").exists(), "nothing trained for nothing"
    assert took < 60, f"{took:.0f} s"  # Prefect's ephemeral API start included; the check itself is 5 s
    started = time.monotonic()
    status = run(["cleargate", "status"], project, check=False, env=env)
    assert status.returncode == 2 and time.monotonic() - started < 30
    assert f"{uri}: MLflow tracking server not reachable" in one_line_error(status.stderr)


@pytest.mark.slow
def test_a_tracking_server_lost_before_release_loses_nothing_and_the_next_run_completes(tmp_path: Path):
    project = records_project(tmp_path)
    server = MlflowServer(tmp_path / "server").start()
    env = {**os.environ, "MLFLOW_TRACKING_URI": server.uri}
    try:
        first = run([PY, "flows/pipeline.py"], project, check=False, env=env)
        assert first.returncode == 0, first.stderr[-3000:]
        server.stop()
        lost = run([PY, "-m", "cleargate.stages", "promote", "--dataset", "breast_cancer"], project, check=False,
                   env=env)
        assert lost.returncode == 2
        line = one_line_error(lost.stderr)
        assert server.uri in line and "MLflow tracking server" in line, line
        assert "up to date" in run(["dvc", "status"], project).stdout, "the finished stages stay recorded"
        server.start()
        again = run([PY, "flows/pipeline.py", "--rerun", "promote"], project, check=False, env=env)
        assert again.returncode == 0, again.stderr[-3000:]
        from mlflow.tracking import MlflowClient

        versions = MlflowClient(server.uri).search_model_versions("name='breast-cancer-classifier'")
        assert sorted(int(v.version) for v in versions) == [1, 2], "no half-registered version from the lost run"
    finally:
        server.stop()


@pytest.mark.slow
def test_a_damaged_raw_file_stops_its_dataset_and_dvc_checkout_restores_it(tmp_path: Path):
    project = records_project(tmp_path)
    first = run([PY, "flows/pipeline.py"], project, check=False)
    assert first.returncode == 0, first.stderr[-3000:]
    raw = project / "data" / "raw" / "breast_cancer.parquet"
    recorded = (project / "data" / "raw" / "breast_cancer.json").read_text()
    raw.write_bytes(raw.read_bytes()[:-200])
    broken = run([PY, "flows/pipeline.py", "--rerun", "validate"], project, check=False)
    assert broken.returncode == 2
    line = one_line_error(broken.stderr)
    assert "breast_cancer.parquet: sha256" in line and "dvc checkout" in line, line
    assert (project / "data" / "raw" / "breast_cancer.json").read_text() == recorded, "the record is never rewritten"
    restore = re.search(r"`(dvc checkout [^`]+)`", line)
    assert restore, line
    run(restore.group(1).split(), project)  # exactly the command the message gives
    fixed = run([PY, "flows/pipeline.py", "--rerun", "validate"], project, check=False)
    assert fixed.returncode == 0, fixed.stderr[-3000:]
    assert "validate@breast_cancer" in fixed.stdout and "ran" in fixed.stdout


@pytest.mark.slow
def test_kill_9_of_the_main_process_leaves_no_process_and_no_half_written_model(tmp_path: Path):
    params = tiny_params()
    params["train"] = {k: v for k, v in params["train"].items() if k in ("cnn", "hgb", "rf")}
    params["train"]["cnn"].update(max_epochs=400, patience=400)  # long enough to be killed while it trains
    project = make_project(tmp_path, params)
    main = psutil.Popen([PY, "flows/pipeline.py"], cwd=project, stdout=(tmp_path / "out.txt").open("w"),
                        stderr=(tmp_path / "err.txt").open("w"), env={**os.environ})
    seen: dict[int, float] = {}
    deadline = time.monotonic() + 600
    try:
        while time.monotonic() < deadline:  # until a pool worker is training the CNN
            for child in main.children(recursive=True):
                try:
                    seen[child.pid] = child.create_time()
                except psutil.Error:
                    continue
            if any("spawn" in " ".join(psutil.Process(p).cmdline()) for p in seen if psutil.pid_exists(p)):
                break
            time.sleep(1)
        else:
            pytest.fail("the CNN fit never started: " + (tmp_path / "err.txt").read_text()[-2000:])
        time.sleep(30)  # the worker imports torch and starts the CNN's fit
        os.kill(main.pid, signal.SIGKILL)
        main.wait(30)
        alive: list[str] = []
        for _ in range(30):
            alive = [f"{pid} {psutil.Process(pid).cmdline()[:3]}" for pid, created in seen.items()
                     if psutil.pid_exists(pid) and psutil.Process(pid).create_time() == created
                     and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE]
            if not alive:
                break
            time.sleep(1)
        assert not alive, f"left running after kill -9: {alive}"
    finally:
        for pid, created in seen.items():
            if psutil.pid_exists(pid) and psutil.Process(pid).create_time() == created:
                psutil.Process(pid).kill()
    models = project / "models" / "digits"
    assert not (models / "cnn").exists(), "a killed fit leaves no model folder a later run would accept"
    params["train"]["cnn"].update(max_epochs=3, patience=3)
    (project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    again = run([PY, "flows/pipeline.py"], project, check=False)
    assert again.returncode == 0, again.stderr[-3000:]
    assert (models / "cnn" / "model.pt").is_file() and not list(models.glob(".*.tmp"))


def _started_fit(main: psutil.Popen, err: Path, seen: dict[int, float]) -> None:
    """Wait until the CNN trains (its first epoch line), noting every process the run started on the way."""
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        for child in main.children(recursive=True):
            with contextlib.suppress(psutil.Error):
                seen[child.pid] = child.create_time()
        if "cnn epoch 1/" in err.read_text():
            return
        assert main.poll() is None, err.read_text()[-3000:]
        time.sleep(0.5)
    pytest.fail("the CNN fit never started: " + err.read_text()[-2000:])


def _left_running(seen: dict[int, float]) -> list[str]:
    alive: list[str] = []
    for _ in range(20):
        alive = []
        for pid, created in seen.items():
            with contextlib.suppress(psutil.Error):
                process = psutil.Process(pid)
                if process.create_time() == created and process.status() != psutil.STATUS_ZOMBIE:
                    alive.append(f"{pid} {process.cmdline()[:3]}")
        if not alive:
            break
        time.sleep(0.5)
    return alive


def _interrupted(project: Path, tmp_path: Path, name: str, how: str) -> tuple[int, float, str, str]:
    """`python flows/pipeline.py` as a terminal's foreground job (its own process group), interrupted while the
    CNN trains: Ctrl-C (SIGINT to the whole group, as a terminal sends it) or SIGTERM to the run's process only.
    Exit code, seconds from the signal to the exit, stdout, stderr; fails if any process it started is left."""
    out, err = tmp_path / f"{name}.out", tmp_path / f"{name}.err"
    main = psutil.Popen([PY, "flows/pipeline.py"], cwd=project, stdout=out.open("w"), stderr=err.open("w"),
                        env={**os.environ}, start_new_session=True)
    seen: dict[int, float] = {}
    try:
        _started_fit(main, err, seen)
        signalled = time.monotonic()
        if how == "ctrl-c":
            os.killpg(main.pid, signal.SIGINT)
        else:
            main.send_signal(signal.SIGTERM)
        code = main.wait(120)
        took = time.monotonic() - signalled
        assert not _left_running(seen), f"left running after {how}: {_left_running(seen)}"
    finally:
        for pid, created in seen.items():
            with contextlib.suppress(psutil.Error):
                if psutil.Process(pid).create_time() == created:
                    psutil.Process(pid).kill()
        if main.poll() is None:
            main.kill()
    return code, took, out.read_text(), err.read_text()


@pytest.mark.slow
def test_ctrl_c_or_sigterm_stops_the_run_in_seconds_keeps_what_finished_and_says_so_in_one_line(tmp_path: Path):
    """Before: Ctrl-C killed Prefect's API server under the flow, each worker printed its own KeyboardInterrupt,
    and the run hung for minutes retrying the server (flows/interrupts.py)."""
    from mlflow.tracking import MlflowClient

    params = tiny_params()
    params["train"]["cnn"].update(max_epochs=400, patience=400)  # still training when interrupted
    project = make_project(tmp_path, params)

    code, took, out, err = _interrupted(project, tmp_path, "first", "ctrl-c")
    assert code == 130, out[-2000:] + err[-3000:]
    line = one_line_error(err)
    assert line.startswith("cleargate: run interrupted (Ctrl-C): the stages that finished are recorded in dvc.lock")
    assert took < 30, f"{took:.0f} s from Ctrl-C to the exit"
    finished = re.findall(r"^ +(\S+@\S+) +[\d.]+ s  ran", out, re.M)
    assert {"ingest@digits", "split@digits"} <= set(finished) and "train@cnn" not in finished, out
    lock = yaml.safe_load((project / "dvc.lock").read_text())["stages"]
    assert set(finished) <= set(lock) and "train@cnn" not in lock, "what finished is recorded, and only that"
    client = MlflowClient(load_params(project / "params.yaml").tracking.uri)
    runs = client.search_runs([e.experiment_id for e in client.search_experiments()], "tags.model = 'cnn'")
    assert [r.info.status for r in runs] == ["FAILED"], "the interrupted fit's MLflow run is closed, as failed"

    code, took, out, err = _interrupted(project, tmp_path, "second", "sigterm")
    assert code == 143 and took < 30, f"exit {code} after {took:.0f} s: " + err[-3000:]
    assert one_line_error(err).startswith("cleargate: run interrupted (SIGTERM)")
    skipped = re.findall(r"^ +(\S+@\S+) +skipped", out, re.M)
    assert set(finished) <= set(skipped), "nothing that finished before the interrupt ran again"
    assert not (project / "models" / "digits" / "cnn").exists() and not list(project.glob("models/digits/.*.tmp"))


@pytest.mark.slow
def test_dvc_repro_with_an_invalid_params_file_keeps_the_models(tmp_path: Path):
    project = records_project(tmp_path)
    assert run([PY, "flows/pipeline.py"], project, check=False).returncode == 0
    weights = sorted((project / "models").rglob("model.skops"))
    assert weights
    params = yaml.safe_load((project / "params.yaml").read_text())
    params["train"]["cancer_rf"]["n_estimatorz"] = 10  # a typo
    (project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    repro = run(["dvc", "repro"], project, check=False)
    assert repro.returncode != 0
    assert "train.cancer_rf.n_estimatorz: unknown key" in repro.stdout + repro.stderr
    assert all(path.is_file() for path in weights), "the previous models are still there"
