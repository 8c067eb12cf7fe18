"""What a release tells people: a blocked candidate, a champion moved by the pipeline, a version awaiting a
person's approval (`ReleaseDecision.outcome`); an unchanged champion tells nobody anything."""

from __future__ import annotations

from cleargate.notifications import Notice, mlflow_version_link
from cleargate.params import DatasetParams
from cleargate.records import ReleaseDecision
from cleargate.tracking.store import tracking_uri

KINDS = {"blocked": "blocked", "promoted": "champion_moved", "pending": "awaiting_approval"}


def release_notices(params: DatasetParams, decision: ReleaseDecision) -> list[Notice]:
    kind = KINDS.get(decision.outcome)
    if kind is None:
        return []
    details = {"selected": decision.selected, "previous_champion": decision.previous_champion or "none",
               "champion": decision.champion or "none"}
    if decision.blocked:
        details["failed_gates"] = ", ".join(c.name for c in decision.gate.failed)
    if decision.moved:
        details["action"] = "gate"
    link = mlflow_version_link(tracking_uri(params), decision.model_name, decision.version)
    return [Notice(kind=kind, dataset=params.dataset.name, model=decision.model_name, version=decision.version,
                   message=decision.message(), details=details, links={"model": link} if link else {})]
