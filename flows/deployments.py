"""The two deployments, declared once, with their schedules and parameters from params.yaml `schedules`:

    cleargate-pipeline/<pipeline.name>   the training flow (flows/pipeline.py), cron `0 2 * * *` by default
    cleargate-monitor/<monitor.name>     the monitoring flow (flows/monitor.py), cron `0 * * * *` by default

`serve_deployments` gives them to `prefect.serve` (`make serve`); `register` sends them to a work pool, where
a `process` worker runs them from the project folder (`make stack-up`). Each has a deployment concurrency
limit (Prefect's own, enforced by the server): with `enqueue` a second pipeline run waits for the first.
"""

from __future__ import annotations

import contextlib
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from prefect import Flow
from prefect.client.schemas.objects import ConcurrencyLimitConfig, ConcurrencyLimitStrategy
from prefect.deployments.runner import RunnerDeployment
from prefect.schedules import Cron

from cleargate.config.schedules import Concurrency, ScheduledDeployment
from cleargate.params import ProjectParams


@dataclass(frozen=True)
class Declared:
    flow: Flow[..., Any]
    entrypoint: str                 # relative to the project root
    options: dict[str, Any]         # the deployment's name, schedule, parameters, concurrency limit

    @property
    def full_name(self) -> str:
        return f"{self.flow.name}/{self.options['name']}"


def _limit(concurrency: Concurrency) -> ConcurrencyLimitConfig:
    return ConcurrencyLimitConfig(limit=concurrency.limit,
                                  collision_strategy=ConcurrencyLimitStrategy(concurrency.collision_strategy.upper()))


def _options(spec: ScheduledDeployment, timezone: str, parameters: dict[str, Any], what: str) -> dict[str, Any]:
    return {"name": spec.name, "schedule": Cron(spec.cron, timezone=timezone), "parameters": parameters,
            "concurrency_limit": _limit(spec.concurrency), "description": what, "tags": ["cleargate"]}


def declared(project: ProjectParams) -> list[Declared]:
    from flows.monitor import monitor
    from flows.pipeline import pipeline

    s = project.schedules
    return [
        Declared(pipeline, "flows/pipeline.py:pipeline", _options(
            s.pipeline, s.timezone, {"datasets": s.pipeline.datasets, "rerun": s.pipeline.rerun},
            "Train, judge and promote (the same flow as `make run`); DVC skips what is up to date.")),
        Declared(monitor, "flows/monitor.py:monitor", _options(
            s.monitor, s.timezone, {"datasets": s.monitor.datasets},
            "Score new inbox batches with the champion; drift or degradation starts the training deployment.")),
    ]


def serve_deployments(project: ProjectParams) -> list[RunnerDeployment]:
    """For `prefect.serve`: runs execute in subprocesses of the serving process, from the project root."""
    return [d.flow.to_deployment(**d.options) for d in declared(project)]


def register(project: ProjectParams, root: Path) -> list[str]:
    """Create or update both deployments on the configured Prefect API, assigned to `schedules.work_pool`. The
    worker imports each flow by its module (`flows.pipeline`, installed with the project), in the project's folder
    (`working_dir`): every process a run fans out to, Dask workers on other machines included, can then
    unpickle what it is sent by name."""
    from prefect import deploy
    from prefect.deployments.runner import EntrypointType

    flows = [d.flow.to_deployment(**d.options, entrypoint_type=EntrypointType.MODULE_PATH,
                                  job_variables={"working_dir": str(root.resolve())}) for d in declared(project)]
    with contextlib.redirect_stdout(io.StringIO()):  # deploy() prints a table of deployments
        deploy(*flows, work_pool_name=project.schedules.work_pool, build=False, push=False,
               print_next_steps_message=False, ignore_warnings=True)
    return [d.full_name for d in declared(project)]


def ensure_work_pool(name: str) -> None:
    """The `process` work pool the worker polls (created once; kept as it is afterwards)."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import WorkPoolCreate
    from prefect.exceptions import ObjectAlreadyExists

    with get_client(sync_client=True) as client, contextlib.suppress(ObjectAlreadyExists):
        client.create_work_pool(WorkPoolCreate(name=name, type="process"))


def worker_online(pool: str, worker: str, since: float) -> bool:
    """The named worker polls the pool and has sent a heartbeat after `since` (a Unix time): the pool's own
    READY status would still count the heartbeats of a worker stopped a moment ago."""
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        return any(w.name == worker and w.last_heartbeat_time is not None
                   and w.last_heartbeat_time.timestamp() >= since for w in client.read_workers_for_work_pool(pool))


def schedules_of(names: list[str]) -> dict[str, list[str]]:
    """Each deployment's cron schedules as the server holds them (what `make stack-status` shows)."""
    from prefect.client.orchestration import get_client
    from prefect.exceptions import ObjectNotFound

    found: dict[str, list[str]] = {}
    with get_client(sync_client=True) as client:
        for name in names:
            try:
                deployment = client.read_deployment_by_name(name)
            except ObjectNotFound:
                continue
            found[name] = [getattr(s.schedule, "cron", str(s.schedule)) for s in deployment.schedules
                           if s.active]
    return found


def active_runs(pool: str) -> list[str]:
    """Flow runs the pool's workers have taken and not finished (pending, running, cancelling)."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (
        FlowRunFilter,
        FlowRunFilterState,
        FlowRunFilterStateType,
        WorkPoolFilter,
        WorkPoolFilterName,
    )
    from prefect.client.schemas.objects import StateType

    states = FlowRunFilterStateType(any_=[StateType.PENDING, StateType.RUNNING, StateType.CANCELLING])
    with get_client(sync_client=True) as client:
        runs = client.read_flow_runs(flow_run_filter=FlowRunFilter(state=FlowRunFilterState(type=states)),
                                     work_pool_filter=WorkPoolFilter(name=WorkPoolFilterName(any_=[pool])))
    return [str(r.id) for r in runs]


def mark_crashed(run_ids: list[str], why: str) -> None:
    """Runs whose process was stopped: CRASHED, so that their deployment's concurrency slot is given back
    (a run left RUNNING would hold it, and every later run of the deployment would wait or be skipped)."""
    from prefect.client.orchestration import get_client
    from prefect.states import Crashed

    with get_client(sync_client=True) as client:
        for run_id in run_ids:
            client.set_flow_run_state(run_id, Crashed(message=why), force=True)
