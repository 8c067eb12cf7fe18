"""The scheduled Prefect deployments (`schedules:`): the nightly pipeline and the hourly monitoring."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, field_validator

from cleargate.config.common import DatasetName, Strict


def _check_cron(value: str) -> str:
    fields = value.split()
    if len(fields) != 5:
        raise ValueError(f"'{value}' is not a 5-field cron expression (minute hour day month weekday), "
                         "e.g. '0 2 * * *'")
    return value


DeploymentName = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]*$")]


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
    worker_poll_s: Annotated[float, Field(gt=0, le=600)] = 2.0   # the worker asks for runs to start and to cancel
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
