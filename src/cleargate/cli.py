"""`cleargate ...`: the registry commands people run (status, promote, rollback), batch scoring, seed
stability, hyper-parameter search (tune), reproduce and the MLflow UI."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Annotated

import typer

from cleargate import registry
from cleargate.errors import CleargateError
from cleargate.lock import promotion_lock
from cleargate.params import load_project
from cleargate.runtime import apply_offline_env, exit_without_heap_walks

app = typer.Typer(add_completion=False, no_args_is_help=True, help=__doc__)
ParamsOpt = Annotated[Path, typer.Option("--params", help="params.yaml of the project")]


@app.callback()
def _every_command() -> None:
    exit_without_heap_walks()  # before any command: a second off each exit (cleargate.runtime)


def _client(params_path: Path, model: str | None = None):  # noqa: ANN202 - MlflowClient, imported lazily
    """The dataset view that registers `model` (any, if None) and a client on the project's store."""
    from cleargate.tracking import check_store, connect

    apply_offline_env()
    project = load_project(params_path)
    params = project.scope_registered(model) if model else project.scope(next(iter(project.datasets)))
    check_store(params)  # a stopped server: one line in seconds, not minutes of retries
    return params, connect(params)


def _fail(exc: CleargateError) -> None:
    typer.echo(f"error: {exc}", err=True)
    raise typer.Exit(2)


@app.command()
def status(model: Annotated[str | None, typer.Argument(help="registered model name")] = None,
           params_path: ParamsOpt = Path("params.yaml")) -> None:
    """Aliases, champion history and the last gate verdicts of a registered model (default: all of them)."""
    try:
        if model is None:
            for name in load_project(params_path).registered_models():
                status(name, params_path)
            return
        _, client = _client(params_path, model)
        name = model
        aliases = {a: registry.alias_version(client, name, a) for a in (registry.CHAMPION, registry.CHALLENGER)}
        typer.echo(f"{name}: champion=v{aliases['champion'] or '-'} challenger=v{aliases['challenger'] or '-'}")
        for event in registry.history(client, name):
            typer.echo(f"  {event['at']}  {event['action']:<8} v{event['previous'] or '-'} -> v{event['version']}"
                       f"  {event['reason']}")
        if aliases["challenger"]:
            tags = client.get_model_version(name, aliases["challenger"]).tags
            gates = {k: v for k, v in sorted(tags.items()) if k.startswith("gate.") and k.count(".") == 1}
            typer.echo(f"  challenger v{aliases['challenger']} gates: {json.dumps(gates)}")
    except CleargateError as exc:
        _fail(exc)


@app.command()
def promote(model: str, version: str, force: Annotated[bool, typer.Option(help="bypass failed gates")] = False,
            reason: Annotated[str, typer.Option(help="why (required with --force)")] = "",
            params_path: ParamsOpt = Path("params.yaml")) -> None:
    """Make VERSION the champion; refused unless its gates passed, or --force with a --reason."""
    try:
        _, client = _client(params_path, model)
        tags = client.get_model_version(model, version).tags
        if tags.get("gate.passed") != "true":
            if not force:
                verdict = tags.get("gate.passed", "no verdict")
                raise CleargateError(f"{model} v{version}: gates did not pass ({verdict}); use --force "
                                     "--reason '...' to override, recorded in the history")
            if not reason.strip():
                raise CleargateError("--force needs --reason: the override is recorded in the champion history")
        with promotion_lock(client, model):  # never interleave with a pipeline's promotion
            previous = registry.set_champion(client, model, version, "forced" if force else "manual",
                                             reason or "manual promotion")
        typer.echo(f"{model}: champion v{previous or '-'} -> v{version}")
    except CleargateError as exc:
        _fail(exc)


@app.command()
def rollback(model: str, reason: str = "", params_path: ParamsOpt = Path("params.yaml")) -> None:
    """Move champion back to the version it replaced; recorded in the history."""
    try:
        _, client = _client(params_path, model)
        with promotion_lock(client, model):
            target = registry.rollback(client, model, reason)
        typer.echo(f"{model}: champion rolled back to v{target}")
    except CleargateError as exc:
        _fail(exc)


@app.command()
def score(input_path: Annotated[Path, typer.Argument(help="a .parquet or .csv of raw records")],
          model: Annotated[str | None, typer.Option(help="NAME@ALIAS or NAME/VERSION")] = None,
          params_path: ParamsOpt = Path("params.yaml")) -> None:
    """Validate a batch, check drift against the model's training profile, score it; exit 2 if refused.

    The model names the dataset (and so the validation suite); default: the only dataset's champion."""
    from cleargate.scoring import log_scoring_run, progress_for, score_file
    from cleargate.tracking import connect

    try:
        apply_offline_env()
        params = load_project(params_path).scope_registered(model)  # params.yaml read once
        client = connect(params)
        result = score_file(params, input_path, model or f"{params.registry.model_name}@champion", client,
                            progress=progress_for(sys.stderr))  # a bar on a terminal, plain lines otherwise
        log_scoring_run(params, result)  # a batch refused by validation has logged its run already
    except CleargateError as exc:
        _fail(exc)
    typer.echo(result.summary())
    if result.refused:
        raise typer.Exit(2)


@app.command()
def stability(model: Annotated[str, typer.Argument(help="a key of params.yaml `train`")],
              seeds: Annotated[int, typer.Option(help="fits, one per seed: the project seed, then the next")] = 5,
              strict: Annotated[bool, typer.Option(help="exit 3 when a max_seed_std gate fails")] = False,
              params_path: ParamsOpt = Path("params.yaml")) -> None:
    """Fit MODEL with N seeds in parallel; report each test metric's mean, std and range, judge max_seed_std.

    Runs the project's Prefect flow `flows/stability.py` (orchestration stays out of the library) as a
    process, so it is the same as `python flows/stability.py --model MODEL --seeds N`."""
    from cleargate.stability import check_ready

    try:
        project = load_project(params_path)
        check_ready(project.scope(project.dataset_of(model)), model, seeds)  # bad input: one line, no flow started
        script = project.root / "flows" / "stability.py"
        if not script.is_file():
            raise CleargateError(f"{script}: not found; run from a cleargate project (flows/ beside params.yaml)")
    except CleargateError as exc:
        _fail(exc)
    command = [sys.executable, str(script), "--params", str(params_path.resolve()), "--model", model,
               "--seeds", str(seeds), *(["--strict"] if strict else [])]
    raise typer.Exit(subprocess.call(command, cwd=project.root))


@app.command()
def reproduce(model: Annotated[str, typer.Argument(help="NAME@ALIAS or NAME/VERSION")],
              params_path: ParamsOpt = Path("params.yaml")) -> None:
    """Rebuild a registered version from its commit and data; exit 0 only when its test metrics match.

    Prints `identical`, `metrics equal, weights differ` or `differs: <metric> <registered> -> <rebuilt>`."""
    from cleargate.reproduce import reproduce as rebuild_and_compare

    try:
        params, client = _client(params_path, model)
        verdict = rebuild_and_compare(params.root, client, model, typer.echo)
    except CleargateError as exc:
        _fail(exc)
    typer.echo(verdict.line)
    if not verdict.metrics_match:
        raise typer.Exit(1)


@app.command()
def tune(model: Annotated[str, typer.Argument(help="a model of params.yaml train, with a tuning.space entry")],
         trials: Annotated[int, typer.Option(min=1, help="trials to add to the model's study")] = 20,
         params_path: ParamsOpt = Path("params.yaml")) -> None:
    """Hyper-parameter search: trials of an Optuna study (resumed if it exists) judged on the validation split,
    each an MLflow child run; prints the best values and the `dvc exp run -S ...` that applies them.

    Runs its trials in this process; `python flows/tune.py` runs the same trials `tuning.workers` at a time."""
    from cleargate.runtime import quiet_third_party
    from cleargate.tracking import check_store
    from cleargate.tuning.study import tune as run_search

    try:
        apply_offline_env()
        quiet_third_party()
        project = load_project(params_path)
        check_store(project.scope(project.dataset_of(model)))
        result = run_search(project, model, trials)
    except CleargateError as exc:
        _fail(exc)
    for line in result.lines():
        typer.echo(line)


@app.command()
def ui(port: int = 5000, params_path: ParamsOpt = Path("params.yaml")) -> None:
    """Serve the MLflow UI on the project's tracking store (loopback only)."""
    from cleargate.tracking import tracking_uri

    params = load_project(params_path)
    uri = tracking_uri(params)  # type: ignore[arg-type]  # only .tracking is read
    sys.exit(subprocess.call([sys.executable, "-m", "mlflow", "ui", "--backend-store-uri", uri,
                              "--default-artifact-root", params.tracking.artifact_root.as_uri(),
                              "--host", "127.0.0.1", "--port", str(port)]))
