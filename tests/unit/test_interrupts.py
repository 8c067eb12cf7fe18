"""What a pool worker sends back when its stage fails or is stopped, and when a lost tracking server is said as one."""

from __future__ import annotations

import json
import pickle
import subprocess

import pytest

from tests.projects import python_child


def test_an_error_a_worker_cannot_send_back_is_sent_without_its_chain_or_as_its_type_and_message():
    """Prefect's process pool sends a failed stage's error back pickled with the errors it was raised during."""
    import cloudpickle
    import requests

    from cleargate.errors import ServiceError
    from flows.stage_task import portable_errors

    with open(__file__, "rb") as body:  # an upload cut short: the request's body is an open file
        lost = requests.ConnectionError("Connection aborted.", request=requests.Request("PUT", "http://x", data=body)
                                        .prepare())
        with pytest.raises(TypeError):
            pickle.dumps(lost)
        with pytest.raises(RuntimeError, match=r"requests.exceptions.ConnectionError: Connection aborted."), \
                portable_errors():
            raise lost
        with pytest.raises(ServiceError, match="server gone") as said, portable_errors():
            try:
                raise lost
            except requests.ConnectionError:
                raise ServiceError("server gone") from None
        assert said.value.__context__ is None and cloudpickle.loads(cloudpickle.dumps(said.value)).args == (
            "server gone",)
    with pytest.raises(ValueError, match="kept as it is"), portable_errors():
        raise ValueError("kept as it is")


def test_a_connection_lost_mid_call_is_told_as_the_server_gone_even_if_its_port_still_answers():
    import requests

    from cleargate.tracking.store import _connection_lost

    try:
        try:
            raise requests.ConnectionError("reset by peer")
        except requests.ConnectionError as exc:
            raise RuntimeError("MLflow's wrapper") from exc
    except RuntimeError as wrapped:
        assert _connection_lost(wrapped)
    assert not _connection_lost(ValueError("a bug, not the server"))


STOPPED_MID_WRITE = r"""
import json, os, random, signal, sys, threading
import mlflow
from mlflow.tracking import MlflowClient
from flows.interrupts import StageStopped, end_open_run, stage_signals

uri = sys.argv[1]
mlflow.set_tracking_uri(uri)
mlflow.set_experiment("stops")
client, seen, chance = MlflowClient(uri), [], random.Random(7)
with stage_signals():  # the stage's signals, as a pool worker has them
    for attempt in range(int(sys.argv[2])):
        work = 20000 * (attempt % 2)  # a fit's run logs between epochs; here, also without a pause
        at = chance.uniform(0.02, 0.2)  # the run's SIGTERM, then the pool's own a moment later
        timers = [threading.Timer(delay, os.kill, (os.getpid(), signal.SIGTERM)) for delay in (at, at + 0.002)]
        for timer in timers:
            timer.start()
        try:
            with mlflow.start_run(run_name="fit") as run:
                while True:
                    sum(i * i for i in range(work))
                    client.log_metric(run.info.run_id, "loss", 0.5)
        except StageStopped:
            said = "stopped"
        except BaseException as exc:
            said = f"{type(exc).__name__}: {str(exc)[:200]}"
        while True:  # a second stop after the first unwound stops nothing more (a worker ignores it by then)
            try:
                [timer.join() for timer in timers]
                end_open_run()  # as the worker does before it exits: a run the stop caught in `start_run`
                break
            except StageStopped:
                pass
        runs = client.search_runs([mlflow.get_experiment_by_name("stops").experiment_id])
        seen.append([said, len(runs), sorted({run.info.status for run in runs})])
        print(json.dumps(seen), flush=True)
"""


def test_a_stop_that_lands_in_a_tracking_write_is_raised_as_it_returns_and_the_run_ends_failed(tmp_path):
    """A SIGTERM raised inside a SQLite write leaves the write's lock held in the worker: MLflow's end of the run
    then waits on it (20 s) or fails, and the run stays RUNNING. The worker's handler raises the stop as the store
    call returns (a second SIGTERM meanwhile does not cut in): every stop, landing where it may in a run that logs,
    unwinds as StageStopped and ends the run FAILED, at once."""
    stops = 30
    try:
        child = python_child(STOPPED_MID_WRITE, f"sqlite:///{tmp_path / 'mlflow.db'}", str(stops), timeout=90)
    except subprocess.TimeoutExpired as hung:
        said = (hung.stdout or b"").decode(errors="replace").splitlines() or ["none"]  # bytes, as the pipe gave
        pytest.fail(f"a stop left the store locked; stops so far: {said[-1]}")
    assert child.returncode == 0, child.stderr[-3000:]
    assert json.loads(child.stdout.splitlines()[-1]) == [["stopped", n, ["FAILED"]] for n in range(1, stops + 1)]


STOPPED_AND_CAUGHT = r"""
import os, signal, time
from flows.interrupts import StageStopped, stoppable_stage

with stoppable_stage():
    try:
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(5)
    except StageStopped:
        raise RuntimeError("a stage's except clause made the stop an error") from None
print("the stage went on")
"""


def test_a_stopped_stage_ends_its_worker_whatever_the_stop_became_so_no_fit_is_tried_again():
    """The stop unwinds the stage and the worker exits 143, even where the stage (or a library under it) turned the
    stop into an ordinary error: Prefect would try a fit again after an error, in a worker the run is stopping."""
    child = python_child(STOPPED_AND_CAUGHT, timeout=60)
    assert child.returncode == 143, child.stderr[-3000:]
    assert "went on" not in child.stdout and "Traceback" not in child.stderr, child.stderr[-3000:]
