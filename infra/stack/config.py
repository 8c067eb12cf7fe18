"""The stack's settings, all from the environment (so CI and tests pick ports and folders without editing a
file); the defaults are the single place they are written."""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from pathlib import Path

from cleargate.errors import ServiceError

DEFAULTS = {
    "STACK_DIR": ".stack",             # data, logs, pids, credentials (git-ignored)
    "STACK_HOST": "127.0.0.1",         # 0.0.0.0 exposes MLflow and Prefect, and turns authentication on
    "STACK_AUTH": "",                  # 1: authentication even on loopback
    "STACK_PUBLIC_HOST": "",           # the name clients use when STACK_HOST is 0.0.0.0 (default: this host)
    "STACK_PG_PORT": "5433",           # PostgreSQL always listens on 127.0.0.1 only
    "STACK_MLFLOW_PORT": "5000",
    "STACK_PREFECT_PORT": "4200",
    "STACK_RELAY_PORT": "5001",        # the relay from MLflow's registry webhook to Prefect (always 127.0.0.1)
    "STACK_PG_OS_USER": "nobody",      # PostgreSQL refuses to run as root: the unprivileged user it runs as
}


class StackError(ServiceError):
    """A stack step failed: one line naming the service, the check and the fix."""


@dataclass(frozen=True)
class StackConfig:
    root: Path             # the project (deployments run from here)
    dir: Path
    host: str
    auth: bool
    public_host: str
    pg_port: int
    mlflow_port: int
    prefect_port: int
    relay_port: int
    pg_os_user: str

    @classmethod
    def from_env(cls, root: Path, env: dict[str, str] | None = None) -> StackConfig:
        values = {k: (env if env is not None else os.environ).get(k) or v for k, v in DEFAULTS.items()}
        host = values["STACK_HOST"]
        exposed = host not in ("127.0.0.1", "localhost")
        public = values["STACK_PUBLIC_HOST"] or (socket.getfqdn() if exposed else "127.0.0.1")
        folder = Path(values["STACK_DIR"])
        try:
            ports = [int(values[k]) for k in ("STACK_PG_PORT", "STACK_MLFLOW_PORT", "STACK_PREFECT_PORT",
                                              "STACK_RELAY_PORT")]
        except ValueError as exc:
            raise StackError(f"STACK_*_PORT: not a port number ({exc})") from None
        return cls(root=root.resolve(), dir=(folder if folder.is_absolute() else root / folder).resolve(),
                   host=host, auth=exposed or values["STACK_AUTH"] not in ("", "0", "false"), public_host=public,
                   pg_port=ports[0], mlflow_port=ports[1], prefect_port=ports[2], relay_port=ports[3],
                   pg_os_user=values["STACK_PG_OS_USER"])

    @property
    def mlflow_url(self) -> str:
        return f"http://{self.public_host}:{self.mlflow_port}"

    @property
    def prefect_url(self) -> str:
        return f"http://{self.public_host}:{self.prefect_port}"

    @property
    def prefect_api(self) -> str:
        return f"{self.prefect_url}/api"

    @property
    def relay_url(self) -> str:
        """Where the stack's MLflow server sends its registry webhook (same host, loopback)."""
        return f"http://127.0.0.1:{self.relay_port}/mlflow"

    @property
    def env_file(self) -> Path:
        return self.dir / "env"

    @property
    def state_file(self) -> Path:
        return self.dir / "state.json"

    @property
    def secrets_file(self) -> Path:
        return self.dir / "secrets.json"

    @property
    def logs(self) -> Path:
        return self.dir / "logs"

    @property
    def artifacts(self) -> Path:
        return self.dir / "mlartifacts"
