"""Real servers for tests, started on a free loopback port and stopped by pid (never by name)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Server:
    """A server process in its own session, answering `health_url` once up; stopped with its whole process group
    (workers included), by the pid it was started with. Subclasses say what to start and where it logs."""

    name = "server"

    def __init__(self, folder: Path) -> None:
        self.folder, self.port = folder, free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def uri(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def health_url(self) -> str:
        return f"{self.uri}/health"

    @property
    def log(self) -> Path:
        return self.folder / "server.log"

    def command(self) -> list[str]:
        raise NotImplementedError

    def environment(self) -> dict[str, str]:
        return dict(os.environ)

    def launch(self) -> Server:
        """Start the process and return at once (`wait` checks it answers)."""
        self.folder.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(self.command(), env=self.environment(), stdout=subprocess.DEVNULL,
                                        stderr=self.log.open("ab"), stdin=subprocess.DEVNULL, start_new_session=True)
        return self

    def wait(self, timeout: float = 120) -> Server:
        assert self.process is not None, "launch() first"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if requests.get(self.health_url, timeout=1).status_code == 200:
                    return self
            except requests.RequestException:
                pass
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited ({self.process.returncode}): {self.log.read_text()[-2000:]}")
            time.sleep(0.25)
        self.stop()
        raise RuntimeError(f"{self.name} at {self.uri} not healthy after {timeout} s: {self.log.read_text()[-2000:]}")

    def start(self, timeout: float = 120) -> Server:
        return self.launch().wait(timeout)

    def stop(self) -> None:
        """The whole process group (gunicorn/uvicorn workers included), by the pid we started."""
        if self.process is None:
            return
        try:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=20)
        except ProcessLookupError:
            pass
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        self.process = None


class MlflowServer(Server):
    """`mlflow server` on SQLite under `folder`, serving artifacts itself; start/stop keep the same data."""

    name = "mlflow server"

    def command(self) -> list[str]:
        return [sys.executable, "-m", "mlflow", "server", "--backend-store-uri",
                f"sqlite:///{self.folder / 'mlflow.db'}", "--artifacts-destination", str(self.folder / "artifacts"),
                "--host", "127.0.0.1", "--port", str(self.port), "--workers", "1"]

    def environment(self) -> dict[str, str]:
        return {**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}


class PrefectServer(Server):
    """`prefect server start` with its database under `folder` (its own PREFECT_HOME): the API a test worker's
    flows and the pipeline commands it starts talk to, instead of each starting a temporary server of its own.
    No UI, scheduler or late-run service: nothing here schedules runs (the team stack's tests do, on theirs)."""

    name = "prefect server"

    @property
    def api_url(self) -> str:
        return f"{self.uri}/api"

    @property
    def health_url(self) -> str:
        return f"{self.api_url}/health"

    def command(self) -> list[str]:
        return [str(Path(sys.executable).parent / "prefect"), "server", "start", "--host", "127.0.0.1", "--port",
                str(self.port), "--no-ui", "--analytics-off", "--no-scheduler", "--no-late-runs"]

    def environment(self) -> dict[str, str]:
        env = {**os.environ, "PREFECT_HOME": str(self.folder), "PREFECT_SERVER_LOGGING_LEVEL": "WARNING"}
        env.pop("PREFECT_API_URL", None)
        return env
