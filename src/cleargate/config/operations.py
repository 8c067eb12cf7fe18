"""How the project is operated: the scheduled deployments, the monitoring of new batches, the shared DVC cache."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, field_validator

from cleargate.config.base import DatasetName, Strict

# Metrics computable from predicted labels alone (the served model returns labels, not probabilities).
LiveMetric = Literal["accuracy", "balanced_accuracy", "macro_f1", "positive_recall", "positive_precision"]
DeploymentName = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]*$")]


def _check_cron(value: str) -> str:
    fields = value.split()
    if len(fields) != 5:
        raise ValueError(f"'{value}' is not a 5-field cron expression (minute hour day month weekday), "
                         "e.g. '0 2 * * *'")
    return value


class Concurrency(Strict):
    """Prefect's deployment concurrency limit: runs beyond `limit` wait (enqueue) or are skipped (cancel_new)."""

    limit: Annotated[int, Field(ge=1, le=100)]
    collision_strategy: Literal["enqueue", "cancel_new"]


class ScheduledDeployment(Strict):
    name: DeploymentName
    cron: str
    datasets: list[DatasetName] | None = None   # None: every dataset of params.yaml
    concurrency: Concurrency

    _cron = field_validator("cron")(_check_cron)


class PipelineSchedule(ScheduledDeployment):
    rerun: list[str] = []                        # stages to run even when DVC finds them up to date


class Schedules(Strict):
    """The two deployments (`cleargate-pipeline/<pipeline.name>`, `cleargate-monitor/<monitor.name>`)."""

    timezone: str
    work_pool: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]*$")]   # the team stack's process pool
    pipeline: PipelineSchedule
    monitor: ScheduledDeployment

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone '{value}' (an IANA name such as UTC or Europe/Paris)") from None
        return value


class MonitoringConfig(Strict):
    """What the monitoring flow watches in each batch that arrives in `paths.inbox/<dataset>/`."""

    metrics: Annotated[list[LiveMetric], Field(min_length=1)]
    max_metric_drop: Annotated[float, Field(gt=0.0, lt=1.0)]    # live below champion's test value by more
    retrain_on: list[Literal["drift", "degradation"]]           # what starts the training deployment


class DvcRemote(Strict):
    """The DVC remote that shares the cache (`make push` / `make pull`): a name and a URL DVC understands
    (a folder, relative to the project root or absolute; ssh://, s3://, ... with DVC's plugin for it)."""

    name: Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]*$")]
    url: Annotated[str, Field(min_length=1)]


class StorageConfig(Strict):
    """Where the DVC cache is shared (`make push` / `make pull`; scripts/dvc_remote.py configures DVC from it)."""

    dvc_remote: DvcRemote
