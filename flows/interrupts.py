"""Stopping a run cleanly: Ctrl-C, a SIGTERM (`kill`, or a Prefect worker cancelling the flow run from the UI).

- The run's process: Ctrl-C is Python's KeyboardInterrupt; a SIGTERM is Prefect's `TerminationSignal` (its flow
  engine turns the signal into it, and tells a cancellation from a crash). Either unwinds the flow; on its way the
  pipeline stops its pool workers by pid (`stop_workers`), before the pools would wait for them, and records the
  stages that finished in dvc.lock; the entry point then prints one line and exits 130 or 143
  (`cleargate.errors`).
- A pool worker (`stoppable_stage`, around each stage): Ctrl-C is ignored there (the run's to handle: no
  traceback per worker); a SIGTERM (from the run, or to the whole process group) unwinds the stage, so its MLflow
  run ends FAILED and no half-written model is left, then the worker exits.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress

from cleargate.errors import INTERRUPTED, TERMINATED

WORKER_GRACE_S = 5.0   # a worker unwinds its stage (closes its MLflow run) in this time, or is killed


class StageStopped(BaseException):
    """The run was stopped while this stage ran (a BaseException: no `except Exception` of a stage swallows it)."""


def _stop_stage(signum: int, frame: object) -> None:
    raise StageStopped(f"signal {signum}")


@contextmanager
def stoppable_stage() -> Iterator[None]:
    """Around one stage in a pool worker: Ctrl-C ignored, a SIGTERM unwinds the stage, then the worker exits."""
    if threading.current_thread() is not threading.main_thread():  # signals reach the main thread only
        yield
        return
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    previous = signal.signal(signal.SIGTERM, _stop_stage)
    try:
        yield
    except StageStopped:
        os._exit(TERMINATED)  # the stage has unwound (its runs closed, temporary files gone); nothing else to do
    finally:
        signal.signal(signal.SIGTERM, previous)


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
