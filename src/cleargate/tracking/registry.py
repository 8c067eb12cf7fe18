"""MLflow Model Registry: versions, the `challenger`/`champion` aliases, and their recorded history.

MLflow keeps no alias history, so every champion move is recorded as its own registered-model tag
(`cleargate.champion_move.<seq>`, a few hundred characters), never one growing value: PostgreSQL stores a
registered-model tag in varchar(5000). A person's refusal of a version (`cleargate reject`, an approval left
undecided too long) is an entry of the same history that moves nothing (`action: rejected`). Entries are written
under the promotion lock, so the sequence numbers are dense and ordered. The alias is set before the history is
written: a crash in between leaves `champion` on a valid version (old or new), never missing.
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
MOVE_TAG = "cleargate.champion_move."     # + zero-padded sequence number: one tag per move
LEGACY_HISTORY_TAG = "cleargate.champion_history"   # before one tag per move: a JSON list, read only
UNMOVED = {"rejected"}   # history entries that record a decision and leave `champion` where it was


def ensure_registered_model(client: MlflowClient, name: str) -> None:
    try:
        client.get_registered_model(name)
    except MlflowException:
        client.create_registered_model(name, description="Registered by cleargate; champion moves only "
                                                         "on passed gates (see version tags).")


def register_version(client: MlflowClient, name: str, model_uri: str, run_id: str,
                     tags: dict[str, str]) -> ModelVersion:
    """A new version from a logged model, tagged, and aliased `challenger` (the registered model exists:
    `ensure_registered_model`). A tracking server accepts a `models:/<id>` source only with the logged
    model's id (a local store does not check). Registration is synchronous in both: no polling for READY."""
    model_id = model_uri.removeprefix("models:/") if model_uri.startswith("models:/m-") else None
    version = client.create_model_version(name, model_uri, run_id=run_id, tags=tags, model_id=model_id,
                                          await_creation_for=0)
    client.set_registered_model_alias(name, CHALLENGER, version.version)
    return version


def alias_version(client: MlflowClient, name: str, alias: str) -> str | None:
    try:
        return str(client.get_model_version_by_alias(name, alias).version)
    except MlflowException:
        return None


def _moves(tags: dict[str, str]) -> list[tuple[int, dict[str, Any]]]:
    return sorted((int(k.removeprefix(MOVE_TAG)), json.loads(v)) for k, v in tags.items()
                  if k.startswith(MOVE_TAG) and k.removeprefix(MOVE_TAG).isdigit())


def history(client: MlflowClient, name: str) -> list[dict[str, Any]]:
    """Every champion move, oldest first (moves recorded by older releases in one JSON tag come first)."""
    try:
        tags = client.get_registered_model(name).tags
    except MlflowException:
        return []
    return [*json.loads(tags.get(LEGACY_HISTORY_TAG, "[]")), *(entry for _, entry in _moves(tags))]


def record(client: MlflowClient, name: str, entry: dict[str, Any]) -> None:
    """One tag per entry, numbered after the last one (callers hold the promotion lock)."""
    moves = _moves(client.get_registered_model(name).tags)
    seq = moves[-1][0] + 1 if moves else 1
    client.set_registered_model_tag(name, f"{MOVE_TAG}{seq:06d}", json.dumps(entry, separators=(",", ":")))


def set_champion(client: MlflowClient, name: str, version: str, action: str, reason: str = "",
                 by: str = "") -> str | None:
    """Move `champion` to `version`; returns the previous champion. The caller has checked the gates; `by` names
    the person for a move made by hand."""
    previous = alias_version(client, name, CHAMPION)
    if action != "rollback":  # the version it replaced, for rollback if the history write below is lost
        client.set_model_version_tag(name, version, "previous_champion", previous or "none")
    client.set_registered_model_alias(name, CHAMPION, version)  # the one atomic switch
    entry = {"version": version, "previous": previous, "action": action, "reason": reason[:200],
             "at": datetime.now(UTC).isoformat(timespec="seconds")}
    record(client, name, {**entry, "by": by} if by else entry)
    return previous


def record_refusal(client: MlflowClient, name: str, version: str, reason: str, by: str) -> None:
    """A version refused by a person (or by the approval timeout): in the history, `champion` unchanged."""
    record(client, name, {"version": version, "previous": alias_version(client, name, CHAMPION), "action": "rejected",
                          "reason": reason[:200], "by": by, "at": datetime.now(UTC).isoformat(timespec="seconds")})


def rollback(client: MlflowClient, name: str, reason: str = "") -> str:
    """Champion back to the version it replaced most recently; recorded like any other move."""
    current = alias_version(client, name, CHAMPION)
    if current is None:
        raise CleargateError(f"{name}: has no champion to roll back")
    moves = [e for e in history(client, name) if e["version"] == current
             and e["action"] != "rollback" and e["action"] not in UNMOVED]
    if moves:
        target = moves[-1].get("previous")
    else:  # a promotion interrupted before its history entry: the version tag still knows
        tagged = client.get_model_version(name, current).tags.get("previous_champion", "none")
        target = None if tagged == "none" else tagged
    if target is not None:
        set_champion(client, name, str(target), "rollback", reason or f"rollback from {current}")
        return str(target)
    raise CleargateError(f"{name}: champion v{current} has no earlier champion recorded; nothing to roll back to")
