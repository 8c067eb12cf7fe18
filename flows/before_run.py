"""What a pipeline run settles before its stages, per dataset: a registration the current registry does not hold
(the project was pointed at another tracking store since its promote ran: DVC, which tracks files, would find
promote up to date) is made again, and versions left awaiting approval past `approval_timeout_h` are rejected."""

from __future__ import annotations

from rich.console import Console

from cleargate.params import ProjectParams
from cleargate.records import ReleaseDecision
from cleargate.release import approval
from cleargate.release.promotion import held_by_registry
from cleargate.tracking import connect, server_errors
from cleargate.tracking.store import shown_uri, tracking_uri


def settle(project: ProjectParams, datasets: list[str], rerun: set[str], console: Console) -> None:
    for name in datasets:
        params = project.scope(name)
        path = params.layout.promotion
        needs_client = path.is_file() or params.release.approval == "required"
        if not needs_client:
            continue
        with server_errors(params, f"the registry check of {name}"):
            client = connect(params)
            if path.is_file() and f"promote@{name}" not in rerun and "promote" not in rerun:
                decision = ReleaseDecision.load(path)
                if not held_by_registry(client, decision):
                    rerun.add(f"promote@{name}")
                    console.print(f"  promote@{name}: v{decision.version} was registered in "
                                  f"{decision.registry or 'another store'}; {shown_uri(tracking_uri(params))} does "
                                  "not hold it: registering again", style="yellow")
            if params.release.approval == "required":
                model, hours = params.registry.model_name, params.release.approval_timeout_h
                for version in approval.expire(client, model, hours):
                    console.print(f"  {model} v{version}: no decision within {hours:g} h: rejected", style="yellow")
