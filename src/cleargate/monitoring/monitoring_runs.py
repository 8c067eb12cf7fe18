"""Monitoring in MLflow as a trend: one run per registered version in `<experiment>-<dataset>-monitoring`, one step
per batch, so MLflow's charts draw each metric as a line over the batches, and the challenger's beside the
champion's.

    run <model>-v<version>   tags: model, model_version, role (champion | challenger), dataset
      step n (the run's n-th batch, at the time it was decided):
        champion    psi_max, drifted_fraction, drifted_features, prediction_psi, rows, refused, degraded,
                    retrain, live_<metric>, drop_<metric> (labelled batches)
        challenger  live_<metric>: the same labelled batch scored in shadow
      tag cleargate.batch.<claimed name> = n   (written with the step's metrics, in one call)
      artifacts batches/<n>-<claimed name>/   the batch's report and its drift page (HTML)

A batch already logged (a pass resumed after a kill) is found by its tag and never becomes a second step.
"""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path

from mlflow.entities import Metric, RunTag
from mlflow.tracking import MlflowClient

from cleargate.monitoring.batch_report import BatchReport
from cleargate.params import DatasetParams
from cleargate.records import slice_key
from cleargate.tracking import ensure_experiment

VERSION_TAG = "cleargate.model_version"     # <model>/<version>: the run of that version
BATCH_TAG = "cleargate.batch."              # + the claimed batch name -> its step
RETRAIN_TAG = "cleargate.retrain."          # + the claimed batch name -> the training run it started
TAG_LIMIT = 4000   # longer run tags are cut by the server without a word (8,000 on PostgreSQL)


def experiment(params: DatasetParams) -> str:
    return f"{params.experiment}-monitoring"


def _key(claimed: str) -> str:
    """A batch name as part of a tag key (MLflow takes letters, digits, _ - . / and spaces)."""
    return re.sub(r"[^A-Za-z0-9_\-./ ]", "_", claimed)[:200]


def version_run(params: DatasetParams, client: MlflowClient, name: str, version: str, role: str) -> str:
    """The run of one registered version (created on its first batch); `role` is what it is now."""
    experiment_id = ensure_experiment(params, client, experiment(params))
    found = client.search_runs([experiment_id], f"tags.`{VERSION_TAG}` = '{name}/{version}'", max_results=1)
    if found:
        run_id = found[0].info.run_id
        if found[0].data.tags.get("role") != role:
            client.set_tag(run_id, "role", role)
        return run_id
    return client.create_run(experiment_id, run_name=f"{name}-v{version}", tags={
        VERSION_TAG: f"{name}/{version}", "model": name, "model_version": version, "role": role,
        "dataset": params.dataset.name}).info.run_id


def _champion_metrics(report: BatchReport) -> dict[str, float]:
    values = {"refused": float(report.destination == "refused"), "degraded": float(bool(report.degraded)),
              "retrain": float(bool(report.retrain_reasons))}
    optional = {"rows": report.rows, "drifted_fraction": report.drifted_fraction, "psi_max": report.psi_max,
                "prediction_psi": report.prediction_psi}
    values.update({k: float(v) for k, v in optional.items() if v is not None})
    if report.drifted_fraction is not None:
        values["drifted_features"] = float(len(report.drifted_features))
    for name, value in report.live.items():
        values[f"live_{name}"] = value
        if name in report.champion_test:
            values[f"drop_{name}"] = report.champion_test[name] - value
    for name, figures in report.slices.items():   # `live_<metric>__<slicing>_<value>`, as the test metrics
        slicing, _, value = name.partition("=")
        values.update({f"live_{m}__{slice_key(slicing, value)}": v for m, v in figures.items() if m != "rows"})
    return values


def _log_step(client: MlflowClient, run_id: str, report: BatchReport, metrics: dict[str, float]) -> int:
    """The batch's metrics at the run's next step, with the tag naming the batch; its step if it was logged."""
    tags = client.get_run(run_id).data.tags
    if BATCH_TAG + _key(report.claimed) in tags:
        return int(tags[BATCH_TAG + _key(report.claimed)])
    step = sum(1 for k in tags if k.startswith(BATCH_TAG))
    stamp = int(datetime.fromisoformat(report.decided_at).timestamp() * 1000)
    client.log_batch(run_id, metrics=[Metric(k, v, stamp, step) for k, v in metrics.items()],
                     tags=[RunTag(BATCH_TAG + _key(report.claimed), str(step))])
    return step


def log_batch_run(params: DatasetParams, client: MlflowClient, report: BatchReport, report_path: Path) -> str:
    """The batch as a step of its champion's run (and of the challenger's, for the metrics it was scored on in
    shadow); returns the champion's run."""
    run_id = version_run(params, client, report.model, report.version, "champion")
    step = _log_step(client, run_id, report, _champion_metrics(report))
    folder = f"batches/{step:04d}-{_key(report.claimed)}"
    client.log_artifact(run_id, str(report_path), folder)
    if report.drift_page and Path(report.drift_page).is_file():
        client.log_artifact(run_id, report.drift_page, folder)
    client.log_batch(run_id, tags=[RunTag(k, v) for k, v in (("last_batch", report.batch), (
        "last_outcome", report.outcome), ("last_decision", report.message[:TAG_LIMIT]))])
    client.set_terminated(run_id, "FINISHED")
    if report.challenger and report.challenger_live:
        shadow_id = version_run(params, client, report.model, report.challenger, "challenger")
        _log_step(client, shadow_id, report, {f"live_{k}": v for k, v in report.challenger_live.items()})
        client.set_terminated(shadow_id, "FINISHED")
    return run_id


def record_retrain(client: MlflowClient, report: BatchReport) -> None:
    if report.mlflow_run_id:
        client.set_tag(report.mlflow_run_id, RETRAIN_TAG + _key(report.claimed),
                       report.retrain_run or report.retrain_error or "none")
