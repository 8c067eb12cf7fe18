"""One MLflow run per batch in `<experiment>-<dataset>-monitoring`, refusals included; found again by the
batch's claimed name, so a resumed batch completes its run instead of opening a second one."""

from __future__ import annotations

import time
from pathlib import Path

from mlflow.entities import Metric, RunTag
from mlflow.tracking import MlflowClient

from cleargate.monitoring.batch_report import BatchReport
from cleargate.params import DatasetParams
from cleargate.records import slice_key
from cleargate.tracking import ensure_experiment

BATCH_TAG = "cleargate.batch"
TAG_LIMIT = 4000   # longer run tags are cut by the server without a word (8,000 on PostgreSQL)


def experiment(params: DatasetParams) -> str:
    return f"{params.experiment}-monitoring"


def _metrics(report: BatchReport) -> dict[str, float]:
    values = {"refused": float(report.destination == "refused"), "degraded": float(bool(report.degraded)),
              "retrain": float(bool(report.retrain_reasons))}
    if report.rows is not None:
        values["rows"] = float(report.rows)
    if report.drifted_fraction is not None:
        values.update(drifted_fraction=report.drifted_fraction, drifted_features=float(len(report.drifted_features)))
    for name, value in report.live.items():
        values[f"live_{name}"] = value
    for name, figures in report.slices.items():   # `live_<metric>__<slicing>_<value>`, as the test metrics
        slicing, _, value = name.partition("=")
        values.update({f"live_{m}__{slice_key(slicing, value)}": v for m, v in figures.items() if m != "rows"})
        if name in report.champion_test:
            values[f"champion_test_{name}"] = report.champion_test[name]
            values[f"drop_{name}"] = report.champion_test[name] - value
    return values


def tags(report: BatchReport) -> dict[str, str]:
    return {BATCH_TAG: report.claimed, "dataset": report.dataset, "batch": report.batch,
            "input_sha256": report.sha256 or "unreadable", "model": report.model, "model_version": report.version,
            "outcome": report.outcome, "decision": report.message[:TAG_LIMIT],
            "retrain_reasons": ",".join(report.retrain_reasons) or "none",
            "retrain_run": report.retrain_run or report.retrain_error or "none"}


def log_batch_run(params: DatasetParams, client: MlflowClient, report: BatchReport, report_path: Path) -> str:
    """The batch's run, complete and finished: created once, completed again if a kill interrupted it."""
    experiment_id = ensure_experiment(params, client, experiment(params))
    found = client.search_runs([experiment_id], f"tags.`{BATCH_TAG}` = '{report.claimed}'", max_results=1)
    run_id = found[0].info.run_id if found else client.create_run(
        experiment_id, run_name=f"monitor-{report.batch}", tags={BATCH_TAG: report.claimed}).info.run_id
    now = int(time.time() * 1000)
    client.log_batch(run_id, metrics=[Metric(k, v, now, 0) for k, v in _metrics(report).items()],
                     tags=[RunTag(k, v) for k, v in tags(report).items()])
    client.log_artifact(run_id, str(report_path))
    client.set_terminated(run_id, "FINISHED")
    return run_id


def record_retrain(client: MlflowClient, report: BatchReport) -> None:
    if report.mlflow_run_id:
        client.set_tag(report.mlflow_run_id, "retrain_run", report.retrain_run or report.retrain_error or "none")
