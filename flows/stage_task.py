"""The task every stage call runs as, in a pool worker or on a Dask worker: the stage's own function, timed.

A module of its own, imported by name: a worker unpickles the task by its module (`flows.stage_task`), which it
can import whatever loaded the flow (`python -m flows`, or a deployment loading `flows/pipeline.py` as a script).
"""

from __future__ import annotations

import pickle
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from prefect import task
from prefect.cache_policies import NO_CACHE
from prefect.runtime import flow_run

from cleargate.graph import StageCall
from cleargate.params import ProjectParams
from cleargate.runtime import limit_threads, start_process, threads_for
from cleargate.stages.entry import run_stage
from flows.fits import fit_command, own_process_tree
from flows.interrupts import stoppable_stage


@task(cache_policy=NO_CACHE)
def execute(call: StageCall, project: ProjectParams, threads: int | None = None) -> tuple[Any, float]:
    """The stage function itself, timed; DVC bookkeeping stays in the flow's process (one writer of dvc.lock).
    `threads`: the CPU threads a model stage may use (cores shared by the fits running side by side)."""
    start_process()  # a pool worker starts fresh: offline, quiet, a quick exit, like the run's own process
    if threads is not None:
        limit_threads(threads)
    extra = {"flow_run_id": flow_run.get_id()} if call.stage.name == "promote" else {}
    started = time.perf_counter()
    with stoppable_stage(), portable_errors():  # Ctrl-C is the run's; a SIGTERM unwinds the stage (flows/interrupts)
        if own_process_tree(call, project):  # a multi-process (ddp) fit: the stage's command, its process tree
            return fit_command(call, project, threads or threads_for(1)), time.perf_counter() - started
        result = run_stage(call.stage, project, call.dataset, call.model, **extra)
    return result, time.perf_counter() - started


@contextmanager
def portable_errors() -> Iterator[None]:
    """A stage's error as the worker can send it back to the flow: Prefect pickles the exception with the ones it
    was raised during (`__context__`, `__cause__`), and a client library's exception there may hold an open file or
    socket (an upload cut short), which fails the pool itself. The chain is dropped (the worker's log keeps the
    traceback); an error that still cannot be pickled comes back as a RuntimeError with its type and message."""
    failure: Exception | None = None
    try:
        yield
    except Exception as exc:
        failure = exc
    if failure is not None:  # raised here, outside the handler, so that no new context is attached
        failure.__cause__ = failure.__context__ = None
        try:
            pickle.dumps(failure)
        except Exception:
            failure = RuntimeError(f"{type(failure).__module__}.{type(failure).__name__}: {failure}")
        raise failure


def stage_task(call: StageCall):  # -> a configured Prefect task
    """`execute` named after the stage call; a fit is tried once more (a fit's worker can be lost)."""
    return execute.with_options(name=call.dvc_name, retries=1 if call.stage.fit else 0, retry_delay_seconds=5)
