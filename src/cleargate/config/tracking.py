"""The MLflow store (`tracking:`): where it is, and how long to wait for it before saying it is not there."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import Field

from cleargate.config.common import Strict


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
