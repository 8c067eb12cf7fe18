"""Ctrl-C or SIGTERM during a run: stop now, keep what finished, say so in one line.

Ctrl-C reaches every process of the terminal's foreground group. Without this, the pool workers each raised
KeyboardInterrupt inside their stage (tracebacks), Prefect's API server died under the flow, and the run then
hung for minutes: Prefect retried its last state updates against the dead server (measured: no exit within two
minutes). Now:
- Prefect's API server runs in its own session (flows/ephemeral_api.py) and the pool workers ignore SIGINT
  (`hand_signals_to_the_run`, first thing in each task), so only the run's own process sees Ctrl-C;
- that process stops its workers at once (`stop_workers`: SIGTERM, by pid, to the processes it started that share
  its session, which leaves out the API server, the watchdog and multiprocessing's resource tracker), instead of
  waiting for the running fit to end;
- a worker's SIGTERM unwinds the stage it runs (`finally` blocks remove its temporary folders, MLflow ends its run
  as failed) and the worker exits without answering (`exits_when_stopped`): an answer would be a BaseException
  that Prefect's pool callback re-raises in a thread of the run's process, printing a traceback;
- SIGTERM to the run's process does the same (`terminate_like_ctrl_c`);
- the flow then records the stages that finished in dvc.lock as usual (`RunLedger.record`, in the flow's
  `finally`), Prefect marks the flow run crashed, and the entry point prints one line and exits 130 (Ctrl-C) or
  143 (SIGTERM). The next `make run` runs only what had not finished.
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from multiprocessing import resource_tracker

import psutil
from prefect.exceptions import TerminationSignal

from flows.watchdog import stop


class Terminated(BaseException):
    """SIGTERM to the run's process (`terminate_like_ctrl_c`)."""


# Ctrl-C; SIGTERM, as our handler raises it or as Prefect's flow engine does where it installs its own
INTERRUPTS = (KeyboardInterrupt, Terminated, TerminationSignal)


@contextmanager
def terminate_like_ctrl_c() -> Iterator[None]:
    """In the run's process: SIGTERM (a scheduler, `kill`, a CI timeout) stops the run as Ctrl-C does, instead
    of ending the process where it stands (the watchdog then stops its children, but nothing that finished in
    this run is recorded). The previous SIGINT and SIGTERM handlers come back afterwards."""
    if threading.current_thread() is not threading.main_thread():  # only the main thread may set handlers
        yield
        return
    previous = {number: signal.getsignal(number) for number in (signal.SIGINT, signal.SIGTERM)}
    signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


def _raise_terminated(signum: int, frame: object) -> None:
    raise Terminated


class StopRequested(BaseException):
    """SIGTERM in a pool worker while it runs a stage: the run is stopping it."""


_IN_STAGE = threading.Event()


def hand_signals_to_the_run() -> None:
    """In a pool worker: ignore Ctrl-C (the run's process stops this one) and take SIGTERM as a stop. Stage
    commands started from here inherit the ignored SIGINT. Only the main thread may set handlers; a task run in
    another thread keeps the defaults."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, _on_sigterm)


def _on_sigterm(signum: int, frame: object) -> None:
    if _IN_STAGE.is_set():
        raise StopRequested  # unwind the stage first (exits_when_stopped)
    os._exit(128 + signum)  # between stages: nothing to unwind


@contextmanager
def exits_when_stopped() -> Iterator[None]:
    """Around a stage in a pool worker: on `StopRequested`, once the stage has unwound, exit this process."""
    _IN_STAGE.set()
    try:
        yield
    except StopRequested:
        os._exit(128 + signal.SIGTERM)
    finally:
        _IN_STAGE.clear()


def stop_workers() -> int:
    """Stop every process this one started, and theirs, that stayed in this process's session (pool workers,
    stage commands, Dask's workers); how many there were."""
    session, tracker = os.getsid(0), getattr(resource_tracker._resource_tracker, "_pid", None)
    ours = []
    for process in psutil.Process().children(recursive=True):
        try:
            if process.pid != tracker and os.getsid(process.pid) == session:
                ours.append(process)
        except (OSError, psutil.Error):
            continue
    stop(ours)
    return len(ours)


def exit_code(exc: BaseException) -> int:
    """128 + the signal's number, as a shell reports a process a signal ended: 130 for Ctrl-C, 143 for SIGTERM."""
    if isinstance(exc, TerminationSignal):
        return 128 + int(exc.signal)
    return 128 + int(signal.SIGTERM if isinstance(exc, Terminated) else signal.SIGINT)


def described(exc: BaseException) -> str:
    return "SIGTERM" if exit_code(exc) == 128 + signal.SIGTERM else "Ctrl-C"
