"""`make ui` (cleargate ui) serves the MLflow UI on the project's store, on loopback."""

import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import mlflow
import pytest

from cleargate.processes import free_port
from tests.projects import tiny_params, write_params


@pytest.mark.slow
def test_ui_serves_the_projects_store(tmp_path: Path):
    params = tiny_params()
    params["tracking"]["uri"] = f"sqlite:///{tmp_path / 'mlflow.db'}"
    path = write_params(tmp_path / "params.yaml", params)
    client = mlflow.MlflowClient(params["tracking"]["uri"])
    client.create_experiment("visible-in-ui")
    port = free_port()
    cli = Path(sys.executable).parent / "cleargate"
    proc = subprocess.Popen([str(cli), "ui", "--port", str(port), "--params", str(path)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as response:
                    assert response.status == 200
                    break
            except OSError:
                assert proc.poll() is None, "the UI process exited"
                assert time.monotonic() < deadline, "the UI did not answer within 90 s"
                time.sleep(1)
        url = f"http://127.0.0.1:{port}/api/2.0/mlflow/experiments/get-by-name?experiment_name=visible-in-ui"
        with urllib.request.urlopen(url, timeout=10) as response:
            assert b"visible-in-ui" in response.read()
    finally:
        os.killpg(proc.pid, signal.SIGTERM)  # the UI's server workers too, not just the launcher
        proc.wait(timeout=30)
