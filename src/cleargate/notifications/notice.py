"""One notification as data: what happened, to which dataset, model and version, in one line, with its links.

The same record is the Prefect event the automations match (`event`, `resource`) and the body a webhook receives
(`payload`: every field, and `text`, the line a Slack-compatible receiver shows).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from cleargate.config.notifications import Event

EVENT_PREFIX = "cleargate."
Source = Literal["run", "cli", "registry", "server"]   # a pipeline or monitoring run, a verb, MLflow's webhook, ...


class Notice(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Event
    dataset: str
    model: str                                  # the registered model
    version: str | None = None
    message: str                                # one line: what happened and why
    source: Source = "run"
    links: dict[str, str] = {}                  # run (Prefect), model (MLflow), report, ...
    details: dict[str, str] = {}                # anything else a receiver may filter on (action, previous, ...)
    at: str = Field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))

    @property
    def event(self) -> str:
        return f"{EVENT_PREFIX}{self.kind}"

    def resource(self) -> dict[str, str]:
        """The event's resource: the registered model, labelled so an automation can match on any of it."""
        return {"prefect.resource.id": f"cleargate.model.{self.model}", "prefect.resource.name": self.model,
                "cleargate.dataset": self.dataset, "cleargate.version": self.version or "",
                "cleargate.source": self.source}

    @property
    def text(self) -> str:
        link = self.links.get("run") or next(iter(self.links.values()), "")
        return f"cleargate {self.kind.replace('_', ' ')}: {self.message}" + (f" {link}" if link else "")

    def payload(self) -> dict[str, object]:
        return {"event": self.kind, "dataset": self.dataset, "model": self.model, "version": self.version,
                "message": self.message, "source": self.source, "at": self.at, "links": dict(self.links),
                **self.details, "text": self.text}

    def with_links(self, **links: str) -> Notice:
        return self.model_copy(update={"links": {**self.links, **{k: v for k, v in links.items() if v}}})


def mlflow_version_link(tracking_uri: str, name: str, version: str | None) -> str:
    """The version's page in MLflow's UI, for a tracking server (a local store has no address to give)."""
    if not tracking_uri.startswith(("http://", "https://")) or version is None:
        return ""
    return f"{tracking_uri.rstrip('/')}/#/models/{name}/versions/{version}"
