"""One MLflow run per batch, refused or scored, in `<experiment>-<dataset>-scoring`, with its report."""

from __future__ import annotations

from pathlib import Path

from cleargate.layout import ScoreFiles
from cleargate.params import DatasetParams
from cleargate.scoring.result import ScoreResult

MAX_TAG = 4000


def experiment(params: DatasetParams) -> str:
    """The dataset's scoring experiment: every run in it is one scored or refused batch."""
    return f"{params.experiment}-scoring"


def log_scoring_run(params: DatasetParams, result: ScoreResult) -> str:
    """Log the batch's outcome (and for a refusal, its reason); returns the run id."""
    import mlflow

    name = experiment(params)
    if mlflow.get_experiment_by_name(name) is None:  # beside the project's other artifacts, not ./mlruns
        uri = mlflow.get_tracking_uri()
        location = params.tracking.artifact_root.resolve().as_uri() if uri.startswith("sqlite") else None
        mlflow.create_experiment(name, artifact_location=location)
    found = mlflow.get_experiment_by_name(name)
    with mlflow.start_run(experiment_id=found.experiment_id, run_name=f"score-{Path(result.source).stem}") as run:
        mlflow.set_tags({"model": result.model, "model_version": result.version, "input": result.source,
                         "input_sha256": result.input_sha256, "refused": str(result.refused).lower(),
                         "outcome": result.outcome, **({"reason": result.reason[:MAX_TAG]} if result.reason else {})})
        metrics = {"rows": result.n_rows or result.validation.n_rows,
                   "failed_checks": len(result.validation.blocking),
                   **{f"seconds_{k}": v for k, v in result.seconds.items()}}
        if result.drift is not None:
            metrics |= {"drifted_fraction": result.drift.drifted_fraction,
                        "drifted_features": len(result.drift.drifted), "psi_max": result.drift.psi_max}
        if result.prediction_psi is not None:
            metrics["prediction_psi"] = result.prediction_psi
        mlflow.log_metrics(metrics)
        files = ScoreFiles(result.out_dir)
        for page in (files.report, files.drift_page):
            if page.is_file():
                mlflow.log_artifact(str(page))
        return run.info.run_id
