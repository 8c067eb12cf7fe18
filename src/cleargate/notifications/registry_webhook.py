"""MLflow's registry webhooks, as the stack's relay receives them: the signature checked, an alias event read.

MLflow signs each call (Standard Webhooks): `X-MLflow-Signature: v1,<base64 HMAC-SHA256>` over
`<delivery id>.<timestamp>.<body>` with the webhook's secret, and sends `X-MLflow-Delivery-Id` and
`X-MLflow-Timestamp`. A call is taken only when the signature matches and its timestamp is recent (a replayed
call is refused).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from dataclasses import dataclass
from typing import Any

SIGNATURE, TIMESTAMP, DELIVERY = "X-MLflow-Signature", "X-MLflow-Timestamp", "X-MLflow-Delivery-Id"
MAX_AGE_S = 300


def signature(secret: str, delivery_id: str, timestamp: str, body: bytes) -> str:
    digest = hmac.new(secret.encode(), f"{delivery_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def verified(secret: str, headers: dict[str, str], body: bytes, now: float | None = None) -> bool:
    """The call carries a valid signature made with `secret`, and is at most MAX_AGE_S old."""
    found = {k.lower(): v for k, v in headers.items()}
    given, stamp, delivery = (found.get(h.lower(), "") for h in (SIGNATURE, TIMESTAMP, DELIVERY))
    if not (given and stamp.isdigit() and delivery and secret):
        return False
    if abs((now if now is not None else time.time()) - int(stamp)) > MAX_AGE_S:
        return False
    expected = signature(secret, delivery, stamp, body)
    return any(hmac.compare_digest(expected, part if part.startswith("v1,") else f"v1,{part}")
               for part in given.split(" "))


@dataclass(frozen=True)
class AliasSet:
    name: str
    alias: str
    version: str


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
    return AliasSet(str(data["name"]), str(data["alias"]), str(data["version"]))
