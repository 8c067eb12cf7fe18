"""Where things live and how the work runs: paths, tracking store, Lightning trainer, orchestration, drift."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, model_validator

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
    inbox: Path          # new batches per dataset, watched by the monitoring flow


class Tracking(Strict):
    """The MLflow store; how long to wait for it before saying it is not there (seconds, not minutes)."""

    uri: str
    artifact_root: Path
    experiment: str
    connect_budget_s: Annotated[float, Field(gt=0, le=600)] = 5.0     # preflight: total wait for the store
    request_timeout_s: Annotated[float, Field(gt=0, le=600)] = 10.0   # one HTTP request to a tracking server
    request_retries: Annotated[int, Field(ge=0, le=10)] = 2           # MLflow's own retries per request
    system_metrics: bool = True                                       # CPU/memory/GPU of every training run
    system_metrics_interval_s: Annotated[float, Field(ge=0.5, le=600)]   # one sample of them per interval


class TrainerConfig(Strict):
    """Lightning runtime options shared by every deep model (all stated in params.yaml: they change results)."""

    accelerator: Literal["auto", "cpu", "gpu", "cuda", "mps"]
    devices: int | Literal["auto"]             # 1: one process; N > 1 with strategy ddp: one model on N processes
    strategy: str                              # "ddp" for several GPUs or nodes (Lightning)
    num_nodes: Annotated[int, Field(ge=1, le=1024)]
    precision: Literal["auto", "32-true", "16-mixed", "bf16-mixed"]   # auto: models.devices.precision_for
    deterministic: bool
    compile: bool = False                      # torch.compile the network before the fit (a switch, off)


class OrchestrationConfig(Strict):
    """How many (dataset, model) fits the Prefect flow runs at once, and where: each in its own process of a
    local pool (`process`), or on Dask workers (`dask`): those of the scheduler at `dask_address`, or, with no
    address, of a `distributed.LocalCluster` of `fit_workers` processes started for the run."""

    fit_workers: Annotated[int, Field(ge=1, le=256)] = 1
    task_runner: Literal["process", "dask"] = "process"
    dask_address: str | None = None                                   # e.g. tcp://scheduler:8786
    dask_connect_budget_s: Annotated[float, Field(gt=0, le=600)] = 5.0  # preflight: wait for the scheduler

    @model_validator(mode="after")
    def _address_needs_dask(self) -> OrchestrationConfig:
        if self.dask_address and self.task_runner != "dask":
            raise ValueError(f"dask_address is set ({self.dask_address}) but task_runner is "
                             f"'{self.task_runner}': set task_runner: dask, or remove dask_address")
        return self


class DriftConfig(Strict):
    bins: Annotated[int, Field(ge=2, le=100)]
    psi_threshold: Annotated[float, Field(gt=0.0)]
    max_drifted_fraction: Annotated[float, Field(ge=0.0, le=1.0)]
    on_drift: Literal["refuse", "flag"]


class ScoringConfig(Strict):
    """Batch scoring (`cleargate score`): the input streams through in chunks, so memory is bounded by
    `chunk_rows`, not by the file; the results do not depend on it (drift counts add up exactly)."""

    chunk_rows: Annotated[int, Field(ge=100, le=1_000_000)]
