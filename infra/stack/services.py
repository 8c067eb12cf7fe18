"""How each server of the stack is started (command, environment) and how it is known to be up."""

from __future__ import annotations

import base64
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from cleargate.processes import http_ok
from flows.prefect_server import server_command, server_environment, vacuum_environment
from infra.stack import postgres
from infra.stack.config import StackConfig
from infra.stack.secrets import ADMIN, Credentials, client_env, write_private

# MLflow's registry webhook goes to the stack's relay, on this host's loopback over plain HTTP: MLflow refuses both
# unless told (its defaults: https only, public addresses only). The relay checks every call's signature.
WEBHOOKS = {"MLFLOW_WEBHOOK_ALLOWED_SCHEMES": "http,https", "MLFLOW_WEBHOOK_ALLOW_PRIVATE_IPS": "true"}
QUIET = {"MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "1", "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
         "GX_ANALYTICS_ENABLED": "false", "DVC_NO_ANALYTICS": "1", "PYTHONUNBUFFERED": "1"}


@dataclass(frozen=True)
class Service:
    name: str
    argv: list[str]
    env: dict[str, str]
    ready: Callable[[], bool]
    timeout: float
    address: str


def _basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def _local(config: StackConfig, port: int, path: str) -> str:
    """Health checks go to loopback: the stack checks its own services, wherever they are exposed."""
    return f"http://127.0.0.1:{port}{path}"


def _base_env(config: StackConfig) -> dict[str, str]:
    drop = ("MLFLOW_TRACKING_URI", "PREFECT_API_URL", "PREFECT_API_AUTH_STRING", "MLFLOW_TRACKING_USERNAME",
            "MLFLOW_TRACKING_PASSWORD", "PREFECT_API_DATABASE_CONNECTION_URL")
    return {**{k: v for k, v in os.environ.items() if k not in drop}, **QUIET}


def mlflow(config: StackConfig, creds: Credentials) -> Service:
    """Tracking server and registry on PostgreSQL, serving the artifacts itself (`mlflow-artifacts:/`).
    One worker and no job runner: 2 processes (~0.5 GB) instead of 10 (~2.3 GB). The store URL, with its
    password, goes through the environment, not the command line (visible to every user in `ps`)."""
    env = {**_base_env(config), "MLFLOW_BACKEND_STORE_URI": postgres.url(config, creds.pg_password, "mlflow",
                                                                          "psycopg2"),
           "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false", **WEBHOOKS,
           "MLFLOW_WEBHOOK_SECRET_ENCRYPTION_KEY": creds.webhook_key}
    argv = [sys.executable, "-m", "mlflow", "server", "--host", config.host, "--port", str(config.mlflow_port),
            "--workers", "1", "--artifacts-destination", config.artifacts.as_uri()]
    headers: dict[str, str] = {}
    if config.auth:
        ini = config.dir / "mlflow" / "basic_auth.ini"
        write_private(ini, "[mlflow]\ndefault_permission = READ\n"
                           f"database_uri = sqlite:///{config.dir / 'mlflow' / 'basic_auth.db'}\n"
                           f"admin_username = {ADMIN}\n"
                           "authorization_function = mlflow.server.auth:authenticate_request_basic_auth\n"
                           # a checked password is remembered for 5 min (one worker: a password changed through
                           # the API is forgotten at once): each request would otherwise pay a scrypt (~0.1 s CPU)
                           "auth_cache_ttl_seconds = 300\n")
        env.update(MLFLOW_AUTH_CONFIG_PATH=str(ini), MLFLOW_AUTH_ADMIN_PASSWORD=creds.admin_password,
                   MLFLOW_FLASK_SERVER_SECRET_KEY=creds.session_key)
        argv += ["--app-name", "basic-auth"]
        headers = _basic(ADMIN, creds.admin_password)
    if config.public_host != "127.0.0.1":  # MLflow answers only the Host names it is told about
        env["MLFLOW_SERVER_ALLOWED_HOSTS"] = ",".join(f"{h},{h}:*" for h in (config.public_host, "localhost",
                                                                               "127.0.0.1"))
    probe = _local(config, config.mlflow_port, "/api/2.0/mlflow/experiments/search?max_results=1")
    return Service("mlflow", argv, env, lambda: http_ok(probe, headers), 180, config.mlflow_url)


def prefect_server(config: StackConfig, creds: Credentials, flow_run_days: int | None = None) -> Service:
    """Prefect's API, scheduler and UI on PostgreSQL (asyncpg), started as every Prefect server of the project is
    (`flows.prefect_server`), its vacuum deleting flow runs that ended over `flow_run_days` ago (params.yaml
    `retention.flow_run_days`; `stack up` always gives it): the hourly monitoring alone makes ~8,760 a year.
    None: the service only to ask whether it answers (`stack status`)."""
    env = {**server_environment(_base_env(config), config.prefect_api, config.dir / "prefect"),
           **(vacuum_environment(flow_run_days) if flow_run_days is not None else {}),
           "PREFECT_API_DATABASE_CONNECTION_URL": postgres.url(config, creds.pg_password, "prefect", "asyncpg")}
    headers: dict[str, str] = {}
    if config.auth:
        env["PREFECT_SERVER_API_AUTH_STRING"] = creds.prefect_auth_string
        headers = _basic(ADMIN, creds.admin_password)
    argv = server_command(config.host, config.prefect_port)
    probe = _local(config, config.prefect_port, "/api/health")
    return Service("prefect", argv, env, lambda: http_ok(probe, headers), 240, config.prefect_url)


def model_server(config: StackConfig, creds: Credentials, name: str, alias: str, port: int) -> Service:
    """`cleargate serve-model NAME@ALIAS` for a model params.yaml `serving.stack` lists: it starts before the model
    has a version (503 until the alias names one), follows the alias on the stack's registry, and needs the
    bearer token when authentication is on."""
    env = {**_base_env(config), **client_env(config, creds),
           "MLFLOW_TRACKING_URI": _local(config, config.mlflow_port, "")}
    headers = {"Authorization": f"Bearer {creds.serving_token}"} if config.auth else {}
    if not config.auth:
        env.pop("CLEARGATE_SERVING_TOKEN", None)
    argv = [str(Path(sys.executable).parent / "cleargate"), "serve-model", f"{name}@{alias}", "--host", config.host,
            "--port", str(port), "--wait-for-model", "--params", str(config.root / "params.yaml")]
    probe = _local(config, port, "/version")  # answers while the alias names no version yet (/health: 503)
    return Service(server_key(name), argv, env, lambda: http_ok(probe, headers), 180,
                   f"http://{config.public_host}:{port} ({name}@{alias})")


def server_key(name: str) -> str:
    """The name a model server goes by in the stack's state and output."""
    return f"serve-{name}"


def relay(config: StackConfig, creds: Credentials) -> Service:
    """MLflow's registry webhook -> Prefect events (`infra/stack/relay.py`), a client of both servers on loopback."""
    env = {**_base_env(config), **client_env(config, creds),
           "PREFECT_API_URL": _local(config, config.prefect_port, "/api"),
           "MLFLOW_TRACKING_URI": _local(config, config.mlflow_port, ""),
           "CLEARGATE_RELAY_PORT": str(config.relay_port), "CLEARGATE_PROJECT": str(config.root),
           "CLEARGATE_PREFECT_UI": config.prefect_url}
    argv = [sys.executable, "-m", "infra.stack.relay"]
    probe = _local(config, config.relay_port, "/health")
    return Service("relay", argv, env, lambda: http_ok(probe), 60, config.relay_url)


def worker_name(config: StackConfig) -> str:
    return f"cleargate-{Path(config.root).name}"


def worker(config: StackConfig, creds: Credentials, pool: str, poll_s: float, ready: Callable[[], bool]) -> Service:
    """A `process` worker on the pool, asking every `poll_s` seconds for runs to start and runs to cancel (the UI's
    Cancel stops a run within that); flow runs inherit its environment: they use the stack's servers."""
    env = {**_base_env(config), **client_env(config, creds), "PREFECT_HOME": str(config.dir / "worker"),
           "PREFECT_WORKER_QUERY_SECONDS": f"{poll_s:g}",
           "PREFECT_API_URL": _local(config, config.prefect_port, "/api"),
           "MLFLOW_TRACKING_URI": _local(config, config.mlflow_port, "")}
    argv = [sys.executable, "-m", "prefect", "worker", "start", "--pool", pool, "--type", "process",
            "--name", worker_name(config)]
    return Service("worker", argv, env, ready, 120, f"pool '{pool}'")
