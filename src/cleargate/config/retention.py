"""How long the project's history is kept (`retention:`): `cleargate gc` and the stack's Prefect server."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from cleargate.config.common import Strict

Days = Annotated[int, Field(ge=0)]   # 0: every finished run of that kind is old enough to go
RunKind = Literal["monitoring", "scoring", "tuning", "stability"]
RUN_KINDS: tuple[RunKind, ...] = ("monitoring", "scoring", "tuning", "stability")


class KeepDays(Strict):
    """Days an MLflow run of each kind is kept after it ended; a run a registered version rests on is always kept."""

    monitoring: Days = 90     # one run per monitored batch (hourly: ~8,760 a year per dataset)
    scoring: Days = 90        # one run per `cleargate score` batch
    tuning: Days = 180        # `cleargate tune`: a search's parent run and its trials
    stability: Days = 365     # `cleargate stability`: a measurement's parent run and its seeds

    def of(self, kind: RunKind) -> int:
        return int(getattr(self, kind))


class RetentionConfig(Strict):
    """What `cleargate gc` deletes, and how long the team stack's Prefect server keeps flow runs."""

    keep_days: KeepDays = KeepDays()
    cache_grace_minutes: Annotated[int, Field(ge=0)] = 60     # DVC cache objects younger than this always stay
    flow_run_days: Annotated[int, Field(ge=1)] = 90           # Prefect's flow-run vacuum (the stack's server)
