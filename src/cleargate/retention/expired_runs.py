"""The MLflow runs `cleargate gc` deletes: of a deletable kind (`run_kinds`), ended longer ago than that kind's
`retention.keep_days`, and resting under no registered version (`registered_runs`).

Age is the run's end time, as MLflow records it when the run is terminated: a run that is written to again and
terminated again (a long-lived run with one step per batch) is as old as its last end. A run that is still open
(RUNNING, no end time) is never old. Runs an earlier `cleargate gc` deleted but could not purge (its `mlflow gc`
failed) are found again, so the next one purges them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from cleargate.config.retention import KeepDays, RunKind
from cleargate.retention.run_kinds import RunQuery

if TYPE_CHECKING:
    from mlflow.tracking import MlflowClient

DAY_MS = 86_400_000
PAGE = 1000


@dataclass(frozen=True)
class ExpiredRun:
    kind: RunKind
    run_id: str
    experiment: str
    ended_ms: int
    artifact_uri: str
    deleted: bool          # already deleted (by an earlier gc that could not purge it): purged only


@dataclass(frozen=True)
class RunSelection:
    expired: list[ExpiredRun]
    protected: list[str]   # runs of a deletable kind, old enough, kept because a registered version rests on them

    def count(self, kind: RunKind) -> int:
        return sum(1 for run in self.expired if run.kind == kind)


def _pages(client: MlflowClient, experiment_id: str, where: str) -> Iterable:
    from mlflow.entities import ViewType

    token = None
    while True:
        page = client.search_runs([experiment_id], where, run_view_type=ViewType.ALL, max_results=PAGE,
                                  page_token=token)
        yield from page
        token = page.token
        if not token:
            return


def select_expired(client: MlflowClient, queries: list[RunQuery], keep: KeepDays, protected: set[str],
                   now_ms: int) -> RunSelection:
    """Every run the queries find that ended before `now_ms` less its kind's keep period, unless protected."""
    expired: dict[str, ExpiredRun] = {}
    kept: set[str] = set()
    for query in queries:
        found = client.get_experiment_by_name(query.experiment)
        if found is None:
            continue
        cutoff = now_ms - keep.of(query.kind) * DAY_MS
        for run in _pages(client, found.experiment_id, query.where(cutoff)):
            info = run.info
            if info.status == "RUNNING" or info.end_time is None or info.end_time >= cutoff:
                continue
            if info.run_id in protected:
                kept.add(info.run_id)
                continue
            expired.setdefault(info.run_id, ExpiredRun(query.kind, info.run_id, query.experiment, info.end_time,
                                                       info.artifact_uri or "", info.lifecycle_stage == "deleted"))
    return RunSelection(sorted(expired.values(), key=lambda r: (r.kind, r.ended_ms, r.run_id)), sorted(kept))
