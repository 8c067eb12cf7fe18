"""A fit killed outright (SIGKILL: `kill -9` of its worker, the out-of-memory killer) cannot end its MLflow run: the
next fit in the experiment ends it KILLED, saying why, and leaves alone the open runs of a live process, of
another host and of a tag it did not write."""

from __future__ import annotations

import logging
import os
import signal
import socket
from pathlib import Path

import pytest

from cleargate.tracking.abandoned_runs import ENDED_TAG, OWNER_TAG, owner_tag
from tests.projects import load_params, python_child, tiny_params, write_params

KILLED_MID_FIT = """
import os, signal, sys
from tests.projects import load_params
from cleargate.tracking.model_runs import training_run

with training_run(load_params(sys.argv[1], "digits"), "rf") as run:
    print(run.id, os.getpid(), flush=True)
    os.kill(os.getpid(), signal.SIGKILL)
"""


def test_a_fit_killed_outright_is_ended_killed_by_the_next_fit_and_no_live_or_remote_run_is(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture):
    from mlflow.tracking import MlflowClient

    from cleargate.tracking.model_runs import training_run

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.chdir(tmp_path)  # the artifact folder of params.yaml, relative
    params_path = write_params(tmp_path / "params.yaml", tiny_params())
    child = python_child(KILLED_MID_FIT, str(params_path), timeout=120, cwd=tmp_path)
    assert child.returncode == -signal.SIGKILL, child.stderr[-3000:]
    client = MlflowClient(uri)
    run_id, pid = child.stdout.split()[-2:]
    killed = client.get_run(run_id)
    assert killed.info.status == "RUNNING" and killed.data.tags[OWNER_TAG].split("|")[:2] == [socket.gethostname(), pid]
    experiment, host = killed.info.experiment_id, socket.gethostname()
    alive = client.create_run(experiment, run_name="alive", tags=owner_tag()).info.run_id   # this process's
    remote = client.create_run(experiment, run_name="remote", tags={OWNER_TAG: "elsewhere.invalid|1|0.000"}).info.run_id
    reused = client.create_run(experiment, run_name="reused",   # this pid, but a process started at another time
                               tags={OWNER_TAG: f"{host}|{owner_tag()[OWNER_TAG].split('|')[1]}|12345.000"}).info.run_id
    garbled = client.create_run(experiment, run_name="garbled", tags={OWNER_TAG: f"{host}|set by hand"}).info.run_id

    with caplog.at_level(logging.WARNING, logger="cleargate.tracking"), \
            training_run(load_params(params_path, "digits"), "rf") as fit:
        pass

    status = {run: client.get_run(run).info.status
              for run in (killed.info.run_id, reused, alive, remote, garbled, fit.id)}
    assert status == {killed.info.run_id: "KILLED", reused: "KILLED", alive: "RUNNING", remote: "RUNNING",
                      garbled: "RUNNING", fit.id: "FINISHED"}, status
    said = client.get_run(killed.info.run_id).data.tags[ENDED_TAG]
    assert said.startswith(f"the process that opened this run ({host}|{pid}|"), said
    assert said.endswith(f"was gone when process {os.getpid()} started a fit"), said
    assert client.get_run(killed.info.run_id).info.end_time is not None
    assert "ended 2 run(s) KILLED whose fit's process is gone" in caplog.text, caplog.text
    assert client.get_run(fit.id).data.tags[OWNER_TAG] == owner_tag()[OWNER_TAG]
