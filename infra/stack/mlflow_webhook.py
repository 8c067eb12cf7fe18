"""The stack's MLflow registry webhook: every alias set on the stack's registry (`model_version_alias.created`) is
sent, signed with the stack's secret, to the relay (`infra/stack/relay.py`). Created on the first `stack up`,
brought up to date (address, secret, active) on every later one."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

from infra.stack.config import StackConfig
from infra.stack.secrets import ADMIN, Credentials

NAME = "cleargate-registry"
EVENTS = ["model_version_alias.created"]


@contextmanager
def _admin(config: StackConfig, creds: Credentials) -> Iterator[None]:
    """MLflow's client reads its credentials from the environment: the admin's, for this block only."""
    saved = {k: os.environ.get(k) for k in ("MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD")}
    if config.auth:
        os.environ.update(MLFLOW_TRACKING_USERNAME=ADMIN, MLFLOW_TRACKING_PASSWORD=creds.admin_password)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def ensure(config: StackConfig, creds: Credentials) -> str:
    """The webhook, created or updated; returns what was done."""
    from mlflow.tracking import MlflowClient

    uri = f"http://127.0.0.1:{config.mlflow_port}"
    with _admin(config, creds):
        client = MlflowClient(uri, uri)
        found = [w for w in client.list_webhooks() if w.name == NAME]
        if found:
            client.update_webhook(found[0].webhook_id, url=config.relay_url, events=EVENTS,
                                  secret=creds.webhook_secret, status="ACTIVE")
            return "updated"
        client.create_webhook(NAME, config.relay_url, EVENTS, description="champion moves -> cleargate's relay -> "
                              "Prefect automations (notifications)", secret=creds.webhook_secret)
        return "created"
