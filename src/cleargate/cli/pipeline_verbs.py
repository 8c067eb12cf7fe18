"""The verbs that run the pipeline's flows: `run`, `serve`, `monitor`, `stability`, `tune`.

Each checks what it can in this process first (params.yaml, the model named), so a mistake is one line before
anything starts, then hands over to the flows' entry (`python -m flows <verb>`), which starts Prefect's API when
none is configured. `tune` with one worker runs its trials here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cleargate.cli.app import ParamsOption, app, hand_over, handled, params_path, verbose

DatasetOption = Annotated[list[str] | None, typer.Option(
    "--dataset", metavar="NAME", help="only this dataset (repeatable; default: every dataset of params.yaml), "
    "e.g. --dataset breast_cancer", show_default=False)]


def _flows(verb: str, path: Path, *args: str) -> None:
    hand_over("flows", [verb, "--params", str(path), *args, *(["-v"] if verbose() else [])], cwd=path.parent)


def _repeat(option: str, values: list[str] | None) -> list[str]:
    return [arg for value in values or [] for arg in (option, value)]


@app.command()
def run(dataset: DatasetOption = None,
        rerun: Annotated[list[str] | None, typer.Option(
            metavar="STAGE", help="run this stage even if DVC finds it up to date (repeatable), e.g. "
            "--rerun promote or --rerun train@mnist_cnn", show_default=False)] = None,
        strict: Annotated[bool, typer.Option(help="exit 3 when a candidate is blocked at its gates (CI, release "
                                             "schedules)")] = False,
        stability_seeds: Annotated[int, typer.Option(
            min=0, metavar="N", help="fit every candidate with N seeds before its gates (max_seed_std); 0: off")] = 0,
        params: ParamsOption = None) -> None:
    """Run the pipeline: ingest, validate, clean, split, train, evaluate, gate and promote every dataset; what DVC
    finds up to date is skipped. Prints each dataset's leaderboard and verdict, and what the run cost.

    Example: cleargate run --dataset breast_cancer --strict"""
    with handled():
        path = params_path(params)
        _load(path)
    _flows("run", path, *_repeat("--dataset", dataset), *_repeat("--rerun", rerun), *(["--strict"] if strict else []),
           *(["--stability-seeds", str(stability_seeds)] if stability_seeds else []))


@app.command()
def serve(params: ParamsOption = None) -> None:
    """Schedule the nightly pipeline and the hourly monitoring (params.yaml `schedules`) and run them here until
    Ctrl-C, on a local Prefect server with its UI (or the one PREFECT_API_URL names). Not the online model server:
    that is `cleargate serve-model`.

    Example: cleargate serve"""
    with handled():
        path = params_path(params)
        _load(path)
    _flows("serve", path)


@app.command()
def monitor(dataset: DatasetOption = None,
            retrain: Annotated[bool, typer.Option(help="start the training deployment when a batch drifted or "
                                                  "degraded (--no-retrain: judge and record only)")] = True,
            params: ParamsOption = None) -> None:
    """Score every new batch in paths.inbox/<dataset>/ with the champion: validation, drift, live metrics when the
    batch has labels; one MLflow run per batch.

    Example: cleargate monitor --dataset covid --no-retrain"""
    with handled():
        path = params_path(params)
        _load(path)
    _flows("monitor", path, *_repeat("--dataset", dataset), *([] if retrain else ["--no-retrain"]))


@app.command()
def stability(model: Annotated[str, typer.Argument(help="a model of params.yaml `train`, e.g. mnist_cnn")],
              seeds: Annotated[int, typer.Option(help="fits, one per seed (at least 2): the project's seed, then "
                                                 "the next ones")] = 5,
              strict: Annotated[bool, typer.Option(help="exit 3 when a max_seed_std gate fails")] = False,
              params: ParamsOption = None) -> None:
    """Fit MODEL with N seeds side by side; report each test metric's mean, spread and range, and judge the
    max_seed_std gates with them.

    Example: cleargate stability breast_cancer_rf --seeds 5 --strict"""
    from cleargate.stability.seeds import check_ready

    with handled():
        path = params_path(params)
        project = _load(path)
        check_ready(project.scope(project.dataset_of(model)), model, seeds)
    _flows("stability", path, "--model", model, "--seeds", str(seeds), *(["--strict"] if strict else []))


@app.command()
def tune(model: Annotated[str, typer.Argument(help="a model of params.yaml `train` with a tuning.space entry")],
         trials: Annotated[int, typer.Option(min=1, help="trials to add to the model's study")] = 20,
         params: ParamsOption = None) -> None:
    """Search MODEL's hyper-parameters: trials of an Optuna study (resumed if it exists), judged on the validation
    split, each an MLflow child run; prints the best values and the `dvc exp run -S ...` that applies them.
    `tuning.workers` trials run at once (more than one: on the pipeline's task runner).

    Example: cleargate tune breast_cancer_hgb --trials 30"""
    with handled():
        path = params_path(params)
        project = _load(path)
        if project.tuning is not None and project.tuning.workers > 1:
            project.dataset_of(model)  # an unknown model: one line here
        else:
            from cleargate.runtime import quiet_third_party
            from cleargate.tracking import check_store
            from cleargate.tuning.study import tune as search

            quiet_third_party()
            check_store(project.scope(project.dataset_of(model)))
            for line in search(project, model, trials).lines():
                typer.echo(line)
            return
    _flows("tune", path, model, "--trials", str(trials))


def _load(path: Path):  # -> ProjectParams, imported lazily
    from cleargate.params import load_project

    return load_project(path)
