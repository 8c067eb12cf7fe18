"""Real servers for tests, on a free loopback port, started, waited for and stopped by pid with the project's own
helpers (`cleargate.processes`; Prefect's server as every part of the project starts it, `flows.prefect_server`)."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from pathlib import Path

from cleargate.processes import Running, free_port, http_ok, spawn, stop, wait_until
from flows.prefect_server import server_command, server_environment


class Server:
    """A server process under `folder` (its log: server.log); `start` returns once it answers `health_url`."""

    name = "server"

    def __init__(self, folder: Path) -> None:
        self.folder, self.port = folder, free_port()
        self.running: Running | None = None

    @property
    def uri(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def health_url(self) -> str:
        return f"{self.uri}/health"

    def command(self) -> tuple[list[str], dict[str, str]]:
        raise NotImplementedError

    def launch(self) -> Server:
        """Start the process and return at once (`wait` checks it answers)."""
        argv, env = self.command()
        self.running = spawn(argv, env, self.folder / "server.log")
        return self

    def wait(self, timeout: float = 120) -> Server:
        assert self.running is not None, "launch() first"
        wait_until(lambda: http_ok(self.health_url, timeout=1), f"{self.name} at {self.uri}", self.running, timeout)
        return self

    def start(self, timeout: float = 120) -> Server:
        return self.launch().wait(timeout)

    def stop(self) -> None:
        if self.running is not None:
            stop(self.running)
            self.running = None


class MlflowServer(Server):
    """`mlflow server` on SQLite under `folder`, serving artifacts itself; start/stop keep the same data."""

    name = "mlflow server"

    def command(self) -> tuple[list[str], dict[str, str]]:
        argv = [sys.executable, "-m", "mlflow", "server", "--backend-store-uri",
                f"sqlite:///{self.folder / 'mlflow.db'}", "--artifacts-destination", str(self.folder / "artifacts"),
                "--host", "127.0.0.1", "--port", str(self.port), "--workers", "1"]
        return argv, {**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}


class PrefectServer(Server):
    """Prefect's server with its database under `folder` (its own PREFECT_HOME): the API a test process's flows,
    and the pipeline commands it starts, talk to. No UI and no scheduler: nothing here schedules runs (the team
    stack's tests do, on theirs)."""

    name = "prefect server"

    @property
    def api_url(self) -> str:
        return f"{self.uri}/api"

    @property
    def health_url(self) -> str:
        return f"{self.api_url}/health"

    def command(self) -> tuple[list[str], dict[str, str]]:
        env = {**server_environment(dict(os.environ), self.api_url, self.folder),
               "PREFECT_SERVER_LOGGING_LEVEL": "WARNING"}
        return server_command("127.0.0.1", self.port, ui=False, scheduler=False), env


class ModelServer(Server):
    """`cleargate serve-model REF` on a project, as a person starts it, with `env` added (a token, a webhook secret)."""

    name = "cleargate serve-model"

    def __init__(self, folder: Path, project: Path, ref: str, env: dict[str, str] | None = None) -> None:
        super().__init__(folder)
        self.project, self.ref, self.env = project, ref, env or {}

    def command(self) -> tuple[list[str], dict[str, str]]:
        cleargate = str(Path(sys.executable).parent / "cleargate")
        argv = [cleargate, "serve-model", self.ref, "--port", str(self.port), "--params",
                str(self.project / "params.yaml")]
        return argv, {**os.environ, **self.env}

    def log(self) -> str:
        path = self.folder / "server.log"
        return path.read_text(errors="replace") if path.is_file() else ""


class Receiver(Server):
    """`tests/receiver.py`: every POST it gets, one JSON line in `folder`/received.jsonl (`posts()`)."""

    name = "notification receiver"

    @property
    def record(self) -> Path:
        return self.folder / "received.jsonl"

    def command(self) -> tuple[list[str], dict[str, str]]:
        root = Path(__file__).resolve().parent.parent
        env = {**os.environ, "PYTHONPATH": f"{root}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
        return [sys.executable, "-m", "tests.receiver", str(self.port), str(self.record)], env

    def posts(self, path: str | None = None, since: float = 0.0) -> list[dict]:
        """The POSTs received (to `path`, after the Unix time `since`), oldest first, each body parsed when JSON."""
        import json

        if not self.record.is_file():
            return []
        found = []
        for line in self.record.read_text().splitlines():
            post = json.loads(line)
            if (path is None or post["path"] == path) and post["at"] >= since:
                try:
                    post["json"] = json.loads(post["body"])
                except ValueError:
                    post["json"] = None
                found.append(post)
        return found

    def wait_for(self, count: int, timeout: float, path: str | None = None, since: float = 0.0,
                 where=lambda post: True) -> list[dict]:
        """At least `count` matching POSTs, waiting up to `timeout` seconds; whatever arrived by then."""
        import time

        deadline = time.monotonic() + timeout
        while True:
            found = [p for p in self.posts(path, since) if where(p)]
            if len(found) >= count or time.monotonic() > deadline:
                return found
            time.sleep(0.25)


@contextlib.contextmanager
def dask_cluster(env: dict[str, str], folder: Path, workers: int = 2,
                 worker_env: dict[str, str] | None = None) -> Iterator[tuple[str, str]]:
    """A Dask cluster started the way a team starts one: `dask scheduler`, then `workers` `dask worker` processes,
    each from a working folder of its own (not the project's), in the project's environment (`env`; `worker_env`
    added to the workers'); yields the scheduler's address and dashboard; stopped by pid."""
    from distributed import Client

    bin_dir = Path(sys.executable).parent
    port, dashboard = free_port(), free_port()
    address = f"tcp://127.0.0.1:{port}"
    started = [spawn([str(bin_dir / "dask"), "scheduler", "--host", "127.0.0.1", "--port", str(port),
                      "--dashboard-address", f"127.0.0.1:{dashboard}"], env, folder / "scheduler.log", cwd=folder)]
    try:
        for n in range(workers):
            (folder / f"worker{n}").mkdir()
            started.append(spawn([str(bin_dir / "dask"), "worker", address, "--nthreads", "1", "--nworkers", "1",
                                  "--memory-limit", "0"], {**env, **(worker_env or {})}, folder / f"worker{n}.log",
                                 cwd=folder / f"worker{n}"))
        with Client(address, timeout=60) as client:
            client.wait_for_workers(workers, timeout=120)
        yield address, f"http://127.0.0.1:{dashboard}/status"
    finally:
        for process in reversed(started):
            stop(process)
