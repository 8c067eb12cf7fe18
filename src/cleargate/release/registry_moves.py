"""A `champion` alias set in the registry, told as a notification, whoever set it: a pipeline run, a verb
(`approve`, `promote`, `rollback`) or a person in the MLflow UI. The team stack's relay calls this for each
`model_version_alias.created` call of MLflow's registry webhook (`infra/stack/relay.py`).

The history entry cleargate writes right after it sets the alias says who moved it and why; a move with no entry
within a few seconds was made outside cleargate (the MLflow UI or API).
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from cleargate.notifications import Notice, mlflow_version_link
from cleargate.tracking import registry

HISTORY_WAIT_S = 5.0
MOVE_SKEW_S = 2   # an alias set, its history entry and the webhook's timestamp: within seconds of each other


def _entry(client: MlflowClient, name: str, version: str, since: datetime, wait_s: float) -> dict | None:
    """The newest history entry that records `version` taking `champion` after `since` (not necessarily the last
    entry: in a burst of moves, later ones may be recorded before this one is told)."""
    deadline = time.monotonic() + wait_s
    while True:
        moves = [e for e in registry.history(client, name) if e.get("action") not in registry.UNMOVED]
        found = next((e for e in reversed(moves) if str(e.get("version")) == version
                      and datetime.fromisoformat(e.get("at", "1970-01-01T00:00:00+00:00")) >= since), None)
        if found is not None:
            return found
        if time.monotonic() > deadline:
            return None
        time.sleep(0.25)


def move_notice(client: MlflowClient, name: str, version: str, dataset: str, tracking_uri: str, prefect_ui: str,
                wait_s: float = HISTORY_WAIT_S, moved_at: datetime | None = None) -> Notice:
    """The notice of `champion` set on `name` v`version` at `moved_at` (the webhook's timestamp; default: just now).
    Its history entry is written right after the alias, so only an entry from then on counts: an earlier move to
    the same version (approved, then rolled back, then set by hand) is not taken for this one."""
    since = (moved_at or datetime.now(UTC)).replace(microsecond=0) - timedelta(seconds=MOVE_SKEW_S)
    entry = _entry(client, name, version, since, wait_s)
    links = {"model": mlflow_version_link(tracking_uri, name, version)}
    if entry is None:
        details = {"action": "outside cleargate"}
        message = f"{name}: champion set to v{version} outside cleargate (the MLflow UI or API)"
    else:
        by = f" by {entry['by']}" if entry.get("by") else ""
        details = {"action": entry["action"], "previous_champion": str(entry.get("previous") or "none"),
                   **({"by": entry["by"]} if entry.get("by") else {})}
        message = (f"{name}: champion v{entry.get('previous') or '-'} -> v{version} ({entry['action']}{by}: "
                   f"{entry.get('reason', '')})")
        try:
            run = client.get_model_version(name, version).tags.get("prefect.flow_run_id", "none")
        except MlflowException:
            run = "none"
        if entry["action"] == "gate" and run != "none" and prefect_ui:
            links = {"run": f"{prefect_ui.rstrip('/')}/runs/flow-run/{run}", **links}
    return Notice(kind="champion_moved", dataset=dataset, model=name, version=version, message=message,
                  source="registry", details=details, links={k: v for k, v in links.items() if v})
