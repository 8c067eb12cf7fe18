"""The verbs about registered models, each in this process: `status`, `promote`, `rollback`, `score`, `reproduce`.

A model is always named the same way: `NAME@ALIAS` or `NAME/VERSION` (`cleargate.tracking.model_ref`).
"""

from __future__ import annotations

import getpass
import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from cleargate.cli.app import JsonOption, ParamsOption, app, handled, params_path
from cleargate.errors import JUDGED, REFUSED

ModelArgument = Annotated[str, typer.Argument(metavar="NAME@ALIAS|NAME/VERSION",
                                              help="a registered version, e.g. mnist-classifier@champion or "
                                              "mnist-classifier/3")]


def _client(path: Path, model: str | None = None):  # -> (DatasetParams, MlflowClient), imported lazily
    """The dataset view that registers `model` (the first dataset's, if None) and a client on the project's store,
    checked first: a stopped server is one line in seconds, not minutes of retries."""
    from cleargate.params import load_project
    from cleargate.tracking import check_store, connect

    project = load_project(path)
    params = project.scope_registered(model) if model else project.scope(next(iter(project.datasets)))
    check_store(params)
    return params, connect(params)


def _elsewhere(dataset: Any, client: Any) -> str:
    """One line when the dataset's last registration (promotion.json) is not in this store: the project was
    pointed at another registry since (the embedded store, then a team's server)."""
    from cleargate.records import ReleaseDecision
    from cleargate.release.promotion import held_by_registry
    from cleargate.tracking.store import shown_uri, tracking_uri

    path = dataset.layout.promotion
    if not path.is_file():
        return ""
    decision = ReleaseDecision.load(path)
    if held_by_registry(client, decision):
        return ""
    return (f"v{decision.version} of {path.name} was registered in {decision.registry or 'another store'}, which is "
            f"not this one ({shown_uri(tracking_uri(dataset))}): `cleargate run --dataset {dataset.dataset.name}` "
            "registers it here")


def _tell(dataset: Any, name: str, version: str, message: str, **details: str) -> None:
    """A move made by hand, as a notification (when a Prefect API is configured)."""
    from cleargate.notifications import Notice, mlflow_version_link, notify
    from cleargate.tracking.store import tracking_uri

    link = mlflow_version_link(tracking_uri(dataset), name, version)
    notify(Notice(kind="champion_moved", dataset=dataset.dataset.name, model=name, version=version, message=message,
                  source="cli", details=details, links={"model": link} if link else {}))


def _name(reference: str) -> str:
    from cleargate.tracking.model_ref import parse_ref

    return parse_ref(reference if "@" in reference or "/" in reference else f"{reference}@champion")[0]


@app.command()
def status(model: Annotated[str | None, typer.Argument(metavar="[NAME]", help="a registered model (default: every "
                                                       "model of params.yaml)", show_default=False)] = None,
           as_json: JsonOption = False, params: ParamsOption = None) -> None:
    """Each registered model's champion and challenger, the history of champion moves, and the challenger's gates.

    Example: cleargate status breast-cancer-classifier --json"""
    from cleargate.release import approval
    from cleargate.tracking import registry

    with handled():
        path = params_path(params)
        if model is None:
            from cleargate.params import load_project

            names = load_project(path).registered_models()
        else:
            names = [_name(model)]
        report = []
        for name in names:
            dataset, client = _client(path, name)
            aliases = {a: registry.alias_version(client, name, a) for a in (registry.CHAMPION, registry.CHALLENGER)}
            gates = {}
            if aliases["challenger"]:
                tags = client.get_model_version(name, aliases["challenger"]).tags
                gates = {k: v for k, v in sorted(tags.items()) if k.startswith("gate.") and k.count(".") == 1}
            report.append({"model": name, **aliases, "history": registry.history(client, name),
                           "challenger_gates": gates, "awaiting_approval": approval.pending(client, name),
                           "not_registered_here": _elsewhere(dataset, client)})
    if as_json:
        typer.echo(json.dumps(report if model is None else report[0], indent=2))
        return
    for entry in report:
        typer.echo(f"{entry['model']}: champion=v{entry['champion'] or '-'} challenger=v{entry['challenger'] or '-'}")
        for event in entry["history"]:
            moved = f"v{event['version']} refused, champion v{event['previous'] or '-'} kept" \
                if event["action"] in registry.UNMOVED else f"v{event['previous'] or '-'} -> v{event['version']}"
            by = f" (by {event['by']})" if event.get("by") else ""
            typer.echo(f"  {event['at']}  {event['action']:<8} {moved}  {event['reason']}{by}")
        for version in entry["awaiting_approval"]:
            typer.echo(f"  v{version} awaits approval: cleargate approve {entry['model']}/{version} --reason ... "
                       f"(or reject)")
        if entry["not_registered_here"]:
            typer.echo(f"  {entry['not_registered_here']}")
        if entry["challenger_gates"]:
            typer.echo(f"  challenger v{entry['challenger']} gates: {json.dumps(entry['challenger_gates'])}")


@app.command()
def promote(model: ModelArgument,
            force: Annotated[bool, typer.Option(help="promote even though its gates did not pass (needs --reason)")]
            = False,
            reason: Annotated[str, typer.Option(help="why; recorded in the champion history (required with "
                                                "--force)")] = "",
            params: ParamsOption = None) -> None:
    """Make a registered version the champion, by hand; refused unless its gates passed, or --force with a
    --reason (recorded in the history).

    Example: cleargate promote breast-cancer-classifier/4 --reason "approved by the review board\""""
    from cleargate.errors import CleargateError
    from cleargate.tracking import registry
    from cleargate.tracking.model_ref import resolve_version
    from cleargate.tracking.promotion_lock import promotion_lock

    with handled():
        path = params_path(params)
        dataset, client = _client(path, _name(model))
        name, version = resolve_version(client, model)
        tags = client.get_model_version(name, version).tags
        if tags.get("gate.passed") != "true":
            if not force:
                raise CleargateError(f"{name} v{version}: gates did not pass ({tags.get('gate.passed', 'no verdict')}"
                                     "); use --force --reason '...' to override, recorded in the history")
            if not reason.strip():
                raise CleargateError("--force needs --reason: the override is recorded in the champion history")
        with promotion_lock(client, name):  # never interleave with a pipeline's promotion
            action = "forced" if force else "manual"
            previous = registry.set_champion(client, name, version, action, reason or "manual promotion",
                                             getpass.getuser())
        _tell(dataset, name, version, f"{name}: champion v{previous or '-'} -> v{version} by hand ({action}): "
              f"{reason or 'manual promotion'}", action=action, previous_champion=previous or "none")
    typer.echo(f"{name}: champion v{previous or '-'} -> v{version}")


@app.command()
def rollback(model: Annotated[str, typer.Argument(metavar="NAME", help="a registered model, e.g. "
                                                  "mnist-classifier")],
             reason: Annotated[str, typer.Option(help="why; recorded in the champion history")] = "",
             params: ParamsOption = None) -> None:
    """Move the champion back to the version it replaced; recorded in the history.

    Example: cleargate rollback mnist-classifier --reason "worse on the new scanner\""""
    from cleargate.tracking import registry
    from cleargate.tracking.promotion_lock import promotion_lock

    with handled():
        path = params_path(params)
        name = _name(model)
        dataset, client = _client(path, name)
        with promotion_lock(client, name):
            current = registry.alias_version(client, name, registry.CHAMPION)
            target = registry.rollback(client, name, reason)
        _tell(dataset, name, target, f"{name}: champion rolled back v{current} -> v{target}: {reason or 'rollback'}",
              action="rollback", previous_champion=current or "none")
    typer.echo(f"{name}: champion rolled back to v{target}")


@app.command()
def score(input_path: Annotated[Path, typer.Argument(metavar="FILE", help="a .parquet or .csv of raw records")],
          model: Annotated[str | None, typer.Option(metavar="NAME@ALIAS|NAME/VERSION", help="the model (default: "
                                                    "the champion of the only dataset)", show_default=False)] = None,
          as_json: JsonOption = False, params: ParamsOption = None) -> None:
    """Validate a batch with its dataset's checks, compare it with the model's training data (drift), then score
    it; exit 4 if it is refused. Predictions, report and MLflow run are kept per input and model version.

    Example: cleargate score new_patients.parquet --model breast-cancer-classifier@champion"""
    from cleargate.params import load_project
    from cleargate.scoring import log_scoring_run, progress_for, score_file
    from cleargate.tracking import connect

    with handled():
        path = params_path(params)
        dataset = load_project(path).scope_registered(model)  # params.yaml read once
        client = connect(dataset)
        result = score_file(dataset, input_path, model or f"{dataset.registry.model_name}@champion", client,
                            progress=progress_for(sys.stderr))  # a bar on a terminal, plain lines otherwise
        log_scoring_run(dataset, result)  # a batch refused by validation has logged its run already
    typer.echo(json.dumps(_scored(result), indent=2) if as_json else result.summary())
    if result.refused:
        raise typer.Exit(REFUSED)


def _scored(result: Any) -> dict[str, Any]:
    return {"source": result.source, "model": result.model, "version": result.version, "outcome": result.outcome,
            "refused": result.refused, "reason": result.reason, "rows": result.n_rows,
            "input_sha256": result.input_sha256, "drifted": bool(result.drift and result.drift.is_drifted),
            "output": str(result.out_dir)}


@app.command()
def reproduce(model: ModelArgument,
              strict_env: Annotated[bool, typer.Option(help="refuse (exit 2) a version built in another "
                                                       "environment (requirements.lock, Python, torch, ...); "
                                                       "by default that is said in one line and it is rebuilt")]
              = False,
              as_json: JsonOption = False, params: ParamsOption = None) -> None:
    """Rebuild a registered version from its commit, its params.yaml and the data its dvc.lock entries name, and
    compare: prints `identical`, `metrics equal, weights differ` or `differs: <metric> <registered> -> <rebuilt>`
    (exit 3).

    Example: cleargate reproduce breast-cancer-classifier@champion"""
    from cleargate.reproduce import reproduce as rebuild_and_compare

    lines: list[str] = []

    def say(line: str) -> None:
        lines.append(line)
        if not as_json:
            typer.echo(line)

    with handled():
        path = params_path(params)
        dataset, client = _client(path, _name(model))
        verdict = rebuild_and_compare(dataset.root, client, model, say, strict_env)
    if as_json:
        typer.echo(json.dumps({"model": model, "verdict": verdict.line, "metrics_match": verdict.metrics_match,
                               "weights_match": verdict.weights_match, "steps": lines}, indent=2))
    else:
        typer.echo(verdict.line)
    if not verdict.metrics_match:
        raise typer.Exit(JUDGED)
