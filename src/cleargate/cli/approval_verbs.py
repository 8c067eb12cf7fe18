"""The verbs of a person's sign-off (`datasets.<d>.release.approval: required`): `approve` and `reject`.

A version that passed every gate waits as `challenger` with `approval=pending`; `approve` moves `champion` to
it with the verdict the pipeline recorded (under the promotion lock, in the champion history, in the model
card); `reject` records the refusal and moves nothing. Each is also a notification when a Prefect API is
configured (`cleargate.notifications.notify`).
"""

from __future__ import annotations

import getpass
from typing import Annotated

import typer

from cleargate.cli.app import ParamsOption, app, handled, params_path
from cleargate.cli.model_verbs import _client, _name, _tell

VersionArgument = Annotated[str, typer.Argument(metavar="NAME/VERSION", help="the version that awaits approval, "
                                                "e.g. breast-cancer-classifier/4")]
ReasonOption = Annotated[str, typer.Option("--reason", help="why; recorded in the champion history and the model "
                                           "card (required)", show_default=False)]


def _decision(model: str, reason: str) -> tuple[str, str]:
    from cleargate.errors import CleargateError

    if "/" not in model or "@" in model:
        raise CleargateError(f"{model}: name the version as NAME/VERSION (e.g. {model.split('@')[0]}/4); "
                             "`cleargate status NAME` lists the versions awaiting approval")
    if not reason.strip():
        raise CleargateError("--reason is required: the decision is recorded in the champion history")
    return model, getpass.getuser()


@app.command()
def approve(model: VersionArgument, reason: ReasonOption, params: ParamsOption = None) -> None:
    """Approve a version that awaits approval: `champion` moves to it (refused if the champion moved since it was
    judged); recorded with your name and reason.

    Example: cleargate approve breast-cancer-classifier/4 --reason "reviewed by the clinical safety board\""""
    from cleargate.release import approval
    from cleargate.tracking.model_ref import resolve_version

    with handled():
        model, who = _decision(model, reason)
        dataset, client = _client(params_path(params), _name(model))
        name, version = resolve_version(client, model)
        previous = approval.approve(client, name, version, reason, who)
        _tell(dataset, name, version, f"{name} v{version} approved by {who}: {reason}; champion v{previous or '-'} -> "
              f"v{version}", action="approved", previous_champion=previous or "none", by=who)
    typer.echo(f"{name}: v{version} approved by {who}; champion v{previous or '-'} -> v{version}")


@app.command()
def reject(model: VersionArgument, reason: ReasonOption, params: ParamsOption = None) -> None:
    """Refuse a version that awaits approval: recorded with your name and reason; `champion` does not move.

    Example: cleargate reject breast-cancer-classifier/4 --reason "recall on the new site not shown\""""
    from cleargate.release import approval
    from cleargate.tracking.model_ref import resolve_version

    with handled():
        model, who = _decision(model, reason)
        _, client = _client(params_path(params), _name(model))
        name, version = resolve_version(client, model)
        approval.reject(client, name, version, reason, who)
    typer.echo(f"{name}: v{version} rejected by {who}; champion unchanged")
