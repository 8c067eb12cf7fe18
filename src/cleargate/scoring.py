"""Batch scoring that trusts nothing: validate, check drift against the model's reference, then score.

Order matters: a batch that fails validation is refused before any drift statistic or prediction; a
drifted batch is refused (or scored and flagged, by `drift.on_drift`); only then does the model run.
Every outcome writes a report; predictions carry the model version and the input's hash.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import pandas as pd
from mlflow.tracking import MlflowClient

from cleargate.drift import PROFILE_ARTIFACT, DriftReport, check_drift
from cleargate.errors import CleargateError, DataValidationError
from cleargate.io import read_table, sha256_file, write_json, write_table
from cleargate.params import DatasetParams
from cleargate.schema import LABEL
from cleargate.validation import ValidationReport, validate_records


@dataclass(frozen=True)
class ScoreResult:
    source: str
    input_sha256: str
    model: str
    version: str
    validation: ValidationReport
    drift: DriftReport
    refused: bool
    out_dir: Path
    predictions: pd.DataFrame | None

    def summary(self) -> str:
        verdict = "REFUSED (drift)" if self.refused else ("scored, FLAGGED for drift" if self.drift.is_drifted
                                                           else "scored")
        return (f"{self.source}: {verdict}; model {self.model} v{self.version}; "
                f"drift: {self.drift.summary()}; report: {self.out_dir / 'report.json'}")


def resolve_version(client: MlflowClient, model_ref: str) -> tuple[str, str]:
    """`name@alias` or `name/version` -> (name, version number)."""
    if "@" in model_ref:
        name, alias = model_ref.split("@", 1)
        try:
            return name, str(client.get_model_version_by_alias(name, alias).version)
        except mlflow.exceptions.MlflowException:
            raise CleargateError(f"{model_ref}: no such registered model alias; see `cleargate status {name}`") \
                from None
    name, _, version = model_ref.partition("/")
    if not version:
        raise CleargateError(f"{model_ref}: give a model as NAME@ALIAS or NAME/VERSION")
    return name, version


def load_profile(client: MlflowClient, name: str, version: str) -> dict[str, Any]:
    run_id = client.get_model_version(name, version).run_id
    path = mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path=PROFILE_ARTIFACT)
    return json.loads(Path(path).read_text())


def score_file(params: DatasetParams, input_path: Path, model_ref: str, client: MlflowClient) -> ScoreResult:
    frame = read_table(input_path)
    digest = sha256_file(input_path)
    out_dir = params.layout.scores(input_path.stem, digest[:12])
    batch = frame.drop(columns=[LABEL], errors="ignore")  # a label, if present, is not an input
    validation = validate_records(batch, params.dataset, params.validation, str(input_path),
                                  docs_dir=out_dir / "validation", labelled=False)
    name, version = resolve_version(client, model_ref)
    report: dict[str, Any] = {"input": str(input_path), "input_sha256": digest, "model": name, "version": version,
                              "validation": validation.to_record().dump()}
    if not validation.passed:
        write_json({**report, "outcome": "refused: validation"}, out_dir / "report.json")
        raise DataValidationError(validation.message())
    rule = params.drift
    drift = check_drift(load_profile(client, name, version), batch, rule.psi_threshold, rule.max_drifted_fraction)
    refused = drift.is_drifted and rule.on_drift == "refuse"
    predictions = None
    if not refused:
        model = mlflow.pyfunc.load_model(f"models:/{name}/{version}")
        labels = np.asarray(model.predict(batch[params.features]))
        predictions = pd.DataFrame({"row": np.arange(len(batch)), "prediction": labels, "model": name,
                                    "model_version": version, "input_sha256": digest,
                                    "drift_flagged": drift.is_drifted})
        write_table(predictions, out_dir / "predictions.parquet")
    outcome = "refused: drift" if refused else ("scored, drift flagged" if drift.is_drifted else "scored")
    write_json({**report, "drift": drift.to_dict(), "outcome": outcome}, out_dir / "report.json")
    return ScoreResult(str(input_path), digest, name, version, validation, drift, refused, out_dir, predictions)


def log_scoring_run(params: DatasetParams, result: ScoreResult) -> str:
    """One MLflow run per scored batch, in `<experiment>-scoring`, with the report attached."""
    mlflow.set_experiment(f"{params.experiment}-scoring")
    with mlflow.start_run(run_name=f"score-{Path(result.source).stem}") as run:
        mlflow.set_tags({"model": result.model, "model_version": result.version,
                         "input_sha256": result.input_sha256, "refused": str(result.refused).lower()})
        mlflow.log_metrics({"rows": result.validation.n_rows, "drifted_fraction": result.drift.drifted_fraction,
                            "drifted_features": len(result.drift.drifted)})
        mlflow.log_artifact(str(result.out_dir / "report.json"))
        return run.info.run_id
