"""What fitting wrote: a fit's cost (TrainRecord), and one model's test metrics over N seeds (StabilitySummary)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

from cleargate.records.record import Record


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
