"""Where the flow's fits run: params.yaml `orchestration.task_runner`, as a Prefect task runner.

- `process`: Prefect's `ProcessPoolTaskRunner`, `fit_workers` processes on this machine, forked with their imports
  done (`flows.prefect_adapter.PreloadedProcessPool`).
- `dask`: prefect-dask's `DaskTaskRunner` on the workers of the Dask scheduler at `dask_address` (checked
  before any work: an unreachable scheduler, or one with no worker, is one line naming the address), or, with
  no address, on a `distributed.LocalCluster` of `fit_workers` worker processes on this machine, started for
  the run and stopped after it.

Both run the same task (`flows.pipeline.execute`: one stage's `run`, seeded inside), so the results do not
depend on the runner. Dask workers must see the project at the same absolute path (a shared file system) and
have the same environment (`make setup`); docs/operations.md, "Scale out with Dask".
"""

from __future__ import annotations

from typing import Any

from prefect.task_runners import TaskRunner

from cleargate.config.orchestration import OrchestrationConfig
from cleargate.errors import CleargateError, ServiceError
from cleargate.params import ProjectParams
from cleargate.tracking.store import tracking_uri
from flows.beside import pool_preload
from flows.prefect_adapter import PreloadedProcessPool

FIX = ("start one there (`dask scheduler`, then `dask worker <address>` on each machine that fits), or point "
       "orchestration.dask_address in params.yaml at a running one (task_runner: process runs here instead)")


def task_runner(project: ProjectParams, workers: int | None = None, checked: bool = False) -> TaskRunner:
    """The runner params.yaml asks for; a scheduler named there must answer first (`preflight`; `checked`: the
    caller did it). `workers` sizes a local pool or cluster when a flow runs other work than fits (tuning
    trials); default `fit_workers`."""
    orchestration = project.orchestration
    workers = workers or orchestration.fit_workers
    if orchestration.task_runner == "process":
        return PreloadedProcessPool(max_workers=workers, preload=pool_preload(project))
    from prefect_dask import DaskTaskRunner

    if orchestration.dask_address:
        if not checked:
            preflight(project)
        return DaskTaskRunner(address=orchestration.dask_address)
    return DaskTaskRunner(cluster_class="distributed.LocalCluster",
                          cluster_kwargs=local_cluster_options(workers))


def preflight(project: ProjectParams) -> None:
    """A Dask scheduler params.yaml names answers and its workers can run the project (`check_scheduler`); nothing
    to check for a process pool or a cluster the run starts itself."""
    orchestration = project.orchestration
    if orchestration.task_runner == "dask" and orchestration.dask_address:
        check_scheduler(orchestration, tracking_uri(project.scope(next(iter(project.datasets)))))


def describe(project: ProjectParams, runner: TaskRunner) -> tuple[str, str | None]:
    """What ran the fits, for the run's record: ("process pool of N", None), or ("Dask at <scheduler>" (a local
    cluster or the team's), its dashboard link or None)."""
    if project.orchestration.task_runner == "process":
        return f"process pool of {project.orchestration.fit_workers}", None
    client = getattr(runner, "client", None)  # prefect-dask's connected distributed.Client
    address = client.scheduler.address if client is not None else project.orchestration.dask_address
    cluster = "" if project.orchestration.dask_address else "local cluster, "
    dashboard = getattr(client, "dashboard_link", None) if client is not None else None
    return f"Dask ({cluster}{address})", dashboard


def local_cluster_options(workers: int) -> dict[str, Any]:
    """A LocalCluster that behaves like the process pool: `workers` processes, one fit at a time in each, no
    memory limit (a pool has none; Dask's would kill a large fit), on loopback, no dashboard."""
    return {"n_workers": workers, "threads_per_worker": 1, "processes": True, "memory_limit": 0,
            "host": "127.0.0.1", "dashboard_address": None}


def check_scheduler(orchestration: OrchestrationConfig, tracking_uri: str) -> None:
    """The scheduler at `dask_address` answers, has at least one worker within `dask_connect_budget_s`, and every
    worker can import the project's code and reach its tracking store; otherwise one line (the address or the
    worker, the check, the fix), before Prefect starts or anything trains."""
    from distributed import Client

    address, budget = orchestration.dask_address, orchestration.dask_connect_budget_s

    def _worker_problems(tracking_uri: str) -> list[str]:
        """Run on each Dask worker; defined here so that it is sent by value and runs even where the project
        cannot be imported: what of the project the worker cannot do."""
        import importlib
        import urllib.request

        problems = []
        for module in ("cleargate", "flows"):
            try:
                importlib.import_module(module)
            except Exception as exc:  # whatever the worker's environment raises, said in one line
                problems.append(f"cannot import {module} ({type(exc).__name__}: {exc})")
        if tracking_uri.startswith(("http://", "https://")):
            try:
                urllib.request.urlopen(f"{tracking_uri.rstrip('/')}/health", timeout=5).close()
            except Exception as exc:
                problems.append(f"cannot reach the tracking server {tracking_uri} ({type(exc).__name__})")
        return problems

    try:
        client = Client(address, timeout=budget, set_as_default=False)
    except ValueError as exc:
        raise CleargateError(f"{address}: not a Dask scheduler address ({exc}); set orchestration.dask_address in "
                             "params.yaml to tcp://HOST:PORT (`dask scheduler` prints it)") from None
    except (OSError, TimeoutError) as exc:
        raise ServiceError(f"{address}: Dask scheduler not reachable after {budget:g} s "
                             f"({type(exc).__name__}); {FIX}") from None
    try:
        client.wait_for_workers(1, timeout=budget)
        problems = client.run(_worker_problems, tracking_uri)   # {worker address: [what it cannot do]}
    except (OSError, TimeoutError):
        raise ServiceError(f"{address}: the Dask scheduler has no worker after {budget:g} s; start one on each "
                             f"machine that fits (`dask worker {address}`, in the project's environment)") from None
    finally:
        client.close()
    for worker, found in sorted(problems.items()):
        if found:
            raise ServiceError(f"Dask worker {worker}: {found[0]}; start it in the project's environment (`make "
                               f"setup` from the same commit, then `dask worker {address}`), with the project's "
                               "MLFLOW_TRACKING_URI")

