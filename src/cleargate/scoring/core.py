"""Batch scoring that trusts nothing, in memory bounded by the chunk: validate, check drift, then score.

Two passes over the file, each streaming `scoring.chunk_rows` rows at a time:
1. check: the kind's validation suite (`ChunkedValidation`: whole-table checks once, per-row checks per
   chunk) and the drift counts against the model's training profile (`DriftCounts`: the PSI of summed
   counts is the PSI of the whole file). A batch that fails validation is refused here; a drifted one too
   when `drift.on_drift: refuse`.
2. predict: only for a batch that passed, chunk by chunk into a parquet writer.
Why two passes rather than one that predicts as it checks and throws away a refused batch's predictions:
the refusal needs the whole file first, reading a chunk costs a fraction of predicting it, and a refused
batch then costs no model load and no prediction at all.

A batch that carries the columns of `evaluate.slices` (features, or beside them a tabular attribute or the
patient group) is also counted per slice: rows and the share of each predicted class (`scoring.slice_counts`).

Every outcome is one folder, `scores/<input>-<sha12>/<model>-v<version>/` (report.json; predictions.parquet
only if this run made them), written in a temp folder and renamed into place, and one MLflow run.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from cleargate.errors import CleargateError, DataError
from cleargate.evaluation.drift import DriftCounts, prediction_psi
from cleargate.evaluation.drift_page import drift_html
from cleargate.io import sha256_file, write_json, write_text
from cleargate.layout import ScoreFiles
from cleargate.params import DatasetParams
from cleargate.runtime import available_cpus
from cleargate.schema import LABEL
from cleargate.scoring.progress import Progress, Silent
from cleargate.scoring.reference_profile import load_profile
from cleargate.scoring.result import BatchRefused, ScoreResult
from cleargate.scoring.scoring_runs import log_scoring_run
from cleargate.scoring.slice_counts import SliceCounts, carried, slice_only_columns
from cleargate.scoring.source import BatchSource
from cleargate.scoring.staging import Staging
from cleargate.tracking.model_ref import resolve_version
from cleargate.validation import ChunkedValidation, ValidationReport

if TYPE_CHECKING:
    from mlflow.tracking import MlflowClient


def score_file(params: DatasetParams, input_path: Path, model_ref: str, client: MlflowClient,
               progress: Progress | None = None) -> ScoreResult:
    """Score `input_path` with `model_ref` (NAME@ALIAS or NAME/VERSION). A drift refusal is a result
    (`refused`); a validation refusal raises `BatchRefused` after writing its report and logging its run."""
    progress = progress or Silent()
    input_path = Path(input_path)
    if not input_path.is_file():
        raise DataError(f"{input_path}: file not found; give the batch's .parquet or .csv")
    name, version = resolve_version(client, model_ref)  # a bad reference fails before any work
    source = BatchSource(input_path, params.scoring.chunk_rows)
    digest = sha256_file(input_path)
    final = params.layout.scores(input_path.stem, digest, name, version)
    profile = load_profile(client, name, version)
    base = {"input": str(input_path), "input_sha256": digest, "model": name, "version": version,
            "chunk_rows": params.scoring.chunk_rows}
    seconds: dict[str, float] = {}
    extra = slice_only_columns(params.evaluate.slices, params.features, source.empty().columns)
    counts = SliceCounts(carried(params.evaluate.slices, source.empty().columns),
                         [str(c) for c in params.dataset.classes], str(input_path))
    with Staging(final) as stage:
        start = time.perf_counter()
        try:
            validation, drifting = _check(params, source, profile, stage.files, progress, extra)
        except DataError as exc:  # unreadable part-way through
            _refuse(params, stage, base, "refused: unreadable", str(exc), None, seconds)
        seconds["check"] = time.perf_counter() - start
        if validation.data_docs:
            validation = validation.with_docs(final.validation_dir / "index.html")
        if not validation.passed:
            where = validation.data_docs or final.report
            reason = f"{validation.source}: {'; '.join(c.describe() for c in validation.blocking)}; see {where}"
            _refuse(params, stage, base, "refused: validation", reason, validation, seconds)
        drift = drifting.report(params.drift.psi_threshold, params.drift.max_drifted_fraction)
        write_text(drift_html(f"{input_path.name}: drift against {name} v{version}'s training data", drift),
                   stage.files.drift_page)
        refused = drift.is_drifted and params.drift.on_drift == "refuse"
        predicted_psi = None
        if not refused:
            start = time.perf_counter()
            try:
                classes = _predict(params, source, (name, version, digest), drift.is_drifted,
                                   stage.files.predictions, progress, (extra, counts))
            except CleargateError as exc:  # the model refused the input, or the file changed under us
                _refuse(params, stage, base, "refused: prediction", str(exc), validation, seconds)
            predicted_psi = prediction_psi(profile.get("prediction"), classes)
            seconds["predict"] = time.perf_counter() - start
        outcome = "refused: drift" if refused else ("scored, drift flagged" if drift.is_drifted else "scored")
        slices = counts.report()
        write_json({**base, "rows": validation.n_rows, "validation": validation.to_record().dump(),
                    "drift": drift.to_dict(), "prediction_psi": predicted_psi, "outcome": outcome,
                    "seconds": seconds, "slices": slices}, stage.files.report)
        stage.commit()
    return ScoreResult(str(input_path), digest, name, version, validation, drift, refused, final.dir, outcome=outcome,
                       reason=drift.summary() if refused else "", n_rows=validation.n_rows, seconds=seconds,
                       prediction_psi=predicted_psi, slices=slices)


def _check(params: DatasetParams, source: BatchSource, profile: dict[str, Any], files: ScoreFiles,
           progress: Progress, extra: list[str]) -> tuple[ValidationReport, DriftCounts]:
    """Pass 1: validation and drift counts, chunk by chunk (drift stops counting once validation failed). A
    `label` column (labels that arrived later, for monitoring) and the columns only slices read (`extra`) are
    neither checked nor features."""
    validation = ChunkedValidation(params.dataset, params.validation, str(source.path),
                                   docs_dir=files.validation_dir, judge_rows=params.scoring.chunk_rows)
    counts = DriftCounts(profile)
    if validation.start(source.empty().drop(columns=[LABEL, *extra], errors="ignore")):  # a wrong table reads no rows
        with progress.phase("validate + drift", source.n_rows) as advance:
            for chunk in source.chunks():
                chunk = chunk.drop(columns=[LABEL, *extra], errors="ignore")
                validation.add(chunk)
                if not validation.blocked:
                    counts.add(chunk)
                advance(len(chunk))
    return validation.report(source.n_rows), counts


def _predict(params: DatasetParams, source: BatchSource, model: tuple[str, str, str], flagged: bool, path: Path,
             progress: Progress, slices: tuple[list[str], SliceCounts]) -> np.ndarray:
    """Pass 2: the model's labels, chunk by chunk, appended to one parquet file (a row group per chunk), and
    counted per slice (`slices`: the slice-only columns read beside the features, and the counts); returns how
    many rows each class got (prediction drift)."""
    import pyarrow as pa
    import pyarrow.parquet as pq
    from mlflow.exceptions import MlflowException

    from cleargate.serving.loading import load_served
    from cleargate.serving.pyfunc import THREADS_ENV, type_mismatch

    name, version, digest = model
    os.environ.setdefault(THREADS_ENV, str(available_cpus()))  # a chunk uses every core (a served row: one)
    served, _ = load_served(f"models:/{name}/{version}")
    trained = (served.metadata.metadata or {}).get("input_kinds", {})
    writer = None
    classes = np.zeros(len(params.dataset.classes), dtype=np.int64)
    try:
        with progress.phase("predict", source.n_rows) as advance:
            extra, counts = slices
            for read in source.chunks(columns=[*params.features, *extra]):  # the model's columns, in its order
                chunk, n = read[params.features], len(read)
                why = type_mismatch(chunk, trained)  # checked here once a chunk: the model has no signature
                if why is None:
                    try:
                        labels = np.asarray(served.predict(chunk))
                    except MlflowException as exc:
                        why = str(exc).rsplit("Error: ", 1)[-1].splitlines()[0][:300]  # not the data MLflow prints
                if why is not None:
                    raise DataError(f"{source.path}: {name} v{version} cannot take rows {chunk.index[0]}.."
                                         f"{chunk.index[-1]}: {why}; give the columns the types the model was "
                                         "trained on")
                counts.add(read, labels)
                table = pa.table({"row": chunk.index.to_numpy(dtype=np.int64), "prediction": labels,
                                  **{k: pa.repeat(pa.scalar(v), n) for k, v in (
                                      ("model", name), ("model_version", version), ("input_sha256", digest),
                                      ("drift_flagged", flagged))}})
                if writer is None:
                    writer = pq.ParquetWriter(path, table.schema)
                writer.write_table(table.cast(writer.schema))
                if labels.dtype.kind in "iu":  # class indices (what the served model returns)
                    codes = labels.astype(np.int64, copy=False)
                    classes += np.bincount(codes[(codes >= 0) & (codes < len(classes))], minlength=len(classes))
                advance(n)
    finally:
        if writer is not None:
            writer.close()
    return classes


def _refuse(params: DatasetParams, stage: Staging, base: dict[str, Any], outcome: str, reason: str,
            validation: ValidationReport | None, seconds: dict[str, float]) -> None:
    """Keep the refusal's report (and data docs), log its run, and raise: nothing is scored."""
    validation = validation or ValidationReport(source=base["input"], n_rows=0, checks=[])
    write_json({**base, "rows": validation.n_rows, "validation": validation.to_record().dump(), "outcome": outcome,
                "reason": reason, "seconds": seconds}, stage.files.report)
    final = stage.commit()
    result = ScoreResult(base["input"], base["input_sha256"], base["model"], base["version"], validation, None,
                         True, final.dir, outcome=outcome, reason=reason, n_rows=validation.n_rows, seconds=seconds)
    try:
        log_scoring_run(params, result)
    except Exception as exc:
        reason = f"{reason} (its MLflow run was not logged: {type(exc).__name__}: {str(exc)[:200]})"
    raise BatchRefused(reason, result)
