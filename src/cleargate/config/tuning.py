"""`tuning:` in params.yaml: where Optuna keeps its studies, how it samples and prunes, and each model's search
space (`cleargate tune <model>`). A space names fields of the model's `train.<m>` entry: a range (`low`, `high`,
`log`, `step`; integers when the entry's value and both bounds are integers) or a list of `choices`."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from cleargate.config.common import ModelName, Strict

Value = bool | int | float | str | list[int]


class Range(Strict):
    low: float
    high: float
    log: bool = False               # sample on a log scale (learning rates, weight decay)
    step: Annotated[float, Field(gt=0)] | None = None

    @model_validator(mode="after")
    def _check_bounds(self) -> Range:
        if not self.low < self.high:
            raise ValueError(f"low ({self.low}) must be below high ({self.high})")
        if self.log and (self.low <= 0 or self.step is not None):
            raise ValueError("log needs low > 0 and no step")
        return self


class Choices(Strict):
    choices: Annotated[list[Value], Field(min_length=1)]


class TuningConfig(Strict):
    """Optuna's settings. `storage` is an RDB URL (SQLAlchemy) with `{dataset}` for the dataset's name; a
    relative sqlite path is anchored at the project root; CLEARGATE_TUNING_STORAGE overrides it (the team
    stack's PostgreSQL, `source .stack/env`), so studies resume and are shared."""

    storage: Annotated[str, Field(min_length=1)]
    sampler: Literal["tpe", "random"]
    pruner: Literal["median", "none"]       # median: stop a deep trial whose val accuracy is below the median
    startup_trials: Annotated[int, Field(ge=0, le=1000)]   # trials never pruned (and sampled at random by TPE)
    warmup_epochs: Annotated[int, Field(ge=0, le=1000)]    # epochs of a trial never pruned
    workers: Annotated[int, Field(ge=1, le=256)]           # trials at once in flows/tune.py, one process each
    space: dict[ModelName, dict[str, Range | Choices]] = {}
