"""`cleargate gc`: everything it will delete is worked out first (`plan`), and nothing is deleted until all of it
is known: a store or a lineage that cannot be read stops it before the first deletion. Then (`collect`) the runs
are deleted and purged, and the cache swept."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from cleargate.params import ProjectParams
from cleargate.retention.cache_keep import KeepSet, keep_set
from cleargate.retention.cache_sweep import CachePlan, cache_dir, plan_sweep, sweep
from cleargate.retention.expired_runs import RunSelection, select_expired
from cleargate.retention.gc_report import GcReport
from cleargate.retention.registered_runs import protected_runs, registered_versions
from cleargate.retention.run_kinds import run_queries
from cleargate.retention.run_purge import artifact_bytes, delete, deleted_experiments, purge
from cleargate.tracking.store import is_server

if TYPE_CHECKING:
    from mlflow.tracking import MlflowClient


@dataclass(frozen=True)
class GcPlan:
    uri: str
    runs: RunSelection
    run_bytes: int | None
    also_purged: list[str]
    cache: CachePlan | None
    keep: KeepSet | None


def plan(project: ProjectParams, client: MlflowClient, uri: str, now: float | None = None) -> GcPlan:
    """What goes: the expired runs of the project's datasets, and the cache objects nothing kept names."""
    now = time.time() if now is None else now
    retention = project.retention
    versions = registered_versions(client)
    selection = select_expired(client, run_queries(project), retention.keep_days, protected_runs(client, versions),
                               int(now * 1000))
    also = deleted_experiments(client) if selection.expired and not is_server(uri) else []
    cache = cache_dir(project.root)
    keep = None if cache is None else keep_set(project.root, cache, client, versions)
    sweep_plan = None if cache is None or keep is None else \
        plan_sweep(cache, keep.hashes, retention.cache_grace_minutes * 60.0, now)
    return GcPlan(uri, selection, artifact_bytes(selection.expired), also, sweep_plan, keep)


def collect(project: ProjectParams, client: MlflowClient, uri: str, dry_run: bool) -> GcReport:
    """Plan, then (unless `dry_run`) delete and purge the runs and sweep the cache; the report of either."""
    found = plan(project, client, uri)
    purged = "dry run"
    if not dry_run:
        delete(client, found.runs.expired)
        purged = purge(uri, found.runs.expired)
        if found.cache is not None:
            sweep(found.cache)
    return report(project, found, dry_run, purged)


def report(project: ProjectParams, found: GcPlan, dry_run: bool, purged: str) -> GcReport:
    retention, cache, keep = project.retention, found.cache, found.keep
    runs: dict[str, list[str]] = {}
    for run in found.runs.expired:
        runs.setdefault(run.kind, []).append(run.run_id)
    return GcReport(
        dry_run=dry_run, keep_days=retention.keep_days.model_dump(), runs=runs,
        protected_runs=len(found.runs.protected), run_bytes=found.run_bytes, also_purged=found.also_purged,
        purge=purged, cache=None if cache is None else str(cache.cache),
        cache_objects=0 if cache is None else len(cache.doomed), cache_bytes=0 if cache is None else cache.bytes,
        cache_total=0 if cache is None else cache.total, cache_kept=0 if cache is None else cache.kept,
        cache_young=0 if cache is None else cache.young, grace_minutes=retention.cache_grace_minutes,
        keep_sources=[] if keep is None else list(keep.sources),
        without_lineage=[] if keep is None else list(keep.without_lineage))
