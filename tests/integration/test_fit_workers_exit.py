"""The pipeline flow lets its fit workers exit as soon as its last model stage is done (`flows.beside.Beside`):
their exit (torch, Lightning and MLflow torn down: 1.4-1.8 s) overlaps the last dataset's gate and promote
instead of following the flow. A real Prefect flow on a real process pool."""

from __future__ import annotations

import os
from pathlib import Path

import psutil
import pytest
from flows.beside import Beside
from flows.dvc_state import Staleness
from flows.schedule import Schedule, lane
from prefect import flow, task
from prefect.task_runners import ProcessPoolTaskRunner

from cleargate.graph import plan
from cleargate.params import load_project

ROOT = Path(__file__).resolve().parents[2]


@task
def worker_pid() -> int:
    return os.getpid()


@flow(task_runner=ProcessPoolTaskRunner(max_workers=1))
def model_stages_finish(stability_seeds: int) -> tuple[bool, bool, bool]:
    """Finish the model stages one by one; (worker alive before the last, released before it, alive after)."""
    project = load_project(ROOT / "params.yaml")
    calls = plan(project, ["breast_cancer"])
    pid = worker_pid.submit().result()
    schedule = Schedule.of(calls, Staleness(stale=set(), upstream={}))
    beside = Beside(project, schedule, stability_seeds)
    fits = [c for c in calls if lane(c) == "fit"]
    for call in fits[:-1]:
        schedule.start(call)
        schedule.finish(call)
        beside.after(call)
    before = _alive(pid), beside.exiting is None
    schedule.start(fits[-1])
    schedule.finish(fits[-1])
    beside.after(fits[-1])
    beside.join()
    return before[0], before[1], _alive(pid)


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


@pytest.mark.slow
def test_the_fit_workers_exit_once_the_last_model_stage_is_done():
    alive_before, not_yet_released, alive_after = model_stages_finish(0)
    assert alive_before and not_yet_released, "a model stage was still to come"
    assert not alive_after, "the worker exited before the flow returned"


@pytest.mark.slow
def test_with_stability_seeds_the_pool_stays_for_their_fits():
    assert model_stages_finish(1) == (True, True, True)
