"""A model's search space (params.yaml `tuning.space.<m>`): checked against its `train.<m>` entry, sampled per
trial, applied to a copy of the entry, and written back as the `dvc exp run -S ...` that makes it the project's."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from cleargate.config.hyperparameters import ModelConfig
from cleargate.config.tuning import Choices, Range
from cleargate.errors import ConfigError
from cleargate.params import ProjectParams

if TYPE_CHECKING:
    import optuna

Space = dict[str, Range | Choices]


def search_space(project: ProjectParams, model: str) -> Space:
    """The declared space of `model`; every key a field of its entry, or one line naming it."""
    if project.tuning is None:
        raise ConfigError("params.yaml has no `tuning` section: declare tuning.storage and tuning.space.<model>")
    config = project.train.get(model)
    if config is None:
        raise ConfigError(f"unknown model '{model}': params.yaml train defines {', '.join(project.train)}")
    space = project.tuning.space.get(model)
    if not space:
        raise ConfigError(f"tuning.space.{model}: no search space declared for {model} in params.yaml "
                          f"(spaces: {', '.join(project.tuning.space) or 'none'})")
    fields = type(config).model_fields
    for key in space:
        if key not in fields or key in ("dataset", "family", "role", "init_from"):
            raise ConfigError(f"tuning.space.{model}.{key}: not a tunable field of train.{model} "
                              f"(family {config.family})")
    return space


def _is_int(config: ModelConfig, key: str, spec: Range) -> bool:
    current = getattr(config, key)
    return isinstance(current, int) and not isinstance(current, bool) and float(spec.low).is_integer() \
        and float(spec.high).is_integer() and (spec.step is None or float(spec.step).is_integer())


def suggest(trial: optuna.Trial, space: Space, config: ModelConfig) -> dict[str, Any]:
    """One value per key, from Optuna's sampler; choices that are lists travel as JSON strings."""
    values: dict[str, Any] = {}
    for key, spec in space.items():
        if isinstance(spec, Choices):
            encoded = [json.dumps(c) if isinstance(c, list) else c for c in spec.choices]
            values[key] = decoded(trial.suggest_categorical(key, encoded))
        elif _is_int(config, key, spec):
            values[key] = trial.suggest_int(key, int(spec.low), int(spec.high), step=int(spec.step or 1),
                                            log=spec.log)
        else:
            values[key] = trial.suggest_float(key, spec.low, spec.high, step=spec.step, log=spec.log)
    return values


def decoded(value: Any) -> Any:
    """A choice as the entry takes it (a list choice is stored in the study as its JSON text)."""
    return json.loads(value) if isinstance(value, str) and value.startswith("[") else value


def with_values(model: str, config: ModelConfig, values: dict[str, Any]) -> ModelConfig:
    """The entry with the trial's values, validated like params.yaml (a bad combination is one line)."""
    try:
        return type(config).model_validate({**config.model_dump(), **values})
    except ValidationError as exc:
        problem = exc.errors()[0]
        raise ConfigError(f"tuning.space.{model}: the values {values} make an invalid train.{model} "
                          f"({'.'.join(str(p) for p in problem['loc']) or 'entry'}: {problem['msg']})") from None


def _shown(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, list):
        return json.dumps(value)
    return str(value)


def dvc_command(model: str, values: dict[str, Any]) -> str:
    """`dvc exp run -S 'train.<m>.<key>=<value>' ...`: the experiment that makes these values the project's
    (DVC writes them into params.yaml of the experiment; `dvc exp apply` keeps them)."""
    return "dvc exp run " + " ".join(f"-S 'train.{model}.{k}={_shown(v)}'" for k, v in values.items())
