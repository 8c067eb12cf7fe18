"""MLflow's model-registry webhooks, as an MLflow tracking server (3.17+, SQL store) sends them to the online server
and to the stack's relay (`refusal`).

A delivery is a JSON body `{"entity", "action", "timestamp", "data"}` with the headers `X-MLflow-Delivery-Id`,
`X-MLflow-Timestamp` and, when the webhook has a secret, `X-MLflow-Signature: v1,<base64 HMAC-SHA256>` of
`<delivery id>.<timestamp>.<body>` (`mlflow.webhooks.delivery`). With a secret configured
(`SECRET_ENV`) an unsigned, wrongly signed or stale delivery (more than `TOLERANCE_S` from now, a
replay) is refused with 401. The payload is never trusted for a version: an alias event for the served model only
makes the server re-resolve its aliases from the registry at once, instead of at the next poll.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Mapping
from typing import Any

from cleargate.serving.online_requests import RequestRefused, decode_json

SIGNATURE, TIMESTAMP, DELIVERY = "X-MLflow-Signature", "X-MLflow-Timestamp", "X-MLflow-Delivery-Id"
SECRET_ENV = "CLEARGATE_WEBHOOK_SECRET"   # the webhook's secret, for every receiver (.stack/env exports it)
TOLERANCE_S = 300
ALIAS_ENTITY = "model_version_alias"


def signature(secret: str, delivery_id: str, timestamp: str, body: bytes) -> str:
    """What MLflow puts in `X-MLflow-Signature` for this delivery."""
    signed = delivery_id.encode() + b"." + timestamp.encode() + b"." + body
    return "v1," + base64.b64encode(hmac.new(secret.encode(), signed, hashlib.sha256).digest()).decode()


def refusal(secret: str, headers: Mapping[str, str], body: bytes, now: float | None = None) -> str | None:
    """Why a delivery is not taken (not signed with `secret`, or its timestamp stale); None when it is."""
    found = {k.lower(): v for k, v in headers.items()}
    given, stamp, delivery = (found.get(h.lower()) for h in (SIGNATURE, TIMESTAMP, DELIVERY))
    if not given or not stamp or not delivery:
        return (f"webhook: {SIGNATURE}, {TIMESTAMP} and {DELIVERY} are required (the webhook must be created with "
                f"the receiver's secret, {SECRET_ENV})")
    try:
        age = abs((time.time() if now is None else now) - int(stamp))
    except ValueError:
        return f"webhook: {TIMESTAMP} is not a Unix time"
    if age > TOLERANCE_S:
        return (f"webhook: delivery timestamp {age:.0f} s from now (more than {TOLERANCE_S} s: a replay, or a clock "
                "off); refused")
    expected = signature(secret, delivery, stamp, body)
    if not secret or not any(hmac.compare_digest(expected, part if part.startswith("v1,") else f"v1,{part}")
                             for part in given.split()):
        return f"webhook: signature does not match the secret ({SECRET_ENV} must be the webhook's secret)"
    return None


def verify(secret: str, headers: Mapping[str, str], body: bytes, now: float | None = None) -> None:
    """Refuse (401) a delivery that is not signed with `secret`, or whose timestamp is stale."""
    reason = refusal(secret, headers, body, now)
    if reason is not None:
        raise RequestRefused(401, "signature", reason)


def alias_event(body: bytes, name: str, aliases: list[str]) -> str | None:
    """'<action> <alias>' when the delivery is an alias event of `name` for a followed alias, else None."""
    payload = decode_json(body)
    if not isinstance(payload, dict) or not isinstance(payload.get("data"), dict):
        raise RequestRefused(400, "shape", 'webhook: expected MLflow\'s delivery {"entity", "action", "data"}')
    data: dict[str, Any] = payload["data"]
    if payload.get("entity") != ALIAS_ENTITY or data.get("name") != name or data.get("alias") not in aliases:
        return None
    return f"{payload.get('action')} {data['alias']}"
