"""The verbs about the project around the models: `gc` (history past its retention), `ui` (MLflow's or Prefect's),
`stack up|down|status|deploy` (the team's server stack), `push` / `pull` (the DVC cache through the remote of
params.yaml)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Annotated

import typer

from cleargate.cli.app import JsonOption, ParamsOption, app, hand_over, handled, params_path, verbose

DVC = str(Path(sys.executable).parent / "dvc")   # the environment's own DVC
stack = typer.Typer(help="The team stack on this host (PostgreSQL, MLflow, Prefect and a worker, under .stack/); "
                         "settings from STACK_* variables (docs: operations).", no_args_is_help=True)
app.add_typer(stack, name="stack")


@app.command()
def gc(dry_run: Annotated[bool, typer.Option("--dry-run", help="say what would go and how many bytes; delete "
                                             "nothing")] = False,
       as_json: JsonOption = False, params: ParamsOption = None) -> None:
    """Delete the history past params.yaml `retention`: monitoring, scoring, tuning and stability runs that ended
    longer ago than their keep period (purged with `mlflow gc`, artifacts too), and the DVC cache objects that
    neither the workspace nor any registered version's lineage names. A run or object a registered version rests
    on is always kept, so `cleargate reproduce` of any version still works.

    Example: cleargate gc --dry-run"""
    from cleargate.params import load_project
    from cleargate.retention import collect
    from cleargate.tracking import check_store, connect, store_errors

    with handled():
        path = params_path(params)
        project = load_project(path)
        dataset = project.scope(next(iter(project.datasets)))
        uri = check_store(dataset)
        with store_errors(dataset):
            report = collect(project, connect(dataset), uri, dry_run)
    if as_json:
        typer.echo(json.dumps(report.as_json(), indent=2))
        return
    for line in report.lines():
        typer.echo(line)


@app.command()
def ui(port: Annotated[int, typer.Option(help="the port on 127.0.0.1")] = 5000,
       prefect: Annotated[bool, typer.Option("--prefect", help="Prefect's UI instead: every run of this project "
                                             "(flow runs, tasks, logs, artifacts), on port 4200 unless --port")]
       = False,
       params: ParamsOption = None) -> None:
    """Open MLflow's UI on the project's tracking store (experiments, runs side by side, the registry), or with
    --prefect Prefect's UI on the project's runs. Loopback only; Ctrl-C stops it.

    Example: cleargate ui    (then open http://127.0.0.1:5000)"""
    with handled():
        path = params_path(params)
        from cleargate.params import load_project
        from cleargate.tracking import tracking_uri

        project = load_project(path)
    if prefect:
        hand_over("flows", ["ui", "--params", str(path), "--port", str(port if port != 5000 else 4200)],
                  cwd=path.parent)
    uri = tracking_uri(project)  # type: ignore[arg-type]  # only .tracking is read
    # One web worker (one person looks) and no job runner: MLflow's server otherwise starts 4 workers, a job runner
    # and 7 huey consumers (for its GenAI jobs, which cleargate never submits): 11 more processes, about 30 s of
    # CPU, for every UI opened. The team stack's server runs the same way.
    env = {**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
    raise typer.Exit(subprocess.call([sys.executable, "-m", "mlflow", "ui", "--backend-store-uri", uri,
                                      "--default-artifact-root", project.tracking.artifact_root.as_uri(),
                                      "--host", "127.0.0.1", "--port", str(port), "--workers", "1"], env=env))


def _stack(command: str, params: Path | None) -> None:
    with handled():
        path = params_path(params)
    hand_over("infra.stack", [command, "--root", str(path.parent), *(["-v"] if verbose() else [])], cwd=path.parent)


@stack.command("up")
def stack_up(params: ParamsOption = None) -> None:
    """Start PostgreSQL, the MLflow and Prefect servers and a worker, register the two scheduled deployments,
    and write .stack/env (what clients source).

    Example: cleargate stack up && source .stack/env"""
    _stack("up", params)


@stack.command("down")
def stack_down(params: ParamsOption = None) -> None:
    """Stop every process of the stack (its data stays in .stack/); a run in progress is marked CRASHED.

    Example: cleargate stack down"""
    _stack("down", params)


@stack.command("status")
def stack_status(params: ParamsOption = None) -> None:
    """What of the stack runs, where, whether it answers, and the deployments' schedules.

    Example: cleargate stack status"""
    _stack("status", params)


@stack.command("deploy")
def stack_deploy(params: ParamsOption = None) -> None:
    """Register both deployments and the notifications' automations again after a change to params.yaml, assigned
    to `schedules.work_pool`: on the Prefect API that PREFECT_API_URL names (a team's server, from CI), or without
    it on this host's stack (`cleargate stack up`'s, with its credentials).

    Example: cleargate stack deploy"""
    _stack("deploy", params)


@app.command()
def push(params: ParamsOption = None) -> None:
    """Push the DVC cache (data, models, reports) to the remote of params.yaml `storage.dvc_remote`.

    Example: cleargate push"""
    _dvc_remote("push", params)


@app.command()
def pull(params: ParamsOption = None) -> None:
    """Pull every output dvc.lock records from the remote of params.yaml: a fresh clone is then up to date and
    nothing re-runs.

    Example: cleargate pull    (in a fresh clone; then `cleargate reproduce breast-cancer-classifier@champion`)"""
    _dvc_remote("pull", params)


def _dvc_remote(action: str, params: Path | None) -> None:
    """Point the project's DVC at params.yaml's remote (in .dvc/config.local, which git ignores: params.yaml stays
    the one place that names it; options set with `dvc remote modify --local` stay), then push or pull."""
    from cleargate.errors import ConfigError, ServiceError
    from cleargate.params import load_project

    with handled():
        path = params_path(params)
        project = load_project(path)
        if project.storage is None:
            raise ConfigError(f"{path}: no storage.dvc_remote; add one (name, url), e.g. "
                              "`storage: {dvc_remote: {name: shared, url: ../cleargate-dvc-remote}}`")
        if not (project.root / ".dvc").is_dir():
            raise ConfigError(f"{project.root}: not a DVC project (no .dvc/); run `dvc init` there, or work in a "
                              "clone of the project")
        remote = project.storage.dvc_remote
        url = remote.url if "://" in remote.url else str((project.root / remote.url).resolve())
        root = project.root

        def dvc(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
            done = subprocess.run([DVC, *args], cwd=root, capture_output=True, text=True)
            if check and done.returncode != 0:
                raise ServiceError(f"`dvc {' '.join(args)}` failed in {root}: {done.stderr.strip()[-300:]}")
            return done

        listed = dvc("remote", "list", "--local").stdout.split()
        if remote.name in listed:
            dvc("remote", "modify", "--local", remote.name, "url", url)
        else:
            dvc("remote", "add", "--local", remote.name, url)
        dvc("remote", "default", "--local", remote.name)
        typer.echo(f"DVC remote '{remote.name}': {url}")
    code = subprocess.run([DVC, action, "--remote", remote.name], cwd=root).returncode
    raise typer.Exit(code)
