"""Where the flow's fits run: params.yaml `orchestration.task_runner`, as a Prefect task runner.

- `process`: Prefect's `ProcessPoolTaskRunner`, `fit_workers` processes on this machine.
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

from prefect.task_runners import ProcessPoolTaskRunner, TaskRunner

from cleargate.config.orchestration import OrchestrationConfig
from cleargate.errors import CleargateError, ServiceError
from cleargate.params import ProjectParams

FIX = ("start one there (`dask scheduler`, then `dask worker <address>` on each machine that fits), or point "
       "orchestration.dask_address in params.yaml at a running one (task_runner: process runs here instead)")


def task_runner(project: ProjectParams, workers: int | None = None) -> TaskRunner:
    """The runner params.yaml asks for; a scheduler named there must answer first (see `check_scheduler`).
    `workers` sizes a local pool or cluster when a flow runs other work than fits (tuning trials); default
    `fit_workers`."""
    orchestration = project.orchestration
    workers = workers or orchestration.fit_workers
    if orchestration.task_runner == "process":
        return ProcessPoolTaskRunner(max_workers=workers)
    from prefect_dask import DaskTaskRunner

    if orchestration.dask_address:
        check_scheduler(orchestration)
        return DaskTaskRunner(address=orchestration.dask_address)
    return DaskTaskRunner(cluster_class="distributed.LocalCluster",
                          cluster_kwargs=local_cluster_options(workers))


def local_cluster_options(workers: int) -> dict[str, Any]:
    """A LocalCluster that behaves like the process pool: `workers` processes, one fit at a time in each, no
    memory limit (a pool has none; Dask's would kill a large fit), on loopback, no dashboard."""
    return {"n_workers": workers, "threads_per_worker": 1, "processes": True, "memory_limit": 0,
            "host": "127.0.0.1", "dashboard_address": None}


def check_scheduler(orchestration: OrchestrationConfig) -> None:
    """The scheduler at `dask_address` answers and has at least one worker within `dask_connect_budget_s`;
    otherwise one line (address, check, fix), before Prefect starts or anything trains."""
    from distributed import Client

    address, budget = orchestration.dask_address, orchestration.dask_connect_budget_s
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
    except (OSError, TimeoutError):
        raise ServiceError(f"{address}: the Dask scheduler has no worker after {budget:g} s; start one on each "
                             f"machine that fits (`dask worker {address}`, in the project's environment)") from None
    finally:
        client.close()
