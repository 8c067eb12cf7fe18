"""Prefect's API server, always started with Prefect's own command (`prefect server start`), for three callers:

- a run with no PREFECT_API_URL (`cleargate run` on a laptop): a temporary API of its own (`temporary_api`),
  launched before the run imports Prefect, so PREFECT_API_URL is in the environment when Prefect reads its
  settings: this process, its threads and every process it starts (pool workers, stage commands) use it;
- `cleargate serve` (`local_server`): a project-local server with its scheduler and UI, so cron fires;
- the team stack (`infra.stack.services`): the same command on PostgreSQL, with authentication.

The run's own server keeps its database under PREFECT_HOME (the project's `.prefect/`), so `cleargate ui
--prefect` shows every earlier run. Nothing here imports Prefect: it must be usable before Prefect is imported.
"""

from __future__ import annotations

import atexit
import os
import socket
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from cleargate.errors import ServiceError
from cleargate.processes import Running, free_port, http_ok, spawn, stop, wait_until

# Concurrency-slot leases on disk (under PREFECT_HOME) instead of in the server's memory: a server restarted
# while a run held its deployment's slot would otherwise never give the slot back (the next runs would wait
# or be cancelled for ever); kept on disk, the lease expires and Prefect's repossessor frees the slot.
LEASES = {"PREFECT_SERVER_CONCURRENCY_LEASE_STORAGE": "prefect.server.concurrency.lease_storage.filesystem"}
START_TIMEOUT_S = 300.0   # a first start makes the database (migrations): slow on a busy 2-core machine

# Prefect's database vacuum (its settings `server.services.db_vacuum.enabled` and `.retention_period`, in seconds):
# every hour a long-lived server deletes the top-level flow runs that ended longer ago than the period, with their
# task runs, logs and artifacts; `events` keeps Prefect's own event retention on (its default).
VACUUM_ENABLED = "PREFECT_SERVER_SERVICES_DB_VACUUM_ENABLED"
VACUUM_RETENTION = "PREFECT_SERVER_SERVICES_DB_VACUUM_RETENTION_PERIOD"
VACUUM_TYPES = "events,flow_runs"


def server_command(host: str, port: int, ui: bool = True, scheduler: bool = True) -> list[str]:
    """`prefect server start` on `host:port`; without the UI or the scheduler (and its late-run service) on
    request: a run's temporary API serves the run, it schedules nothing."""
    argv = [sys.executable, "-m", "prefect", "server", "start", "--host", host, "--port", str(port)]
    if not ui:
        argv.append("--no-ui")
    if not scheduler:
        argv += ["--no-scheduler", "--no-late-runs"]
    return argv


def server_environment(base: dict[str, str], api_url: str, home: Path) -> dict[str, str]:
    """The server's environment: its own PREFECT_HOME, no client API URL of its own, no analytics, the UI told
    where the API is (without PREFECT_UI_API_URL it calls :4200 whatever the port), leases on disk."""
    env = {**base, "PREFECT_HOME": str(home), "PREFECT_UI_API_URL": api_url,
           "PREFECT_SERVER_ANALYTICS_ENABLED": "false", **LEASES}
    env.pop("PREFECT_API_URL", None)
    return env


def vacuum_environment(flow_run_days: int) -> dict[str, str]:
    """The settings that turn Prefect's flow-run vacuum on, keeping `flow_run_days` (params.yaml `retention`)."""
    return {VACUUM_ENABLED: VACUUM_TYPES, VACUUM_RETENTION: str(flow_run_days * 86_400)}


def start_server(home: Path, port: int, ui: bool, scheduler: bool, log: Path,
                 flow_run_days: int | None = None) -> tuple[Running, str]:
    """Launch a server on 127.0.0.1:`port` and return at once with its API URL (`wait_ready` waits for it); with
    `flow_run_days`, its vacuum deletes the flow runs that ended longer ago."""
    api = f"http://127.0.0.1:{port}/api"
    env = server_environment(dict(os.environ), api, home)
    if flow_run_days is not None:
        env.update(vacuum_environment(flow_run_days))
    return spawn(server_command("127.0.0.1", port, ui, scheduler), env, log), api


def wait_ready(server: Running, api: str, timeout: float = START_TIMEOUT_S) -> float:
    """Seconds until the server's /health answers; one line naming its log if it dies or does not answer."""
    return wait_until(lambda: http_ok(f"{api}/health"), f"prefect server ({api})", server, timeout)


class TemporaryApi:
    """The run's own Prefect API where none is configured: `launch()` before Prefect is imported (the server
    starts while the run imports its code), `ready()` before the first flow; stopped by its pid when the process
    exits, after Prefect's own exit handlers have sent the logs and events they hold (registered before Prefect
    is imported, so it runs after them), or earlier with `stop()`."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self.server: Running | None = None
        self.url = ""
        self.owner = os.getpid()

    def launch(self) -> TemporaryApi:
        if os.environ.get("PREFECT_API_URL"):  # a team's server, or a server of the caller's: use it
            return self
        if "prefect" in sys.modules:
            raise RuntimeError("TemporaryApi.launch() must run before Prefect is imported (Prefect reads "
                               "PREFECT_API_URL once, when it is imported)")
        self.home.mkdir(parents=True, exist_ok=True)
        self.server, self.url = start_server(self.home, free_port(), ui=False, scheduler=False,
                                             log=self.home / "run-api.log")
        os.environ["PREFECT_API_URL"] = self.url
        atexit.register(self.stop)
        return self

    def ready(self) -> None:
        if self.server is not None:
            try:
                wait_ready(self.server, self.url)
            except ServiceError as exc:
                raise ServiceError(f"{exc}; or set PREFECT_API_URL to a running Prefect server") from None

    def stop(self) -> None:
        """By the launching process only: a forked child inherits the exit handler (libraries fork helpers), and
        must not stop the server under the run."""
        if self.server is not None and os.getpid() == self.owner:
            stop(self.server, grace=10)
            self.server = None
            os.environ.pop("PREFECT_API_URL", None)


_RUN_API: TemporaryApi | None = None   # this process's, launched by `python -m flows` (one per process)


def launch_run_api(home: Path) -> None:
    global _RUN_API
    _RUN_API = TemporaryApi(home).launch()


def run_api_ready() -> None:
    """Wait for the run's own Prefect API, if this process launched one; nothing to wait for otherwise (a team
    server, the test suite's, or a flow called in-process by a caller that configured Prefect itself)."""
    if _RUN_API is not None:
        _RUN_API.ready()


@contextmanager
def local_server(home: Path, port: int, scheduler: bool = True, flow_run_days: int | None = None) -> Iterator[str]:
    """A Prefect server with its UI (and scheduler) for this project only (`cleargate serve`, `cleargate ui
    --prefect`), stopped by its pid when the block ends; one line if the port is taken. With `flow_run_days`
    (`cleargate serve`: params.yaml `retention.flow_run_days`) its vacuum deletes older flow runs."""
    if _listening(port):
        raise ServiceError(f"prefect server: port {port} is in use; stop what holds it, set "
                           "PREFECT_SERVER_API_PORT, or point PREFECT_API_URL at that server")
    server, api = start_server(home, port, ui=True, scheduler=scheduler, log=home / "server.log",
                               flow_run_days=flow_run_days)
    try:
        seconds = wait_ready(server, api)
        print(f"prefect server: started on http://127.0.0.1:{port} in {seconds:.1f} s (database under {home}, "
              f"log: {home / 'server.log'})", flush=True)
        yield api
    finally:
        stop(server)
        print("prefect server: stopped", flush=True)


def _listening(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0
