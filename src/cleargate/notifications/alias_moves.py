"""The alias move an MLflow registry webhook call reports, as the stack's relay reads it (the call's signature is
checked first: `cleargate.serving.registry_webhook.refusal`)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any


@dataclass(frozen=True)
class AliasSet:
    name: str
    alias: str
    version: str
    at: datetime | None = None   # when MLflow sent it (the payload's timestamp), shortly after the alias was set


def alias_set(body: bytes) -> AliasSet | None:
    """The alias a `model_version_alias.created` call set; None for any other call."""
    try:
        payload: dict[str, Any] = json.loads(body)
    except ValueError:
        return None
    data = payload.get("data") or {}
    if payload.get("entity") != "model_version_alias" or payload.get("action") != "created":
        return None
    if not all(isinstance(data.get(k), str | int) for k in ("name", "alias", "version")):
        return None
    try:
        at = datetime.fromisoformat(str(payload.get("timestamp")))
    except ValueError:
        at = None
    if at is not None and at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return AliasSet(str(data["name"]), str(data["alias"]), str(data["version"]), at)
