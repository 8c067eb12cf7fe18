"""Who is told what happened (`notifications:`): webhook targets, the events they hear about, and the nightly
run's window (`late`). Read when Prefect automations are registered (`make serve`, `make stack-up`,
`cleargate stack deploy`); a plain `make run` sends nothing."""

from __future__ import annotations

import os
from typing import Annotated, Literal, get_args

from pydantic import Field, model_validator

from cleargate.config.common import Strict
from cleargate.errors import ConfigError

Event = Literal["failed", "blocked", "champion_moved", "awaiting_approval", "batch_refused", "drift", "late"]
EVENTS: tuple[str, ...] = get_args(Event)


class WebhookTarget(Strict):
    """One receiver: its URL written here, or the environment variable that holds it (a Slack URL is a secret
    and params.yaml is committed), and the body it takes: `slack` ({"text": ...}) or `json` (every field)."""

    url: str | None = None
    url_env: Annotated[str, Field(pattern=r"^[A-Z_][A-Z0-9_]*$")] | None = None
    format: Literal["json", "slack"] = "json"

    @model_validator(mode="after")
    def _one_source(self) -> WebhookTarget:
        if (self.url is None) == (self.url_env is None):
            raise ValueError("give exactly one of url (the address) or url_env (the variable holding it)")
        if self.url is not None and not self.url.startswith(("http://", "https://")):
            raise ValueError(f"url '{self.url}' must start with http:// or https://")
        return self

    def resolved(self) -> str:
        """The address, read from the environment when it is kept there; one line when it is not set."""
        if self.url is not None:
            return self.url
        value = os.environ.get(self.url_env or "", "")
        if not value.startswith(("http://", "https://")):
            raise ConfigError(f"notifications.webhooks: ${self.url_env} is {'not set' if not value else 'not a URL'}"
                              f"; export it (the webhook's http(s) address) before `make serve` / `make stack-up`")
        return value

    @property
    def shown(self) -> str:
        """How the target is named in lines a person reads (never the secret URL of an env-held target)."""
        return f"${self.url_env}" if self.url_env else (self.url or "")


class NotificationsConfig(Strict):
    """Nothing is sent without a webhook; each event listed in `events` is sent to every webhook."""

    events: list[Event] = []                 # (not `on`: YAML reads that key as true)
    webhooks: list[WebhookTarget] = []
    # a nightly run started and not finished this long after (Prefect's proactive triggers take 10 s or more)
    late_after_s: Annotated[int, Field(ge=10, le=7 * 24 * 3600)] = 3 * 3600

    @property
    def active(self) -> bool:
        return bool(self.events and self.webhooks)
