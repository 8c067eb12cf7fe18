"""One monitoring pass over one dataset's inbox, in the steps the flow calls between its own (Prefect) work:

    prepare(params, client)      recover, claim the new batches, assess and log every claimed batch
    <the flow starts the training deployment for the batches that ask for it>
    record_retrain(...)          the started run (or why none started), in the reports and MLflow runs
    finish(params, batches)      each batch and its report to done/ or refused/
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

from mlflow.tracking import MlflowClient

from cleargate.monitoring import monitoring_runs
from cleargate.monitoring.assess import assess
from cleargate.monitoring.batch_report import BatchReport
from cleargate.monitoring.inbox import Inbox
from cleargate.params import DatasetParams
from cleargate.tracking import registry


@dataclass(frozen=True)
class Claimed:
    path: Path     # the batch in processing/
    report: BatchReport


@dataclass
class Pass:
    """What one dataset's pass holds: its batches, and why nothing was scored (no champion yet)."""

    dataset: str
    batches: list[Claimed] = field(default_factory=list)
    note: str = ""

    @property
    def retrain(self) -> list[Claimed]:
        """Batches that ask for a retraining not yet started (a resumed pass keeps the one it started)."""
        return [b for b in self.batches if b.report.wants_retrain]


def _original(claimed_name: str) -> str:
    return claimed_name.split("-", 1)[1] if "-" in claimed_name else claimed_name


def prepare(params: DatasetParams, client: MlflowClient) -> Pass:
    inbox, name = Inbox(params.layout), params.registry.model_name
    inbox.recover()
    result = Pass(params.dataset.name)
    version = registry.alias_version(client, name, registry.CHAMPION)
    if version is None:
        waiting = len(inbox.new_batches()) + len(inbox.claimed())
        result.note = f"{name} has no champion yet: {waiting} batch(es) wait in {params.layout.inbox}"
        return result
    for path in inbox.new_batches():
        inbox.claim(path)
    challenger = registry.alias_version(client, name, registry.CHALLENGER)
    for claimed in inbox.claimed():
        report = inbox.load_report(claimed) or inbox.save_report(
            claimed, assess(params, client, claimed, _original(claimed.name), name, version, challenger))
        if report.mlflow_run_id is None:
            run_id = monitoring_runs.log_batch_run(params, client, report, inbox.report_path(claimed))
            report = inbox.save_report(claimed, report.model_copy(update={"mlflow_run_id": run_id}))
        result.batches.append(Claimed(claimed, report))
    return result


def plan_retrain(params: DatasetParams, batches: Pass) -> dict[str, list[str]]:
    """Idempotency key -> the batches it covers. A key is written into the reports before the run is asked
    for, so a pass resumed after a kill asks again with the same key and Prefect returns the same run."""
    inbox, fresh = Inbox(params.layout), [b for b in batches.retrain if b.report.retrain_key is None]
    if fresh:
        names = ",".join(sorted(b.report.claimed for b in fresh))
        key = f"cleargate-monitor-{params.dataset.name}-{hashlib.sha256(names.encode()).hexdigest()[:16]}"
        for i, batch in enumerate(batches.batches):
            if batch in fresh:
                report = inbox.save_report(batch.path, batch.report.model_copy(update={"retrain_key": key}))
                batches.batches[i] = Claimed(batch.path, report)
    plan: dict[str, list[str]] = {}
    for batch in batches.retrain:
        plan.setdefault(batch.report.retrain_key or "", []).append(batch.report.batch)
    return plan


def record_retrain(params: DatasetParams, client: MlflowClient, batches: Pass, key: str, run_id: str | None,
                   error: str | None = None) -> None:
    """The run started for `key` (or why none started), in the reports and the batches' MLflow runs."""
    inbox = Inbox(params.layout)
    for i, batch in enumerate(batches.batches):
        if batch.report.wants_retrain and batch.report.retrain_key == key:
            report = inbox.save_report(batch.path, batch.report.model_copy(
                update={"retrain_run": run_id, "retrain_error": error}))
            monitoring_runs.record_retrain(client, report)
            batches.batches[i] = Claimed(batch.path, report)


def finish(params: DatasetParams, batches: Pass) -> list[BatchReport]:
    inbox = Inbox(params.layout)
    for batch in batches.batches:
        inbox.finish(batch.path, batch.report)
    return [b.report for b in batches.batches]


def summary_markdown(passes: list[Pass]) -> str:
    """The hour at a glance: one row per batch, and a line per dataset with nothing to score."""
    lines = ["| dataset | batch | outcome | drifted | live vs champion | retraining |", "|---|---|---|---|---|---|"]
    for p in passes:
        for b in (c.report for c in p.batches):
            drift = "-" if b.drifted_fraction is None else f"{b.drifted_fraction:.0%}"
            live = ", ".join(f"{m} {v:.3f}/{b.champion_test.get(m, float('nan')):.3f}" for m, v in b.live.items())
            retrain = b.retrain_run or b.retrain_error or "-"
            lines.append(f"| {b.dataset} | {b.batch} | {b.outcome} | {drift} | {live or '-'} | {retrain} |")
    notes = [f"- {p.dataset}: {p.note}" for p in passes if p.note]
    empty = [p.dataset for p in passes if not p.batches and not p.note]
    if empty:
        notes.append(f"- no new batch: {', '.join(empty)}")
    return "\n".join(["## Monitoring", "", *lines, "", *notes]) + "\n"
