"""Where things live and how the work runs: paths, tracking store, Lightning trainer, orchestration, drift."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field

from cleargate.config.base import Strict


class Paths(Strict):
    """Roots of the file catalog; `cleargate.layout` names every file under them."""

    raw: Path
    quarantine: Path
    interim: Path
    processed: Path
    models: Path
    reports: Path
    scores: Path


class Tracking(Strict):
    uri: str
    artifact_root: Path
    experiment: str


class TrainerConfig(Strict):
    """Lightning runtime options shared by every deep model (all stated in params.yaml: they change results)."""

    accelerator: Literal["auto", "cpu", "gpu", "cuda", "mps"]
    devices: int | Literal["auto"]
    strategy: str                              # "ddp" for several GPUs or nodes (Lightning)
    num_nodes: Annotated[int, Field(ge=1, le=1024)]
    precision: Literal["32-true", "16-mixed", "bf16-mixed"]
    deterministic: bool
    num_workers: Annotated[int, Field(ge=0, le=64)] = 0


class OrchestrationConfig(Strict):
    """How many (dataset, model) fits the Prefect flow runs at once; each in its own process."""

    fit_workers: Annotated[int, Field(ge=1, le=256)] = 1


class DriftConfig(Strict):
    bins: Annotated[int, Field(ge=2, le=100)]
    psi_threshold: Annotated[float, Field(gt=0.0)]
    max_drifted_fraction: Annotated[float, Field(ge=0.0, le=1.0)]
    on_drift: Literal["refuse", "flag"]


class ScoringConfig(Strict):
    """Batch scoring (`cleargate score`): the input streams through in chunks, so memory is bounded by
    `chunk_rows`, not by the file; the results do not depend on it (drift counts add up exactly)."""

    chunk_rows: Annotated[int, Field(ge=100, le=1_000_000)] = 5_000
