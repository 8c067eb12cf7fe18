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
    """An error the worker cannot send back to the flow (pickled: a client library's exception holding an open
    file or socket) is sent as a RuntimeError with its type and message, instead of failing the pool itself."""
    try:
        yield
    except Exception as exc:
        try:
            pickle.dumps(exc)
        except Exception:
            raise RuntimeError(f"{type(exc).__module__}.{type(exc).__name__}: {exc}") from None
        raise


def stage_task(call: StageCall):  # -> a configured Prefect task
    """`execute` named after the stage call; a fit is tried once more (a fit's worker can be lost)."""
    return execute.with_options(name=call.dvc_name, retries=1 if call.stage.fit else 0, retry_delay_seconds=5)
