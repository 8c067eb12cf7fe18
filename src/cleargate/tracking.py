"""MLflow experiment tracking: one parent run per dataset per pipeline run, one nested run per model,
each model logged the way production loads it."""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mlflow
import pandas as pd
from mlflow.models import infer_signature
from mlflow.tracking import MlflowClient

from cleargate.errors import TrackingServerError
from cleargate.layout import ModelLayout
from cleargate.models.bundle import TRUSTED_TYPES, ModelBundle
from cleargate.params import DatasetParams
from cleargate.records import Evaluation
from cleargate.schema import LABEL


@dataclass(frozen=True)
class LoggedModel:
    run_id: str
    model_uri: str


@dataclass(frozen=True)
class DatasetRuns:
    """The dataset's parent run of this pipeline run and each model's nested run with its logged model."""

    parent_id: str
    models: dict[str, LoggedModel]


def tracking_uri(params: Any) -> str:
    """MLFLOW_TRACKING_URI wins (a team server); else the embedded SQLite store from params.yaml."""
    return os.environ.get("MLFLOW_TRACKING_URI") or params.tracking.uri


def connect(params: DatasetParams) -> MlflowClient:
    """Point MLflow at the store and make sure the dataset's experiment exists; returns a client."""
    uri = tracking_uri(params)
    saved = {k: os.environ.get(k) for k in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI")}
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    for key, value in saved.items():  # MLflow exports the URI; keep the user's variable the only override
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
    client = MlflowClient(uri, uri)
    ensure_experiment(params, client, params.experiment)
    mlflow.set_experiment(params.experiment)
    return client


def ensure_experiment(params: DatasetParams, client: MlflowClient, name: str) -> str:
    """The experiment's id, created if missing (artifacts under `tracking.artifact_root` for a local store; a
    tracking server puts them where it serves them)."""
    found = client.get_experiment_by_name(name)
    if found is not None:
        return found.experiment_id
    uri = tracking_uri(params)
    location = params.tracking.artifact_root.resolve().as_uri() if uri.startswith("sqlite") else None
    return client.create_experiment(name, artifact_location=location)


def _answers(uri: str) -> bool:
    import requests

    try:
        return requests.get(f"{uri.rstrip('/')}/health", timeout=3).ok
    except requests.RequestException:
        return False


@contextmanager
def server_errors(params: Any, doing: str) -> Iterator[None]:
    """A tracking server that stops answering midway becomes one line naming it (and what to do), instead of
    a client traceback. Any other failure, or a store that still answers, is raised as it is."""
    try:
        yield
    except Exception as exc:
        uri = tracking_uri(params)
        if uri.startswith(("http://", "https://")) and not _answers(uri):
            raise TrackingServerError(f"MLflow tracking server {uri}: not answering during {doing} "
                                      f"({type(exc).__name__}); start it (`make stack-up`, or check "
                                      "MLFLOW_TRACKING_URI) and run again: the run resumes there") from None
        raise


def requirements() -> list[str]:
    """Pinned from the running environment: MLflow's own inference costs seconds per model."""
    from importlib.metadata import version

    names = ["mlflow", "torch", "numpy", "pandas", "pyarrow", "scikit-learn", "skops", "pydantic", "pyyaml"]
    return [f"{n}=={version(n).split('+')[0]}" for n in names]


def _flatten(prefix: str, value: Any) -> dict[str, Any]:
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for k, v in value.items():
            out.update(_flatten(f"{prefix}.{k}" if prefix else str(k), v))
        return out
    return {prefix: value}


def log_model_artifact(layout: ModelLayout, example: pd.DataFrame, labels: Any) -> str:
    """Log the model the way production loads it; returns its model URI."""
    with warnings.catch_warnings():  # the "integer columns cannot hold NaN" hint: raw pixels are integers
        warnings.filterwarnings("ignore", message=".*has missing values.*")
        warnings.filterwarnings("ignore", message="Hint: Inferred schema contains integer")
        signature = infer_signature(example, labels)
    bundle = ModelBundle.load(layout.dir)
    if bundle.manifest.flavour == "torch":  # a torch backbone, served through the pyfunc wrapper
        from cleargate.serving import RecordClassifier

        info = mlflow.pyfunc.log_model(
            name="model", python_model=RecordClassifier(), artifacts={"model_dir": str(layout.dir)},
            code_paths=[str(Path(__file__).parent)], signature=signature, input_example=example,
            pip_requirements=requirements())
    else:
        info = mlflow.sklearn.log_model(
            sk_model=bundle.model, name="model", serialization_format="skops", skops_trusted_types=TRUSTED_TYPES,
            signature=signature, input_example=example, pip_requirements=requirements())
    return info.model_uri


def log_model_run(params: DatasetParams, name: str, example: pd.DataFrame) -> LoggedModel:
    """A nested run: params, per-epoch curves, test metrics, plots and the model."""
    config, layout = params.model(name), params.layout.model(name)
    with mlflow.start_run(run_name=name, nested=True) as run:
        mlflow.set_tags({"model": name, "family": config.family, "role": config.role, "dataset": config.dataset})
        mlflow.log_params(_flatten("", config.model_dump(mode="json")))
        if layout.bundle.history.is_file():
            for row in pd.read_csv(layout.bundle.history).to_dict("records"):
                epoch = int(row.pop("epoch"))
                mlflow.log_metrics({k: float(v) for k, v in row.items() if pd.notna(v)}, step=epoch)
        evaluation = Evaluation.load(layout.metrics)
        mlflow.log_metrics({f"test_{k}": v for k, v in evaluation.scalars().items()})
        mlflow.log_artifacts(str(layout.plots), artifact_path="plots")
        model_uri = log_model_artifact(layout, example[params.features], example[LABEL].to_numpy())
        return LoggedModel(run.info.run_id, model_uri)


def signature_example(test: pd.DataFrame) -> pd.DataFrame:
    """A few test rows for the signature, including one with missing values if any: optional columns must
    be declared optional, or production rows with a missing category would be refused."""
    gaps = test[test.isna().any(axis=1)].head(1)
    return pd.concat([test.head(4), gaps]).reset_index(drop=True)


def log_dataset_runs(params: DatasetParams, test: pd.DataFrame, lineage: dict[str, str],
                     flow_run_id: str) -> DatasetRuns:
    """The parent run (lineage, reports, test dataset, leaderboard) and one nested run per model."""
    layout, name = params.layout, params.dataset.name
    with mlflow.start_run(run_name=f"pipeline-{name}") as parent:
        mlflow.set_tags({**lineage, "dataset": name, "prefect.flow_run_id": flow_run_id})
        mlflow.log_params({"seed": params.seed, "dataset": name, "primary_metric": params.evaluate.primary_metric})
        mlflow.log_input(mlflow.data.from_pandas(test, source=str(layout.split("test")), targets=LABEL,
                                                 name=f"{name}-test"), context="test")
        mlflow.log_artifacts(str(layout.validation_dir), artifact_path="validation")
        for path in (layout.cleaning, layout.split_report, layout.gate, layout.leaderboard_md,
                     layout.leaderboard_csv):
            mlflow.log_artifact(str(path), artifact_path="reports")
        mlflow.log_table(pd.read_csv(layout.leaderboard_csv), artifact_file="leaderboard.json")
        example = signature_example(test)
        models = {model: log_model_run(params, model, example) for model in params.train}
    return DatasetRuns(parent.info.run_id, models)
