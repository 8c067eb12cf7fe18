"""One claimed batch through the existing scoring path (`cleargate.scoring.score_file`), then judged."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from mlflow.tracking import MlflowClient

from cleargate.errors import CleargateError, DataError, DataValidationError
from cleargate.evaluation.slices import slice_rows
from cleargate.io import read_table
from cleargate.layout import ScoreFiles
from cleargate.monitoring.batch_report import BatchReport
from cleargate.monitoring.decision import degraded, describe, label_codes, live_metrics, retrain_reasons
from cleargate.params import DatasetParams
from cleargate.schema import LABEL
from cleargate.scoring import ScoreResult, score_file
from cleargate.scoring.slice_counts import carried


def champion_test_metrics(client: MlflowClient, name: str, version: str, metrics: list[str]) -> dict[str, float]:
    """The version's test metrics as its training run logged them (`test_<metric>`)."""
    logged = client.get_run(client.get_model_version(name, version).run_id).data.metrics
    return {m: float(logged[f"test_{m}"]) for m in metrics if f"test_{m}" in logged}


def _live(params: DatasetParams, claimed: Path, result: ScoreResult
          ) -> tuple[dict[str, float], dict[str, dict[str, float]]]:
    """The live metrics of a labelled batch, whole and per slice of `evaluate.slices` it carries the column of
    (slices under `min_rows` rows: their rows only, no metric)."""
    if result.predictions is None:
        return {}, {}
    frame = read_table(claimed)
    if LABEL not in frame.columns:
        return {}, {}
    truth = label_codes(frame[LABEL], params.dataset.classes, str(claimed))
    predicted = result.predictions["prediction"].to_numpy()

    def metrics(rows: np.ndarray) -> dict[str, float]:
        return live_metrics(truth[rows], predicted[rows], params.monitoring.metrics, params.dataset.positive_index,
                            len(params.dataset.classes))

    config, slices = params.evaluate.slices, {}
    if config is not None:
        present = carried(config, frame.columns)
        for key, rows in slice_rows(frame, config.model_copy(update={"by": present}), str(claimed)).items():
            slices[key] = {"rows": float(len(rows)), **(metrics(rows) if len(rows) >= config.min_rows else {})}
    return metrics(np.arange(len(truth))), slices


def shadow(params: DatasetParams, client: MlflowClient, claimed: Path, name: str,
           challenger: str) -> tuple[dict[str, float], str]:
    """The challenger scored on the same labelled batch, in shadow (nothing it predicts is used): its live metrics,
    or why there are none."""
    try:
        result = score_file(params, claimed, f"{name}/{challenger}", client)
        live, _ = _live(params, claimed, result)
    except CleargateError as exc:
        return {}, f"challenger v{challenger} not scored: {str(exc).splitlines()[0][:300]}"
    return live, "" if live else f"challenger v{challenger}: {result.outcome}, no live metrics"


def assess(params: DatasetParams, client: MlflowClient, claimed: Path, batch: str, name: str,
           version: str, challenger: str | None = None) -> BatchReport:
    """Score with `name/version` (validation, drift, predictions), then the live metrics and the decision; a
    labelled batch is scored in shadow by `challenger` too. A batch the scoring refuses is a decision too; only
    a failure of the tracking store or the model raises."""
    base = {"dataset": params.dataset.name, "batch": batch, "claimed": claimed.name, "model": name,
            "version": version, "decided_at": datetime.now(UTC).isoformat(timespec="seconds")}
    try:
        result = score_file(params, claimed, f"{name}/{version}", client)
    except DataValidationError as exc:
        return BatchReport(**base, outcome="refused: validation", message=str(exc))
    except DataError as exc:
        return BatchReport(**base, outcome="refused: unreadable", message=str(exc))
    outcome = "refused: drift" if result.refused else ("scored, drift flagged" if result.drift.is_drifted
                                                       else "scored")
    note = ""
    slices: dict[str, dict[str, float]] = {}
    try:
        live, slices = _live(params, claimed, result)
    except DataError as exc:  # unusable labels: the predictions stand, the comparison is skipped
        live, note = {}, f"; labels ignored: {exc}"
    champion = champion_test_metrics(client, name, version, list(live)) if live else {}
    dropped = degraded(live, champion, params.monitoring.max_metric_drop)
    fraction = result.drift.drifted_fraction
    in_shadow = challenger if live and challenger not in (None, version) else None
    challenger_live, challenger_note = shadow(params, client, claimed, name, in_shadow) if in_shadow else ({}, "")
    page = ScoreFiles(result.out_dir).drift_page
    return BatchReport(**base, sha256=result.input_sha256, outcome=outcome, rows=result.validation.n_rows,
                       message=describe(outcome, fraction, live, champion, dropped) + note,
                       drifted_fraction=fraction, psi_max=result.drift.psi_max,
                       prediction_psi=result.prediction_psi, drift_page=str(page) if page.is_file() else None,
                       drifted_features=sorted(result.drift.drifted), live=live, champion_test=champion,
                       degraded=dropped, scores_dir=str(result.out_dir), challenger=in_shadow,
                       challenger_live=challenger_live, challenger_note=challenger_note, slices=slices,
                       retrain_reasons=retrain_reasons(result.drift.is_drifted, dropped,
                                                       params.monitoring.retrain_on))
