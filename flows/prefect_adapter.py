"""The flows' one use of Prefect below its public API: a process pool whose workers start with their imports done.

Prefect's `ProcessPoolTaskRunner` starts each worker with `spawn`: a fresh interpreter that imports Prefect's task
engine, cleargate's stage code, MLflow, skops (which imports every scikit-learn estimator, and torch) and pandas
before its first task; about 5 s of CPU, paid again by every worker of every run. `PreloadedProcessPool` is the same
runner (same tasks, log and event forwarding, cancellation) with one change: its workers are forked from
multiprocessing's fork server, a clean process (started from a fresh interpreter, no threads) that has imported
`PRELOAD` once. What only one lane needs (Lightning for the fits, Great Expectations for the dataset stages) is
still imported by the worker that needs it, so the fork server is ready as soon as a spawned worker would be.

Each worker also takes the environment of the process that opened the pool (`adopt_environment`): the fork server
keeps the environment it started with, and Prefect only adds the run's variables to a worker's, so a variable
removed since (a test's, in a process that runs several flows) would otherwise still be set there. A worker's
stdout and stderr are the fork server's: where the process's pointed when its first pool started (the terminal, or
the log a scheduled run writes), not where a later redirection of the process's own file descriptors points.

It copies `ProcessPoolTaskRunner.__enter__` with that one change (Prefect builds its `spawn` context inside it).
tests/integration/test_prefect_adapter.py checks it against the installed Prefect: a Prefect release that changes
that method fails there, not in a user's run.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from typing import Any, Self

from prefect.task_runners import ProcessPoolTaskRunner, TaskRunner, _initialize_process_pool_worker

# What every pool worker imports before its first task, whichever lane it serves: Prefect's task engine and the
# stage task (cleargate's stage entry, params, interrupts), MLflow (each fit logs a run, each release registers
# a version), skops (each tree model is saved or loaded through it) and pandas. The flows add MLflow's SQL stores
# where the tracking store is a database (`flows.beside.pool_preload`).
PRELOAD = ("prefect.task_engine", "flows.stage_task", "mlflow", "skops.io", "pandas")


def adopt_environment(environment: dict[str, str]) -> None:
    """In a new worker: exactly the environment of the process that opened the pool."""
    os.environ.clear()
    os.environ.update(environment)


def preloaded_context(modules: Sequence[str]) -> Any:
    """multiprocessing's fork server context, its server told to import `modules` when it starts (once per
    process: later calls find it running and change nothing)."""
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(list(modules))
    return context


class PreloadedProcessPool(ProcessPoolTaskRunner):
    """Prefect's process pool, its workers forked from a fork server that has imported `preload`."""

    def __init__(self, max_workers: int | None = None, preload: Sequence[str] = PRELOAD) -> None:
        super().__init__(max_workers=max_workers)
        self.preload = tuple(preload)

    def __enter__(self) -> Self:
        # Prefect's own __enter__, with the fork server's context where it builds a spawn context.
        TaskRunner.__enter__(self)
        self._initializer, self._initargs = adopt_environment, (dict(os.environ),)
        mp_context = preloaded_context(self.preload)
        self._subprocess_message_queue = mp_context.Queue()
        self._message_forwarding_thread = threading.Thread(
            target=self._forward_subprocess_messages, name="ProcessPoolTaskRunnerMessageForwarder", daemon=True)
        self._message_forwarding_thread.start()
        try:
            self._executor = ProcessPoolExecutor(
                max_workers=self._max_workers, mp_context=mp_context, initializer=_initialize_process_pool_worker,
                initargs=(self._subprocess_message_queue, self._initializer, self._initargs))
            self._resolver_executor = ThreadPoolExecutor(max_workers=self._max_workers)
        except Exception:
            if self._executor is not None:
                self._executor.shutdown(cancel_futures=True, wait=True)
                self._executor = None
            self._stop_message_forwarding()
            raise
        return self
