"""promote: log the run to MLflow, judge the packaged candidate, register it, move `champion` on a pass.

The offline verdicts come from `gate`; here come the checks that need the packaged model and the live
registry: latency and size of the logged model loaded as production loads it, and non-inferiority
against the current champion on the same test rows. Every candidate becomes a version aliased
`challenger`; `champion` moves only if every gate passed, else the stage exits non-zero.
"""

from __future__ import annotations

import os
from dataclasses import asdict
from typing import Any

import mlflow
import numpy as np
import pandas as pd

from cleargate.config import Params
from cleargate.datasets.layout import feature_columns
from cleargate.datasets.schema import LABEL
from cleargate.drift import reference_profile
from cleargate.errors import GateError
from cleargate.evaluation.bootstrap import paired_difference
from cleargate.evaluation.gates import (
    ChampionComparison,
    GateReport,
    ReleaseEvidence,
    evaluate_gates,
    gate_markdown,
)
from cleargate.evaluation.operational import Operational, measure
from cleargate.io import read_json, read_table, write_json
from cleargate.lineage import lineage_tags, model_digest
from cleargate.modelcard import model_card
from cleargate.promotion import promote_candidate
from cleargate.scoring import PROFILE_ARTIFACT
from cleargate.stages.entry import model_paths, stage_main, stage_paths
from cleargate.tracking import connect, log_model_run


def _log_runs(params: Params, paths: dict, test: pd.DataFrame, lineage: dict[str, str],
              flow_run_id: str) -> tuple[str, dict[str, tuple[str, str]]]:
    """The parent run (lineage, reports, dataset) and one nested run per model."""
    with mlflow.start_run(run_name=f"pipeline-{params.dataset.name}") as parent:
        mlflow.set_tags({**lineage, "dataset": params.dataset.name, "prefect.flow_run_id": flow_run_id})
        mlflow.log_params({"seed": params.seed, "dataset": params.dataset.name,
                           "primary_metric": params.evaluate.primary_metric})
        test_path = paths["processed"] / "test.parquet"
        mlflow.log_input(mlflow.data.from_pandas(test, source=str(test_path), targets=LABEL,
                                                 name=f"{params.dataset.name}-test"), context="test")
        mlflow.log_artifacts(str(paths["validation_dir"]), artifact_path="validation")
        for key in ("cleaning", "split_report", "gate"):
            mlflow.log_artifact(str(paths[key]), artifact_path="reports")
        for key in ("leaderboard", "leaderboard_csv"):
            mlflow.log_artifact(str(paths[key]), artifact_path="reports")
        mlflow.log_table(pd.read_csv(paths["leaderboard_csv"]), artifact_file="leaderboard.json")
        runs = {}
        for name in params.train:
            mp = model_paths(params, name)
            runs[name] = log_model_run(params, name, mp["dir"], read_json(mp["metrics"]), mp["plots"],
                                       _example(test))
    return parent.info.run_id, runs


def _example(test: pd.DataFrame) -> pd.DataFrame:
    """A few test rows for the signature, including one with missing values if any: optional columns must
    be declared optional, or production rows with a missing category would be refused."""
    gaps = test[test.isna().any(axis=1)].head(1)
    return pd.concat([test.head(4), gaps]).reset_index(drop=True)


def _predicted_labels(predictions: pd.DataFrame) -> np.ndarray:
    """Labels from the test probabilities `evaluate` saved (columns p_<class>), so no model is re-run."""
    proba = predictions.drop(columns=[LABEL])
    return np.asarray([int(c.removeprefix("p_")) for c in proba.columns])[proba.to_numpy().argmax(axis=1)]


def _compare(params: Params, champion: str | None, test: pd.DataFrame, candidate_labels: np.ndarray) -> \
        ChampionComparison:
    if champion is None:
        return ChampionComparison(None)
    rule = params.gates.champion
    try:
        model = mlflow.pyfunc.load_model(f"models:/{params.registry.model_name}/{champion}")
        champion_labels = np.asarray(model.predict(test[feature_columns(params.dataset)]))
    except Exception as exc:  # noqa: BLE001 - any failure to score the champion fails the check, closed
        return ChampionComparison(champion, error=f"could not score the champion ({type(exc).__name__}: {exc})")
    diff = paired_difference(test[LABEL].to_numpy(), candidate_labels, champion_labels, rule.metric,
                             rule.n_resamples, rule.confidence, params.seed)
    return ChampionComparison(champion, diff)


def run(params: Params, flow_run_id: str | None = None) -> dict[str, Any]:
    paths = stage_paths(params)
    gate = read_json(paths["gate"])
    split = read_json(paths["split_report"])
    test = read_table(paths["processed"] / "test.parquet")
    client = connect(params)
    lineage = lineage_tags(params, params.root, read_json(paths["raw_meta"])["sha256"], split["digest"])
    flow_run_id = flow_run_id or os.environ.get("PREFECT__FLOW_RUN_ID") or "none"
    parent_id, runs = _log_runs(params, paths, test, lineage, flow_run_id)

    selected = gate["selected"]
    run_id, model_uri = runs[selected]
    mp = model_paths(params, selected)
    metrics = read_json(mp["metrics"])
    baselines = {n: read_json(model_paths(params, n)["metrics"]) for n, c in params.train.items()
                 if c.role == "baseline"}
    operational = measure(model_uri, test[feature_columns(params.dataset)], params.gates.latency_batch_size,
                          params.gates.latency_repeats)
    candidate_labels = _predicted_labels(read_table(mp["predictions"]))

    def judge(champion: str | None) -> GateReport:
        evidence = ReleaseEvidence(asdict(operational), _compare(params, champion, test, candidate_labels))
        return evaluate_gates(selected, metrics, baselines, params.gates, params.evaluate.primary_metric, evidence)

    name = params.registry.model_name
    tags = {**lineage, "mlflow.run_id": run_id, "model": selected, "prefect.flow_run_id": flow_run_id,
            "pipeline_run_id": parent_id}
    outcome = promote_candidate(client, name, model_uri, run_id, tags, judge, model_digest(mp["dir"]))
    _publish(params, client, outcome.report, operational, run_id, parent_id, metrics, lineage, split,
             outcome.version)
    result = {"model_name": name, "version": outcome.version, "selected": selected,
              "passed": outcome.report.passed, "champion": outcome.champion, "moved": outcome.moved,
              "previous_champion": outcome.previous_champion, "reason": outcome.reason, "run_id": run_id,
              "pipeline_run_id": parent_id, "operational": asdict(operational), "gate": outcome.report.to_dict()}
    write_json(result, paths["promotion"])
    if not outcome.report.passed:
        raise GateError(f"{paths['promotion']}: {selected} {outcome.reason}; registered as {name} "
                        f"v{outcome.version} (challenger); champion stays at "
                        f"{'v' + outcome.champion if outcome.champion else 'none'}")
    return result


def _publish(params: Params, client: Any, report: GateReport, operational: Operational, run_id: str,
             parent_id: str, metrics: dict[str, Any], lineage: dict[str, str], split: dict[str, Any],
             version: str) -> None:
    """The full gate report and the model card, in reports/, on the runs and on the version."""
    table = gate_markdown({report.model: report}, report.model)
    release_md = stage_paths(params)["release_gate"]
    release_md.write_text(table)
    card = model_card(params, report.model, metrics, report, lineage, split, version)
    for rid in (run_id, parent_id):
        client.log_text(rid, table, "reports/release_gate.md")
    client.log_text(run_id, card, "model_card.md")
    # The training data's profile travels with the version: batch scoring measures drift against it.
    train = read_table(stage_paths(params)["processed"] / "train.parquet")
    numeric = [c for c in feature_columns(params.dataset) if pd.api.types.is_numeric_dtype(train[c])]
    client.log_dict(run_id, reference_profile(train, numeric, params.drift.bins), PROFILE_ARTIFACT)
    client.log_dict(run_id, asdict(operational), "operational.json")
    client.update_model_version(params.registry.model_name, version, description=card)


def main(argv: list[str] | None = None) -> int:
    return stage_main(__doc__ or "", run, argv=argv)


if __name__ == "__main__":
    raise SystemExit(main())
