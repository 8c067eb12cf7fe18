"""MLflow Model Registry: versions, the `challenger`/`champion` aliases, and their recorded history.

MLflow keeps no alias history, so every champion move is appended to a registered-model tag; rollback
reads it back. The alias is set before the history is written: a crash in between leaves `champion`
on a valid version (old or new), never missing.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from mlflow.entities.model_registry import ModelVersion
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from cleargate.errors import CleargateError

CHAMPION = "champion"
CHALLENGER = "challenger"
HISTORY_TAG = "cleargate.champion_history"
HISTORY_KEEP = 40


def ensure_registered_model(client: MlflowClient, name: str) -> None:
    try:
        client.get_registered_model(name)
    except MlflowException:
        client.create_registered_model(name, description="Registered by cleargate; champion moves only "
                                                         "on passed gates (see version tags).")


def register_version(client: MlflowClient, name: str, model_uri: str, run_id: str,
                     tags: dict[str, str]) -> ModelVersion:
    """A new version from a logged model, tagged, and aliased `challenger`."""
    ensure_registered_model(client, name)
    model_id = model_uri.removeprefix("models:/") if model_uri.startswith("models:/m-") else None
    version = client.create_model_version(name, model_uri, run_id=run_id, tags=tags, model_id=model_id)
    client.set_registered_model_alias(name, CHALLENGER, version.version)
    return version


def alias_version(client: MlflowClient, name: str, alias: str) -> str | None:
    try:
        return str(client.get_model_version_by_alias(name, alias).version)
    except MlflowException:
        return None


def history(client: MlflowClient, name: str) -> list[dict[str, Any]]:
    try:
        tags = client.get_registered_model(name).tags
    except MlflowException:
        return []
    return json.loads(tags.get(HISTORY_TAG, "[]"))


def _record(client: MlflowClient, name: str, entry: dict[str, Any]) -> None:
    events = [*history(client, name), entry][-HISTORY_KEEP:]
    client.set_registered_model_tag(name, HISTORY_TAG, json.dumps(events, separators=(",", ":")))


def set_champion(client: MlflowClient, name: str, version: str, action: str, reason: str = "") -> str | None:
    """Move `champion` to `version`; returns the previous champion. The caller has checked the gates."""
    previous = alias_version(client, name, CHAMPION)
    if action != "rollback":  # the version it replaced, for rollback if the history write below is lost
        client.set_model_version_tag(name, version, "previous_champion", previous or "none")
    client.set_registered_model_alias(name, CHAMPION, version)  # the one atomic switch
    _record(client, name, {"version": version, "previous": previous, "action": action, "reason": reason[:200],
                           "at": datetime.now(UTC).isoformat(timespec="seconds")})
    return previous


def rollback(client: MlflowClient, name: str, reason: str = "") -> str:
    """Champion back to the version it replaced most recently; recorded like any other move."""
    current = alias_version(client, name, CHAMPION)
    if current is None:
        raise CleargateError(f"{name}: has no champion to roll back")
    moves = [e for e in history(client, name) if e["version"] == current and e["action"] != "rollback"]
    if moves:
        target = moves[-1].get("previous")
    else:  # a promotion interrupted before its history entry: the version tag still knows
        tagged = client.get_model_version(name, current).tags.get("previous_champion", "none")
        target = None if tagged == "none" else tagged
    if target is not None:
        set_champion(client, name, str(target), "rollback", reason or f"rollback from {current}")
        return str(target)
    raise CleargateError(f"{name}: champion v{current} has no earlier champion recorded; nothing to roll back to")
