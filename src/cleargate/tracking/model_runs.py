"""MLflow runs as the pipeline produces evidence: a model's run opens when its fit starts (curves and system
metrics appear live), evaluation adds test metrics (linked to the model and the test split) and plots to that run,
and the release adds the served model and a run per dataset and pipeline run that names the models' runs.

Runs from `dvc repro` and from the flow are the same runs: the stages write them, not the orchestrator.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pandas as pd

from cleargate.config.common import dotted
from cleargate.params import DatasetParams
from cleargate.records import Evaluation, TrainRecord
from cleargate.schema import LABEL
from cleargate.serving.logged_model import input_example, log_model_artifact
from cleargate.tracking.abandoned_runs import end_abandoned, owner_tag
from cleargate.tracking.store import connect, store_errors

log = logging.getLogger("cleargate.tracking")

PARENT_TAG = "mlflow.parentRunId"
PIPELINE_RUN_TAG = "cleargate.pipeline_run"     # on a model run: the pipeline run that released or judged it
# the message of a second insert of an experiment's (name, digest) dataset row: SQLite, PostgreSQL, MySQL
DUPLICATE_DATASET = re.compile(r"(unique constraint|duplicate key|duplicate entry).*dataset", re.IGNORECASE | re.DOTALL)


@dataclass
class TrainingRun:
    """The open MLflow run of one fit; `log_epoch` is the training loop's per-epoch report."""

    id: str
    client: Any

    def log_epoch(self, epoch: int, metrics: dict[str, float]) -> None:
        from mlflow.entities import Metric

        stamp = int(pd.Timestamp.now().timestamp() * 1000)
        self.client.log_batch(self.id, metrics=[Metric(k, float(v), stamp, epoch) for k, v in metrics.items()])

    def set_tags(self, tags: dict[str, str]) -> None:
        for key, value in tags.items():
            self.client.set_tag(self.id, key, value)

    def log_fit(self, record: TrainRecord) -> None:
        for key in ("fit_seconds", "epochs", "n_parameters", "size_bytes"):
            self.client.log_metric(self.id, key, float(getattr(record, key)))
        self.client.set_tag(self.id, "device", record.device)


@contextmanager
def training_run(params: DatasetParams, model: str) -> Iterator[TrainingRun]:
    """An MLflow run open for the whole fit, in the dataset's experiment; FAILED if the fit raises. It names this
    process (`abandoned_runs.owner_tag`) and ends KILLED the experiment's runs left RUNNING by a fit killed
    outright."""
    import mlflow

    config = params.model(model)
    client = connect(params)
    if params.tracking.system_metrics:  # CPU, memory, disk, network; GPU utilisation and memory (NVML)
        mlflow.set_system_metrics_sampling_interval(params.tracking.system_metrics_interval_s)
    with store_errors(params), mlflow.start_run(run_name=model, log_system_metrics=params.tracking.system_metrics) \
            as run:
        mlflow.set_tags({"model": model, "family": config.family, "role": config.role, "dataset": config.dataset,
                         "stage": "train", **owner_tag()})
        ended = end_abandoned(client, run.info.experiment_id)  # this run's process is alive: never among them
        if ended:
            log.warning("MLflow: ended %d run(s) KILLED whose fit's process is gone: %s", len(ended), ", ".join(ended))
        mlflow.log_params(dotted(config.model_dump(mode="json")))
        yield TrainingRun(run.info.run_id, client)


def test_dataset(params: DatasetParams, test: pd.DataFrame) -> Any:
    """The test split as an MLflow dataset (its digest identifies the rows every model is judged on)."""
    import mlflow.data

    return mlflow.data.from_pandas(test, source=str(params.layout.split("test")), targets=LABEL,
                                   name=f"{params.dataset.name}-test")


def log_test_input(dataset: Any, model_id: str | None = None) -> None:
    """Link the active run (and, given its id, a logged model) to the test split as an MLflow dataset input.

    A dataset's models are evaluated side by side, and each evaluation logs the same split. MLflow's SQL store looks
    the dataset up and inserts it in one transaction, so of two evaluations that start together the second insert
    breaks the experiment's (name, digest) key. That transaction is rolled back whole and the row it collided with
    now exists, so the second try links to it. A tracking server answers the collision with a 400 that carries the
    store's message, and it is retried the same way."""
    import mlflow
    from mlflow.entities import LoggedModelInput
    from mlflow.exceptions import MlflowException

    model = LoggedModelInput(model_id) if model_id else None
    try:
        mlflow.log_input(dataset, context="test", model=model)
    except MlflowException as error:
        if not DUPLICATE_DATASET.search(str(error)):
            raise
        mlflow.log_input(dataset, context="test", model=model)


def log_evaluation(params: DatasetParams, record: TrainRecord, evaluation: Evaluation, plots: Any,
                   test: pd.DataFrame, explanations: Any = None) -> None:
    """Test metrics (`test_*`, a slice's as `test_<metric>__<slicing>_<value>`), the plots and the explanations
    (permutation importance, attribution maps), on the model's training run. The metrics are linked to the model
    (a logged model named after it, kept by reference: its files are in the model folder and, once released,
    in the served model) and to the test split (an MLflow dataset), so MLflow's Models tab and chart view set
    the models of a run, and of earlier runs, side by side on the same rows."""
    if record.run_id is None:
        return
    import mlflow

    connect(params)
    with store_errors(params), mlflow.start_run(run_id=record.run_id):
        dataset = test_dataset(params, test)
        model = mlflow.create_external_model(
            name=evaluation.model, source_run_id=record.run_id, model_type=evaluation.family,
            tags={"dataset": evaluation.dataset, "role": evaluation.role},
            params={"family": evaluation.family, "fit_seconds": f"{evaluation.fit_seconds:.3f}"})
        log_test_input(dataset, model.model_id)
        mlflow.log_metrics({f"test_{k}": v for k, v in evaluation.scalars().items()}, model_id=model.model_id,
                           dataset=dataset)
        mlflow.log_artifacts(str(plots), artifact_path="plots")
        if explanations is not None:
            mlflow.log_artifacts(str(explanations), artifact_path="explanations")


@dataclass(frozen=True)
class LoggedModel:
    run_id: str
    model_uri: str


def held_runs(client: Any, runs: dict[str, str]) -> dict[str, str]:
    """The runs (model -> run id) this store holds: a project pointed at another tracking store (the embedded one,
    then a team's server) keeps the run ids of the store its models were fitted with."""
    from mlflow.exceptions import MlflowException

    held = {}
    for model, run_id in runs.items():
        try:
            client.get_run(run_id)
        except MlflowException:
            continue
        held[model] = run_id
    return held


def log_release_model(params: DatasetParams, model: str, run_id: str | None, test: pd.DataFrame) -> LoggedModel:
    """The selected candidate's bundle logged into its own training run; where this store has no such run, a new
    one that also carries what the training run held here would have (its tags and test metrics)."""
    import mlflow

    example = input_example(test)
    with store_errors(params), mlflow.start_run(run_id=run_id, run_name=model) as run:
        if run_id is None:
            config, evaluation = params.model(model), Evaluation.load(params.layout.model(model).metrics)
            mlflow.set_tags({"model": model, "family": config.family, "role": config.role, "dataset": config.dataset,
                             "stage": "train", "cleargate.refitted_elsewhere": "true"})
            mlflow.log_metrics({f"test_{k}": v for k, v in evaluation.scalars().items()})
        uri = log_model_artifact(params.layout.model(model).dir, example[params.features], f"{model}-served")
        return LoggedModel(run.info.run_id, uri)


def log_pipeline_run(params: DatasetParams, test: pd.DataFrame, lineage: dict[str, str], flow_run_id: str,
                     model_runs: dict[str, str]) -> str:
    """The dataset's run of this pipeline run (lineage, reports, test dataset, leaderboard), next to its models'
    runs, not above them: MLflow's chart view compares the runs it lists, and nested runs are folded away under
    their parent. Each model run not yet part of a pipeline run is tagged with this one (PIPELINE_RUN_TAG), so
    `tags.cleargate.pipeline_run = '<id>'` finds a run's models. Returns its id."""
    import mlflow

    layout, name = params.layout, params.dataset.name
    client = connect(params)
    with store_errors(params), mlflow.start_run(run_name=f"pipeline-{name}") as parent:
        mlflow.set_tags({**lineage, "dataset": name, "prefect.flow_run_id": flow_run_id})
        mlflow.log_params({"seed": params.seed, "dataset": name, "primary_metric": params.evaluate.primary_metric})
        log_test_input(test_dataset(params, test))
        mlflow.log_artifacts(str(layout.validation_dir), artifact_path="validation")
        for path in (layout.cleaning, layout.split_report, layout.gate, layout.leaderboard_md, layout.leaderboard_csv):
            mlflow.log_artifact(str(path), artifact_path="reports")
        mlflow.log_table(pd.read_csv(layout.leaderboard_csv), artifact_file="leaderboard.json")
        for run_id in model_runs.values():
            if PIPELINE_RUN_TAG not in client.get_run(run_id).data.tags:
                client.set_tag(run_id, PIPELINE_RUN_TAG, parent.info.run_id)
        mlflow.set_tag("model_runs", ",".join(f"{m}={r}" for m, r in model_runs.items())[:5000])
        return parent.info.run_id


def log_run_timings(params: DatasetParams, parent_id: str, timings: Any) -> None:
    """What the pipeline run cost, on the dataset's parent run (a RunTimings record)."""
    client = connect(params)
    with store_errors(params):
        client.set_tag(parent_id, "cleargate.runner", timings.runner)   # what ran the fits (and where)
        if timings.dask_dashboard:
            client.set_tag(parent_id, "cleargate.dask_dashboard", timings.dask_dashboard)
        client.log_metric(parent_id, "pipeline_wall_seconds", timings.wall_seconds)
        client.log_metric(parent_id, "pipeline_fit_seconds", timings.fit_seconds)
        if timings.fit_seconds:
            client.log_metric(parent_id, "pipeline_overhead", timings.overhead)
        client.log_dict(parent_id, timings.dump(), "reports/run_timings.json")
