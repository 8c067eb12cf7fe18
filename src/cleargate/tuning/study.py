"""The study of one model in an RDB storage (SQLite under the project by default, PostgreSQL for a team), and
the search: trials run against the shared study, so a search resumes where the last one stopped, and several
processes (flows/tune.py) or machines can add trials to it at once.

`cleargate tune` runs `start`, `run_trials` and `finish` in one process; flows/tune.py runs `run_trials(..., 1)`
in `tuning.workers` processes at once between the same `start` and `finish`.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from typing import Any

import optuna

from cleargate.errors import ConfigError
from cleargate.params import ProjectParams
from cleargate.tracking.parent_model import resolve_init
from cleargate.tuning.objective import Objective, load_splits
from cleargate.tuning.space import decoded, dvc_command, search_space
from cleargate.tuning.trial_runs import fail_search, finish_search, start_search

STORAGE_ENV = "CLEARGATE_TUNING_STORAGE"     # overrides tuning.storage (the team stack's PostgreSQL)


def storage_url(project: ProjectParams, dataset: str) -> str:
    """The study storage of `dataset`: CLEARGATE_TUNING_STORAGE, else tuning.storage (relative SQLite paths are
    anchored at the project root, their folder created)."""
    assert project.tuning is not None
    url = os.environ.get(STORAGE_ENV) or project.tuning.storage.format(dataset=dataset)
    if url.startswith("sqlite:///") and not url.startswith("sqlite:////"):
        path = project.root / url.removeprefix("sqlite:///")
        path.parent.mkdir(parents=True, exist_ok=True)
        url = f"sqlite:///{path}"
    return url


def shown(url: str) -> str:
    """The URL without its password (it goes into logs and MLflow tags)."""
    return re.sub(r"//([^:/@]+):[^@]*@", r"//\1:***@", url)


def open_study(project: ProjectParams, model: str) -> optuna.Study:
    """The model's study, created on first use and resumed after; its sampler is seeded with the project seed
    plus the trials it already holds, so a resumed or parallel search does not repeat the first suggestions."""
    tuning = project.tuning
    assert tuning is not None
    optuna.logging.set_verbosity(optuna.logging.WARNING)   # the summary says what happened
    url = storage_url(project, project.dataset_of(model))
    engine = {"connect_args": {"timeout": 60}} if url.startswith("sqlite") else {}
    try:
        storage = optuna.storages.RDBStorage(url, engine_kwargs=engine)
        optuna.create_study(storage=storage, study_name=model, direction="maximize", load_if_exists=True)
        done = len(storage.get_all_trials(storage.get_study_id_from_name(model), deepcopy=False))
    except Exception as exc:
        raise ConfigError(f"{shown(url)}: cannot open the Optuna study storage ({type(exc).__name__}: "
                          f"{str(exc).splitlines()[0][:160]}); check tuning.storage or {STORAGE_ENV}") from None
    seed = project.seed + done
    sampler = (optuna.samplers.TPESampler(seed=seed, n_startup_trials=max(tuning.startup_trials, 1))
               if tuning.sampler == "tpe" else optuna.samplers.RandomSampler(seed=seed))
    pruner = (optuna.pruners.MedianPruner(n_startup_trials=tuning.startup_trials,
                                          n_warmup_steps=tuning.warmup_epochs)
              if tuning.pruner == "median" else optuna.pruners.NopPruner())
    return optuna.load_study(study_name=model, storage=storage, sampler=sampler, pruner=pruner)


def start(project: ProjectParams, model: str, trials: int) -> str:
    """Check the space and the storage, open the MLflow parent run; returns its id."""
    search_space(project, model)
    open_study(project, model)
    params = project.scope(project.dataset_of(model))
    return start_search(params, model, model, shown(storage_url(project, params.dataset.name)), trials)


def run_trials(project: ProjectParams, model: str, trials: int, parent_id: str) -> None:
    """`trials` trials in this process, one after another, each asking the shared study for its values."""
    params = project.scope(project.dataset_of(model))
    train, val = load_splits(params)
    objective = Objective(params, model, search_space(project, model), parent_id, train, val,
                          init=resolve_init(params, model), prune=project.tuning.pruner != "none")  # type: ignore[union-attr]
    for _ in range(trials):
        open_study(project, model).optimize(objective, n_trials=1)


@dataclass(frozen=True)
class SearchResult:
    model: str
    study: str
    storage: str
    metric: str
    states: dict[str, int]
    best_trial: int | None
    best_value: float | None
    best: dict[str, Any] = field(default_factory=dict)

    @property
    def command(self) -> str:
        return dvc_command(self.model, self.best)

    def lines(self) -> list[str]:
        counts = ", ".join(f"{n} {s.lower()}" for s, n in sorted(self.states.items()))
        out = [f"{self.model}: study '{self.study}' in {self.storage}: {sum(self.states.values())} trials ({counts})"]
        if self.best_trial is None:
            return [*out, "no trial completed: nothing to apply"]
        values = ", ".join(f"{k}={v:.6g}" if isinstance(v, float) else f"{k}={v}" for k, v in self.best.items())
        return [*out, f"best: trial {self.best_trial}, val {self.metric} {self.best_value:.4f}: {values}",
                "make them the project's (params.yaml is left as it is):", f"  {self.command}"]


def finish(project: ProjectParams, model: str, parent_id: str) -> SearchResult:
    """What the study holds now (all runs so far), the best trial on the parent run."""
    params = project.scope(project.dataset_of(model))
    study = open_study(project, model)
    states: dict[str, int] = {}
    for trial in study.trials:
        states[trial.state.name] = states.get(trial.state.name, 0) + 1
    complete = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    best = study.best_trial if complete else None
    chosen = {k: decoded(best.params[k]) for k in search_space(project, model)} if best is not None else {}
    result = SearchResult(model, model, shown(storage_url(project, params.dataset.name)),
                          params.evaluate.primary_metric, states, best.number if best else None,
                          best.value if best else None, chosen)
    finish_search(params, parent_id, result.best, result.best_value)
    return result


def tune(project: ProjectParams, model: str, trials: int) -> SearchResult:
    """`cleargate tune`: a search of `trials` trials in this process."""
    parent_id = start(project, model, trials)
    try:
        run_trials(project, model, trials, parent_id)
    except BaseException:
        fail_search(project.scope(project.dataset_of(model)), parent_id)
        raise
    return finish(project, model, parent_id)
