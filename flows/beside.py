"""What the pipeline flow does beside its stages, off the run's critical path (flows/pipeline.py drives it):
- the fit workers' warm-up (`warm_up`): each imports the train and evaluate code before its first fit, while the
  first dataset is still being validated;
- the imports the run's own process needs only at its end (`end_imports`), in a thread once the fits started.
Each would otherwise be seconds on the run's serial path.
"""

from __future__ import annotations

import importlib
import threading
from contextlib import suppress

from prefect import task
from prefect.cache_policies import NO_CACHE
from prefect.futures import PrefectFuture
from prefect.task_runners import TaskRunner

from cleargate.graph import StageCall, stage, stage_modules
from cleargate.params import DatasetParams, ProjectParams
from cleargate.runtime import start_process
from cleargate.tracking import ensure_tables, is_server, tracking_uri
from flows import dvc_adapter
from flows.prefect_adapter import PRELOAD
from flows.schedule import lane, may_run

# What the fit lane's stages import inside functions, beyond cleargate's own modules (the first fit of a run would
# pay for them, seconds more than a small tree's fit): skops.io enumerates every scikit-learn estimator as it
# loads; MLflow's SQL stores load alembic and SQLAlchemy's models when the first client opens a database; Agg
# draws the evaluation plots.
LAZY_IMPORTS = ("skops.io", "matplotlib.backends.backend_agg", "sklearn.calibration")
# What only a deep (torch-flavoured) model's fit and explanations import: a project of trees alone is not warmed with
# the modules that import them (3 s of Lightning in every fit worker of every run).
DEEP_ONLY = ("lightning", "captum")
SQL_STORE_IMPORTS = ("mlflow.store.tracking.sqlalchemy_store", "mlflow.store.model_registry.sqlalchemy_store")


@task(cache_policy=NO_CACHE)
def warm_up(modules: list[str], params: DatasetParams) -> None:
    """Import the fit lane's code (torch, Lightning, scikit-learn, skops, MLflow's store) in a fit worker while
    the first dataset is still being validated, so the first fit does not wait for it; then a new SQLite
    tracking store's tables (MLflow's migrations, its SQL store imported just before), off the run's critical
    path. Whichever process opens a new store first makes them (`ensure_tables`, under a file lock), so a
    failure here is the stage's to report, with its own message."""
    start_process()  # a pool worker starts fresh: offline, quiet, a quick exit, like the run's own process
    for module in modules:
        importlib.import_module(module)
    with suppress(Exception):
        ensure_tables(params)


def warm_modules(project: ProjectParams) -> list[str]:
    """The modules a fit worker imports before its first stage: cleargate's train and evaluate code (lazy imports
    included; without the deep models' own when the project has none), then the third-party modules those import
    inside functions; MLflow's SQL stores only when the tracking store is a database (a tracking server needs only
    MLflow's REST client, imported with MLflow)."""
    deep = any(model.flavour == "torch" for model in project.train.values())
    own = stage_modules(stage("train").module, stage("evaluate").module, leaving_out=() if deep else DEEP_ONLY)
    return [*sorted(own), *LAZY_IMPORTS, *sql_store_imports(project)]


def sql_store_imports(project: ProjectParams) -> tuple[str, ...]:
    """MLflow's SQL store modules where the tracking store is a database; none for a tracking server."""
    return () if is_server(tracking_uri(project)) else SQL_STORE_IMPORTS


def pool_preload(project: ProjectParams) -> list[str]:
    """What the fork server of the run's pools imports once for all their workers: what every worker imports
    (`flows.prefect_adapter.PRELOAD`), and MLflow's SQL stores where the tracking store is a database."""
    return [*PRELOAD, *sql_store_imports(project)]


def end_imports(project: ProjectParams) -> list[str]:
    """What this process imports only at the end of a run (`_record_timings`: MLflow, and its SQL store when the
    store is a database: seconds on the run's serial tail), imported beside the fits instead (`import_beside`)."""
    return ["cleargate.tracking.model_runs", *sql_store_imports(project)]


def import_beside(modules: list[str]) -> None:
    """Import `modules` in a daemon thread. A later import of one of them in another thread waits for this one
    (Python's per-module import lock) or finds it done; one that fails here fails again there, with its error."""
    def load() -> None:
        with suppress(Exception):
            for module in modules:
                importlib.import_module(module)

    threading.Thread(target=load, name="cleargate-end-imports", daemon=True).start()


def warm_fit_workers(fits: TaskRunner, project: ProjectParams, calls: list[StageCall], state: dvc_adapter.Staleness,
                     rerun: set[str]) -> list[PrefectFuture]:
    """One warm-up per fit worker, on the fits' runner, when a model stage may run (`may_run`); none when none may
    (a no-op run, or one that re-runs only a dataset's release: then no fit worker is started at all)."""
    if not any(lane(call) == "fit" for call in may_run(calls, state, rerun)):
        return []
    modules, params = warm_modules(project), project.scope(calls[0].dataset)
    return [fits.submit(warm_up, {"modules": modules, "params": params})
            for _ in range(project.orchestration.fit_workers)]


class Beside:
    """Work the run's own process starts beside the stages, once, off the run's serial tail: after the first model
    stage, its end-of-run imports (`end_imports`), in a thread."""

    def __init__(self, project: ProjectParams) -> None:
        self.project = project
        self.imported = False

    def after(self, call: StageCall) -> None:
        if lane(call) == "fit" and not self.imported:  # the start-up's imports are over in every process by now
            self.imported = True
            import_beside(end_imports(self.project))
