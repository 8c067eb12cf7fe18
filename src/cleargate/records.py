"""Typed hand-offs: what one stage writes and the next one reads, as pydantic records with save/load.

Each record is one JSON file named by `cleargate.layout`; loading validates it, so a stale or hand-edited
file fails with the file named instead of a KeyError three modules later. In the order they are written:
IngestRecord -> ValidationRecord -> CleaningReport -> SplitReport -> TrainRecord -> Evaluation (+ Predictions)
-> GateDecision -> ReleaseDecision.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Literal, Self

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, ValidationError, computed_field

from cleargate.errors import DataError
from cleargate.io import read_json, read_table, write_json, write_table
from cleargate.schema import LABEL


class Record(BaseModel):
    """A stage's output file: strict on read (unknown keys fail), written atomically, sorted keys."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    omit_empty: ClassVar[bool] = False    # leave out None fields (metrics a dataset does not have)

    def dump(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_none=self.omit_empty)

    def save(self, path: Path) -> Path:
        return write_json(self.dump(), path)

    @classmethod
    def load(cls, path: Path) -> Self:
        try:
            return cls.model_validate(read_json(path))
        except ValidationError as exc:
            problem = exc.errors()[0]
            where = ".".join(str(p) for p in problem["loc"]) or "<root>"
            raise DataError(f"{path}: not a valid {cls.__name__} ({where}: {problem['msg']}); "
                            "re-run the stage that writes it (see dvc.yaml)") from None


class IngestRecord(Record):
    """data/raw/<d>.json: where the raw file came from and its content hash (checked before every use)."""

    source: str
    source_path: str | None
    rows: int
    columns: int
    sha256: str


class ValidationRecord(Record):
    """reports/<d>/validation/result.json: every named check and what was quarantined."""

    source: str
    n_rows: int
    passed: bool
    data_docs: str | None
    quarantined: dict[str, Any]
    checks: list[dict[str, Any]]


class CleaningReport(Record):
    """reports/<d>/cleaning.json: every raw row is either cleaned or quarantined, counted by reason."""

    rows_in: int
    quarantined: int
    rows_out: int
    by_reason: dict[str, int] = {}
    details: dict[str, Any] = {}    # what the kind's cleaning did (windows, dropped columns, ...)


class SplitReport(Record):
    sizes: dict[str, int]
    class_counts: dict[str, dict[str, int]]
    groups: dict[str, int] | None
    digest: str                     # equal digests mean identical splits (lineage)
    leakage_check: dict[str, Any]


class TrainRecord(Record):
    """models/<d>/<m>/train.json: what the fit cost."""

    model: str
    family: str
    flavour: Literal["torch", "sklearn"]
    fit_seconds: float
    epochs: int
    n_parameters: int
    size_bytes: int
    device: str
    run_id: str | None = None      # the MLflow run that watched the fit (curves, system metrics)
    parent: str | None = None      # fine-tuned from (`init_from`): models:/<name>/<version> or a project model
    parent_version: str | None = None   # the registered version `init_from` resolved to
    parent_sha256: str | None = None    # the parent's weights
    head: str | None = None        # loaded | re-initialised (...)
    freeze: str | None = None      # backbone | none


class Evaluation(Record):
    """reports/<d>/metrics/<m>.json (a DVC metrics file): test-set figures with the same names for every dataset."""

    omit_empty: ClassVar[bool] = True
    model: str
    dataset: str
    role: Literal["candidate", "baseline"]
    family: str
    fit_seconds: float
    size_bytes: int
    accuracy: float
    balanced_accuracy: float
    macro_f1: float
    roc_auc: float
    pr_auc: float
    log_loss: float
    ece: float
    min_class_recall: float
    per_class_recall: dict[str, float]
    confusion_matrix: list[list[int]]
    n_test: int
    positive_recall: float | None = None      # binary tasks: recall and precision of the positive class
    positive_precision: float | None = None
    prevalence: float | None = None
    robustness: dict[str, float] | None = None   # perturbation -> the primary metric on the perturbed test split

    def scalars(self) -> dict[str, float]:
        """The numbers MLflow and DVC compare: per-class recalls flattened as `recall_class_<c>`, the perturbed
        primary metric as `robust_<perturbation>`."""
        flat = {k: float(v) for k, v in self.dump().items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
        flat.update({f"recall_class_{c}": v for c, v in self.per_class_recall.items()})
        flat.update({f"robust_{name}": v for name, v in (self.robustness or {}).items()})
        return flat


class SeedSpread(BaseModel):
    """One test metric over the seeds: mean, sample standard deviation (ddof=1), range, each seed's value."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    mean: float
    std: float
    min: float
    max: float
    range: float
    values: list[float]


class StabilitySummary(Record):
    """reports/<d>/stability/<m>.json: one model fitted with N seeds, every scalar test metric's spread.

    `fingerprint` ties it to the model's params, the trainer and the split it was measured on: the gates treat
    a summary whose fingerprint differs from the current one as missing (stale)."""

    model: str
    dataset: str
    seeds: list[int]
    fingerprint: str
    metrics: dict[str, SeedSpread]
    seconds: float                   # wall time of the whole measurement
    run_id: str | None = None        # the MLflow parent run (one child run per seed)


@dataclass(frozen=True)
class Predictions:
    """Test-set probabilities of one model (reports/<d>/predictions/<m>.parquet): `label` and `p_<class>`."""

    y_true: np.ndarray
    proba: np.ndarray
    classes: list[int]

    def labels(self) -> np.ndarray:
        return np.asarray(self.classes)[self.proba.argmax(axis=1)]

    def save(self, path: Path) -> Path:
        frame = pd.DataFrame(self.proba, columns=[f"p_{c}" for c in self.classes])
        return write_table(frame.assign(**{LABEL: self.y_true}), path)

    @classmethod
    def load(cls, path: Path) -> Predictions:
        frame = read_table(path)
        proba = frame.drop(columns=[LABEL])
        return cls(y_true=frame[LABEL].to_numpy(), proba=proba.to_numpy(),
                   classes=[int(c.removeprefix("p_")) for c in proba.columns])


class Check(BaseModel):
    """One gate: its threshold, the measured value and the verdict (a missing value fails)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str
    threshold: float | None
    value: float | None
    passed: bool
    detail: str = ""


class GateReport(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)   # `passed` is derived, written for readers
    model: str
    checks: tuple[Check, ...]

    @computed_field  # type: ignore[prop-decorator]
    @property
    def passed(self) -> bool:
        return bool(self.checks) and all(c.passed for c in self.checks)

    @property
    def failed(self) -> list[Check]:
        return [c for c in self.checks if not c.passed]


class GateDecision(Record):
    """reports/<d>/gate.json: every candidate's offline verdict and the one selected for release."""

    primary_metric: str
    selected: str
    passed: bool
    candidates: dict[str, GateReport]
    baselines: dict[str, float | None]


class Operational(Record):
    """Latency and size of the logged model as production loads it, measured on this machine."""

    latency_p95_ms_single: float
    latency_p95_ms_batch: float
    batch_size: int
    model_size_mb: float
    load_seconds: float


class RunTimings(Record):
    """reports/run_timings.json: what one pipeline run cost, stage by stage, against the fitting it did."""

    wall_seconds: float
    fit_seconds: float                 # sum of this run's fits (TrainRecord.fit_seconds)
    stage_seconds: dict[str, float]    # dvc stage name -> wall time of the stage, as the flow saw it
    skipped: int                       # stages DVC found up to date
    runner: str = "process pool"       # what ran the fits: "process pool of 2", "Dask at tcp://host:8786"
    dask_dashboard: str | None = None  # the Dask scheduler's dashboard, when Dask ran them

    @property
    def overhead(self) -> float:
        """(wall - fitting) / fitting: what the orchestration, I/O and judging cost per second of fitting."""
        return (self.wall_seconds - self.fit_seconds) / self.fit_seconds if self.fit_seconds else float("nan")

    def by_stage(self) -> dict[str, float]:
        """Wall time summed per stage name (every dataset's validate together, ...), fits not counted."""
        totals: dict[str, float] = {}
        for name, seconds in self.stage_seconds.items():
            totals[name.split("@")[0]] = totals.get(name.split("@")[0], 0.0) + seconds
        return totals


Outcome = Literal["promoted", "blocked", "unchanged", "pending"]


class ReleaseDecision(Record):
    """reports/<d>/promotion.json: the registered version, its full verdict, and where `champion` stands."""

    model_name: str
    version: str
    selected: str
    passed: bool
    champion: str | None
    previous_champion: str | None
    moved: bool
    reason: str
    run_id: str
    pipeline_run_id: str
    operational: Operational
    gate: GateReport
    approval: Literal["auto", "pending"] = "auto"   # pending: passed, waits for `cleargate approve` / `reject`
    registry: str = ""                              # the store it is registered in (no password)

    @property
    def outcome(self) -> Outcome:
        """promoted: champion moved; blocked: a gate failed; pending: passed, awaits a person's approval;
        unchanged: passed, identical to the champion."""
        if self.moved:
            return "promoted"
        if not self.passed:
            return "blocked"
        return "pending" if self.approval == "pending" else "unchanged"

    @property
    def blocked(self) -> bool:
        return self.outcome == "blocked"

    def message(self) -> str:
        champion = f"v{self.champion}" if self.champion else "none"
        alias = "champion" if self.moved else "challenger"
        return (f"{self.model_name} v{self.version} ({self.selected}) registered as {alias}: {self.reason}; "
                f"champion is {champion}")
