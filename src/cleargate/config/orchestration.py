"""Where the flow runs its fits (`orchestration:`): a local process pool or Dask workers."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from cleargate.config.common import Strict


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
