"""`notify`: a Notice as a Prefect event, through Prefect's REST API (`POST /api/events`), from any process.

The library may not import Prefect (the flows use its client, `flows/notices.py`), and a verb or a model server
must not pay Prefect's import for one event; the REST call is the public interface Prefect's own client uses.
Nothing is sent without PREFECT_API_URL (a plain `make run` has no server that runs automations), and a
notification never fails what it reports: a server that does not answer is one log line.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import urllib.error
import urllib.request
import uuid
from datetime import UTC, datetime
from typing import Any

from cleargate.notifications.notice import Notice

log = logging.getLogger(__name__)


def prefect_api() -> str | None:
    """The configured Prefect API (PREFECT_API_URL), or None."""
    return os.environ.get("PREFECT_API_URL", "").rstrip("/") or None


def _headers() -> dict[str, str]:
    headers = {"Content-Type": "application/json"}
    auth = os.environ.get("PREFECT_API_AUTH_STRING")
    if auth:  # the stack's server with authentication on (`.stack/env`)
        headers["Authorization"] = "Basic " + base64.b64encode(auth.encode()).decode()
    return headers


def event_body(notice: Notice, related: list[dict[str, str]] | None = None) -> dict[str, Any]:
    """Prefect's event schema: id, time, name, resource, related resources, payload."""
    return {"id": str(uuid.uuid4()), "occurred": datetime.now(UTC).isoformat(), "event": notice.event,
            "resource": notice.resource(), "related": related or [], "payload": notice.payload()}


def post(path: str, body: Any, timeout: float = 5.0) -> bool:
    """POST JSON to the configured Prefect API; False (and one log line) when there is none or it fails."""
    api = prefect_api()
    if api is None:
        return False
    request = urllib.request.Request(f"{api}{path}", data=json.dumps(body).encode(), headers=_headers(),
                                     method="POST")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:
            return 200 <= answer.status < 300
    except (urllib.error.URLError, OSError, ValueError) as exc:
        log.warning("notification not sent: Prefect API %s did not take %s (%s)", api, path, exc)
        return False


def notify(notice: Notice) -> bool:
    """Emit `notice` as the event `cleargate.<kind>` when a Prefect API is configured; True if it was taken."""
    return post("/events", [event_body(notice)])


def publish_markdown(key: str, markdown: str, description: str) -> bool:
    """A markdown artifact (Prefect UI, Artifacts), not tied to a flow run; False without a Prefect API."""
    return post("/artifacts/", {"key": key, "type": "markdown", "data": markdown, "description": description})
