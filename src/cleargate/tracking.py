"""MLflow experiment tracking: one parent run per pipeline run, one nested run per model."""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Any

import mlflow
import pandas as pd
from mlflow.models import infer_signature
from mlflow.tracking import MlflowClient

from cleargate.config import Params
from cleargate.datasets.layout import feature_columns
from cleargate.datasets.schema import LABEL
from cleargate.evaluation.metrics import scalar_metrics
from cleargate.models.trees import TRUSTED_TYPES


def tracking_uri(params: Params | Any) -> str:
    """MLFLOW_TRACKING_URI wins (a team server); else the embedded SQLite store from params.yaml."""
    return os.environ.get("MLFLOW_TRACKING_URI") or params.tracking.uri


def connect(params: Params) -> MlflowClient:
    """Point MLflow at the store and make sure the experiment exists; returns a client."""
    uri = tracking_uri(params)
    saved = {k: os.environ.get(k) for k in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI")}
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    for key, value in saved.items():  # MLflow exports the URI; keep the user's variable the only override
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
    if mlflow.get_experiment_by_name(params.experiment) is None:
        location = params.tracking.artifact_root.resolve().as_uri() if uri.startswith("sqlite") else None
        mlflow.create_experiment(params.experiment, artifact_location=location)
    mlflow.set_experiment(params.experiment)
    return MlflowClient(uri, uri)


def _requirements() -> list[str]:
    """Pinned from the running environment: MLflow's own inference costs ~10 s per model."""
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


def log_model_artifact(model_dir: Path, example: pd.DataFrame, labels: Any) -> str:
    """Log the model the way production loads it; returns its model URI."""
    with warnings.catch_warnings():  # the "integer columns cannot hold NaN" hint: raw pixels are integers
        warnings.filterwarnings("ignore", message=".*has missing values.*")
        warnings.filterwarnings("ignore", message="Hint: Inferred schema contains integer")
        signature = infer_signature(example, labels)
    if (model_dir / "model.pt").is_file():  # a torch backbone: served through the pyfunc wrapper
        from cleargate.serving import RecordClassifier

        info = mlflow.pyfunc.log_model(
            name="model", python_model=RecordClassifier(), artifacts={"model_dir": str(model_dir)},
            code_paths=[str(Path(__file__).parent)], signature=signature, input_example=example,
            pip_requirements=_requirements())
    else:
        from cleargate.predictors import load_skops

        info = mlflow.sklearn.log_model(
            sk_model=load_skops(model_dir / "model.skops"), name="model", serialization_format="skops",
            skops_trusted_types=TRUSTED_TYPES, signature=signature, input_example=example,
            pip_requirements=_requirements())
    return info.model_uri


def log_model_run(params: Params, name: str, model_dir: Path, metrics: dict[str, Any], plots_dir: Path,
                  example: pd.DataFrame) -> tuple[str, str]:
    """A nested run: params, per-epoch curves, test metrics, plots and the model. Returns (run_id, uri)."""
    config = params.model(name)
    with mlflow.start_run(run_name=name, nested=True) as run:
        mlflow.set_tags({"model": name, "family": config.family, "role": config.role, "dataset": config.dataset})
        mlflow.log_params(_flatten("", config.model_dump(mode="json")))
        history = model_dir / "history.csv"
        if history.is_file():
            for row in pd.read_csv(history).to_dict("records"):
                epoch = int(row.pop("epoch"))
                mlflow.log_metrics({k: float(v) for k, v in row.items() if pd.notna(v)}, step=epoch)
        mlflow.log_metrics({f"test_{k}": v for k, v in scalar_metrics(metrics).items()})
        mlflow.log_artifacts(str(plots_dir), artifact_path="plots")
        model_uri = log_model_artifact(model_dir, example[feature_columns(params.dataset)],
                                       example[LABEL].to_numpy())
        return run.info.run_id, model_uri
