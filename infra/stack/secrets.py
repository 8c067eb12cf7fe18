"""Credentials generated once per stack (kept across restarts), and the env file clients source.

Both files are written with mode 600 from the start (never readable by others, not even briefly); nothing
here prints a secret in full (`masked`).
"""

from __future__ import annotations

import base64
import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from cleargate.serving.registry_webhook import SECRET_ENV as WEBHOOK_SECRET_ENV
from infra.stack.config import StackConfig

ADMIN = "cleargate-admin"   # the MLflow admin user and the Prefect auth-string user

PG_ROLE = "cleargate"
# A short retry budget for MLflow clients: a server that is down is reported in seconds, not minutes.
CLIENT_SETTINGS = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "3", "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
                   "MLFLOW_HTTP_REQUEST_TIMEOUT": "60"}


@dataclass(frozen=True)
class Credentials:
    pg_password: str
    admin_password: str
    session_key: str      # MLflow's auth app signs its CSRF tokens with it (MLFLOW_FLASK_SERVER_SECRET_KEY)
    serving_token: str    # the model servers' bearer token when authentication is on (CLEARGATE_SERVING_TOKEN)
    webhook_secret: str   # MLflow signs its registry webhook's calls with it; the relay checks them
    webhook_key: str      # MLflow encrypts webhook secrets in its database with it (a Fernet key): kept, so a
                          # restarted server still reads them (MLFLOW_WEBHOOK_SECRET_ENCRYPTION_KEY)

    @property
    def prefect_auth_string(self) -> str:
        return f"{ADMIN}:{self.admin_password}"


def write_private(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)


def credentials(config: StackConfig) -> Credentials:
    """The stack's credentials: generated on the first start, read back (and completed if need be) later."""
    known = json.loads(config.secrets_file.read_text()) if config.secrets_file.is_file() else {}
    values = {name: known.get(name) or _generated(name) for name in Credentials.__dataclass_fields__}
    if values != known:
        write_private(config.secrets_file, json.dumps(values, indent=2) + "\n")
    return Credentials(**values)


def _generated(name: str) -> str:
    if name == "webhook_key":  # Fernet's format: 32 random bytes, url-safe base64
        return base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()
    return secrets.token_urlsafe(24)


def masked(secret: str) -> str:
    return f"{secret[:3]}...({len(secret)} characters)"


def client_env(config: StackConfig, creds: Credentials) -> dict[str, str]:
    """What a client (a laptop, CI, the worker's flow runs) needs to use the stack; the registry webhook's secret
    too, for a receiver of MLflow's signed calls besides the stack's relay."""
    env = {"MLFLOW_TRACKING_URI": config.mlflow_url, "PREFECT_API_URL": config.prefect_api, **CLIENT_SETTINGS,
           WEBHOOK_SECRET_ENV: creds.webhook_secret}
    if config.auth:
        env.update(MLFLOW_TRACKING_USERNAME=ADMIN, MLFLOW_TRACKING_PASSWORD=creds.admin_password,
                   PREFECT_API_AUTH_STRING=creds.prefect_auth_string, CLEARGATE_SERVING_TOKEN=creds.serving_token)
    return env


def write_env_file(config: StackConfig, creds: Credentials) -> Path:
    lines = ["# cleargate team stack (make stack-up). Use it: source .stack/env", "# Written with mode 600: it may "
             "hold credentials. Never commit it."]
    lines += [f"export {k}={v}" for k, v in client_env(config, creds).items()]
    write_private(config.env_file, "\n".join(lines) + "\n")
    return config.env_file
