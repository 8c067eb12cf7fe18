"""Stopping a run cleanly: Ctrl-C, a SIGTERM (`kill`, or a Prefect worker cancelling the flow run from the UI).

- The run's process: Ctrl-C is Python's KeyboardInterrupt; a SIGTERM is Prefect's `TerminationSignal` (its flow
  engine turns the signal into it, and tells a cancellation from a crash). Either unwinds the flow; on its way the
  pipeline stops its pool workers by pid (`stop_workers`), before the pools would wait for them, and records the
  stages that finished in dvc.lock; the entry point then prints one line and exits 130 or 143
  (`cleargate.errors`).
- A pool worker (`stoppable_stage`, around each stage): Ctrl-C is ignored there (the run's to handle: no
  traceback per worker); a SIGTERM (from the run, or to the whole process group) unwinds the stage, so its MLflow
  run ends FAILED and no half-written model is left, then the worker exits, whatever the stage raised on its
  way out (a fit is never tried again once stopped). A SIGTERM that lands inside a call to MLflow's client is
  raised as that call returns: a SQL write cut in two keeps SQLite's lock in the worker, and MLflow's end of the
  run would wait on it past the worker's grace (or fail), leaving the run RUNNING.
"""

from __future__ import annotations

import inspect
import multiprocessing
import os
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from types import FrameType
from typing import Any

from cleargate.errors import INTERRUPTED, TERMINATED

WORKER_GRACE_S = 5.0   # a worker unwinds its stage (closes its MLflow run) in this time, or is killed
STORE_CLIENT_MODULES = ("mlflow.", "sqlalchemy.", "sqlite3")  # the tracking client: a stop never cuts its calls
GENERATOR_FLAGS = inspect.CO_GENERATOR | inspect.CO_COROUTINE | inspect.CO_ASYNC_GENERATOR

_stopping = False      # this worker was told to stop: its stage ends, and so does the worker
_deferred = False      # a stop waits for the tracking call it landed in to return


class StageStopped(BaseException):
    """The run was stopped while this stage ran (a BaseException: no `except Exception` of a stage swallows it)."""


def _stop_stage(signum: int, frame: FrameType | None) -> None:
    global _stopping, _deferred
    _stopping = True
    if _deferred:  # a second SIGTERM (the pool's own, after the run's) while the first waits: that one will do
        return
    call = outermost_call(frame, STORE_CLIENT_MODULES)
    if call is not None and sys.gettrace() is None:  # raised as that call returns, as pdb's set_trace stops there
        _deferred = True
        call.f_trace_lines = False
        call.f_trace = _stop_on_return
        sys.settrace(_trace_nothing_new)
        return
    raise StageStopped(f"signal {signum}")


def _trace_nothing_new(frame: FrameType, event: str, arg: object) -> None:
    return None  # tracing is on only for the frame `_stop_stage` marked; no frame called from now on is traced


def _stop_on_return(frame: FrameType, event: str, arg: object) -> Any:
    global _deferred
    if event != "return":
        return _stop_on_return
    sys.settrace(None)
    _deferred = False
    raise StageStopped("SIGTERM, raised as the tracking call it landed in returned")


def outermost_call(frame: FrameType | None, modules: tuple[str, ...]) -> FrameType | None:
    """The outermost function call of one of `modules` (prefixes of module names) in `frame`'s stack, or None:
    its return is where a stop lands once the call is over (a generator's frame is passed by: it only pauses)."""
    found = None
    while frame is not None:
        if frame.f_globals.get("__name__", "").startswith(modules) and not frame.f_code.co_flags & GENERATOR_FLAGS:
            found = frame
        frame = frame.f_back
    return found


@contextmanager
def stage_signals() -> Iterator[None]:
    """A stage's signals in a pool worker's main thread: Ctrl-C ignored (the run's to handle); a SIGTERM raised as
    StageStopped where it lands or, inside a call to MLflow's client, as that call returns."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    previous = signal.signal(signal.SIGTERM, _stop_stage)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextmanager
def stoppable_stage() -> Iterator[None]:
    """Around one stage in a pool worker: Ctrl-C ignored, a SIGTERM unwinds the stage, then the worker exits."""
    if threading.current_thread() is not threading.main_thread():  # signals reach the main thread only
        yield
        return
    with stage_signals():
        try:
            yield
        except BaseException:
            if _stopping:  # unwound by the stop: StageStopped, Lightning's own SIGTERMException, or what it became
                signal.signal(signal.SIGTERM, signal.SIG_IGN)  # a further SIGTERM changes nothing now
                end_open_run()
                os._exit(TERMINATED)  # its runs are closed, its temporary files gone; nothing else to do, no retry
            raise


def end_open_run() -> None:
    """The stage's MLflow run still open after a stop, ended FAILED: one the stop caught after `mlflow.start_run`
    created it and before a `with` held it (a worker exits without MLflow's exit hook)."""
    mlflow = sys.modules.get("mlflow")
    if mlflow is not None:
        with suppress(Exception):
            if mlflow.active_run() is not None:
                mlflow.end_run("FAILED")


def terminate_on_sigterm() -> None:
    """In the run's own process (`cleargate run`): a SIGTERM unwinds the flow as Prefect's engine does under a
    worker, by raising Prefect's `TerminationSignal` (which its engine records as the run's crash)."""
    def terminate(signum: int, frame: object) -> None:
        from prefect.exceptions import TerminationSignal

        raise TerminationSignal(signal=signum)

    signal.signal(signal.SIGTERM, terminate)


def stop_workers(grace: float = WORKER_GRACE_S) -> None:
    """SIGTERM to this process's pool workers (the fit lane's and the dataset lane's: multiprocessing's children),
    SIGKILL to any still there after `grace` seconds."""
    workers = multiprocessing.active_children()
    for worker in workers:
        with suppress(OSError):
            worker.terminate()
    for worker in workers:
        worker.join(grace)
        if worker.is_alive():
            with suppress(OSError):
                worker.kill()
            worker.join(1)


def acknowledge_cancellation(exc: BaseException) -> None:
    """A run stopped by a SIGTERM while its state is Cancelling (the UI's Cancel, under a worker): set it Cancelled
    now that it has stopped cleanly (workers stopped, what finished recorded), rather than wait for the worker to
    notice the process is gone. Best effort: any other exception, or an API that does not answer, changes nothing."""
    from prefect.client.orchestration import get_client
    from prefect.context import FlowRunContext
    from prefect.exceptions import TerminationSignal
    from prefect.states import Cancelled

    context = FlowRunContext.get()
    if not isinstance(exc, TerminationSignal) or context is None or context.flow_run is None:
        return
    with suppress(Exception), get_client(sync_client=True) as client:
        if client.read_flow_run(context.flow_run.id).state.is_cancelling():
            client.set_flow_run_state(context.flow_run.id, Cancelled(
                message="stopped cleanly: its pool workers stopped, the finished stages recorded in dvc.lock"))


def stopped_by(exc: BaseException) -> tuple[int, str] | None:
    """The exit code and name of a stop (Ctrl-C, SIGTERM), or None for any other exception."""
    from prefect.exceptions import TerminationSignal

    if isinstance(exc, KeyboardInterrupt):
        return INTERRUPTED, "Ctrl-C"
    if isinstance(exc, TerminationSignal):
        return TERMINATED, "SIGTERM"
    return None
