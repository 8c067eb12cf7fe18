"""What the pipeline flow does beside its stages, off the run's critical path (flows/pipeline.py drives it):
- the fit workers' warm-up (`warm_up`): each imports the train and evaluate code before its first fit, while the
  first dataset is still being validated;
- the imports the run's own process needs only at its end (`end_imports`), in a thread once the fits started;
- the fit workers' exit, as soon as the last model stage is done (`Beside`).
Profiled, each was seconds on the run's serial path (README, "Pipeline overhead").
"""

from __future__ import annotations

import importlib
import threading
from contextlib import suppress

from prefect import task
from prefect.cache_policies import NO_CACHE
from prefect.context import FlowRunContext
from prefect.futures import PrefectFuture
from prefect.task_runners import ProcessPoolTaskRunner

from cleargate.graph import StageCall, stage, stage_modules
from cleargate.params import DatasetParams, ProjectParams
from cleargate.runtime import exit_without_heap_walks, quiet_third_party
from cleargate.tracking import ensure_tables, is_server, tracking_uri
from flows import dvc_state
from flows.schedule import Schedule, lane

# What the fit lane's stages import inside functions, beyond cleargate's own modules: the first tree fit of a run
# paid 6.7 s for them (train@covid_hgb 8.1 s for a 1.4 s fit, `make run` 2026-11-26) on the run's critical path.
# skops.io enumerates every scikit-learn estimator as it loads (1.7 s); MLflow's SQL stores load alembic and
# SQLAlchemy's models when the first client opens a database (1.7 s); Agg draws the evaluation plots.
LAZY_IMPORTS = ("skops.io", "matplotlib.backends.backend_agg", "sklearn.calibration")
SQL_STORE_IMPORTS = ("mlflow.store.tracking.sqlalchemy_store", "mlflow.store.model_registry.sqlalchemy_store")


@task(cache_policy=NO_CACHE)
def warm_up(modules: list[str], params: DatasetParams) -> None:
    """Import the fit lane's code (torch, Lightning, scikit-learn, skops, MLflow's store: ~12 s) in a fit worker
    while the first dataset is still being validated, so the first fit does not wait for it; then a new SQLite
    tracking store's tables (MLflow's migrations, ~3 s, its SQL store imported just before). This process used
    to make them before the flow started: 7 s on the run's critical path, before any worker existed. Whichever
    process opens a new store first makes them (`ensure_tables`, under a file lock), so a failure here is the
    stage's to report, with its own message."""
    quiet_third_party()
    exit_without_heap_walks()
    for module in modules:
        importlib.import_module(module)
    with suppress(Exception):
        ensure_tables(params)


def warm_modules(project: ProjectParams) -> list[str]:
    """The modules a fit worker imports before its first stage: cleargate's train and evaluate code (lazy imports
    included), then the third-party modules those import inside functions; MLflow's SQL stores only when the
    tracking store is a database (a tracking server needs only MLflow's REST client, imported with MLflow)."""
    own = stage_modules(stage("train").module, stage("evaluate").module)
    return [*sorted(own), *LAZY_IMPORTS, *sql_store_imports(project)]


def sql_store_imports(project: ProjectParams) -> tuple[str, ...]:
    """MLflow's SQL store modules where the tracking store is a database; none for a tracking server."""
    return () if is_server(tracking_uri(project)) else SQL_STORE_IMPORTS


def end_imports(project: ProjectParams) -> list[str]:
    """What this process imports only at the end of a run (`_record_timings`: MLflow, and its SQL store when the
    store is a database; ~5 s on the run's serial tail), imported beside the fits instead (`import_beside`)."""
    return ["cleargate.tracking.runs", *sql_store_imports(project)]


def import_beside(modules: list[str]) -> None:
    """Import `modules` in a daemon thread. A later import of one of them in another thread waits for this one
    (Python's per-module import lock) or finds it done; one that fails here fails again there, with its error."""
    def load() -> None:
        with suppress(Exception):
            for module in modules:
                importlib.import_module(module)

    threading.Thread(target=load, name="cleargate-end-imports", daemon=True).start()


def warm_fit_workers(project: ProjectParams, calls: list[StageCall], state: dvc_state.Staleness,
                      rerun: set[str]) -> list[PrefectFuture]:
    """One warm-up per fit worker when anything may run (DVC finds a planned stage stale, or one is asked for);
    none on a no-op run."""
    if not state.stale & {c.dvc_name for c in calls} and not rerun:
        return []
    modules, params = warm_modules(project), project.scope(calls[0].dataset)
    return [warm_up.submit(modules, params) for _ in range(project.orchestration.fit_workers)]


class Beside:
    """Work the run's own process starts beside the stages, each once, off the run's serial tail:
    - after the first model stage: its end-of-run imports (`end_imports`), in a thread;
    - after the last model stage: the fit workers' exit (1.4-1.8 s: torch, Lightning and MLflow torn down), in
      a thread, while the last dataset is gated and promoted. Prefect closes the flow's process pool again when
      the flow returns (`cancel_all`: the pool is already shut down then, so that does nothing). Not with
      `--stability-seeds`, whose fits may still use the pool before a gate, nor with a Dask runner."""

    def __init__(self, project: ProjectParams, schedule: Schedule, stability_seeds: int) -> None:
        self.project, self.schedule, self.stability_seeds = project, schedule, stability_seeds
        self.imported = False
        self.exiting: threading.Thread | None = None

    def after(self, call: StageCall) -> None:
        if lane(call) != "fit":
            return
        if not self.imported:  # the start-up's imports are over in every process by now
            self.imported = True
            import_beside(end_imports(self.project))
        context = FlowRunContext.get()
        runner = context.task_runner if context else None
        if self.exiting is None and not self.stability_seeds and isinstance(runner, ProcessPoolTaskRunner) \
                and self.schedule.lane_finished("fit"):
            self.exiting = threading.Thread(target=runner.cancel_all, name="cleargate-fit-workers-exit", daemon=True)
            self.exiting.start()

    def join(self) -> None:
        if self.exiting is not None:
            self.exiting.join()
