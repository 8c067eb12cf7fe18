"""Prefect's ephemeral API, started as early as possible and beside the run's own start-up work.

With no PREFECT_API_URL, Prefect starts a temporary API server the first time a flow needs one: it imports
`prefect.server.api.server` in this process (5.6-7.8 s here) only to launch `uvicorn` in another, then waits
for it (7.7 s with its database already made). A no-op rerun spent most of its time there. Here the same
server process is launched from the command line Prefect uses (`SubprocessASGIServer._run_uvicorn_command`,
Prefect 3.8), without importing the server in this process, and before this process imports Prefect and
the run's code (`launch_early`: the flow started 15.4 -> 11.9 s into a fresh run); the run asks DVC what is
stale (`flows.pipeline._prepare`) while the server starts; `ready()` then waits for its /health
and points this process and its children at it. Like Prefect's, the server lives until this process exits
(stopped by its pid, after Prefect's log and event workers have sent what they hold) and later runs in the
same process reuse it. Written here because Prefect starts its ephemeral server lazily and has no way to
start it early without the import.
"""

from __future__ import annotations

import atexit
import importlib.util
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, closing, contextmanager
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx

from cleargate.errors import CleargateError
from cleargate.runtime import apply_offline_env

MIN_START_S = 60.0   # at least this long a wait: Prefect's default (20 s) is short for a first run's database
                     # migration on a busy 2-core machine; PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS raises it


def _prefect_server_running() -> bool:
    """Prefect's own ephemeral server already runs in this process (an earlier flow call started it): reuse it."""
    server = sys.modules.get("prefect.server.api.server")
    instances = getattr(getattr(server, "SubprocessASGIServer", None), "_instances", {})
    return any(getattr(instance, "running", False) for instance in instances.values())


def _free_port() -> int:
    with closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class _Server:
    """One uvicorn process serving Prefect's API on a free port of 127.0.0.1. Prefect need not be imported yet
    (`launch_early`): the server reads Prefect's settings from the same environment, profile and working folder
    as this process; settings made in this process (temporary settings) go along once Prefect is imported."""

    def __init__(self, early: bool = False) -> None:
        self.early = early  # launched by `launch_early`, not yet used by an `EphemeralApi`
        port = _free_port()
        self.url = f"http://127.0.0.1:{port}/api"
        env = {**os.environ, "PREFECT_UI_ENABLED": "0", "PREFECT__SERVER_EPHEMERAL": "1", "PREFECT__SERVER_FINAL": "1"}
        if "prefect" in sys.modules:
            from prefect.settings import get_current_settings

            env.update(get_current_settings().to_environment_variables(exclude_unset=True))
        packages = Path(str(importlib.util.find_spec("prefect").origin)).parent.parent  # type: ignore[union-attr]
        self.process = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "--app-dir", str(packages), "--factory",
             "prefect.server.api.server:create_app", "--host", "127.0.0.1", "--port", str(port), "--log-level",
             "error", "--lifespan", "on"], env=env, stdin=subprocess.DEVNULL)
        atexit.register(self.stop)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()  # our own child, by its pid
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


_SERVER: _Server | None = None   # this process's server, reused by later runs in it


def launch_early() -> None:
    """Launch the server before the entry script imports Prefect and the run's code, so the server's start (~10
    CPU-s) runs beside those imports (~4 s) instead of after them: `python flows/pipeline.py` calls this first.
    Only where the environment names no API; `EphemeralApi` then uses this server, or stops it where Prefect's
    settings name an API after all (a profile's PREFECT_API_URL) or disable the ephemeral server."""
    global _SERVER  # noqa: PLW0603 - one server per process, like Prefect's own
    apply_offline_env()  # the server inherits this process's environment as it is now: no analytics
    if _SERVER is None and not os.environ.get("PREFECT_API_URL"):
        _SERVER = _Server(early=True)


@contextmanager
def api_everywhere(url: str, ca_file: Path | None = None) -> Iterator[None]:
    """Point Prefect at `url` in this context, in every thread of this process, and in the processes it starts;
    with `ca_file`, Prefect's clients read that CA bundle (`PREFECT_API_SSL_CERT_FILE`) instead of certifi's.

    Prefect's own threads (the process pool's message forwarder, the event and log workers) carry no settings
    context: they read the process-global settings, made from the environment when Prefect was imported. A
    temporary setting alone left them with no API URL, so each started an ephemeral server of its own: two or
    three more uvicorn processes in every run, ~35 CPU-s while the run started on this 2-core machine."""
    from prefect.context import refresh_global_settings_context
    from prefect.settings import PREFECT_API_SSL_CERT_FILE, PREFECT_API_URL, temporary_settings

    updates: dict[Any, str] = {PREFECT_API_URL: url}
    if ca_file is not None:
        updates[PREFECT_API_SSL_CERT_FILE] = str(ca_file)
    saved = {setting.name: os.environ.get(setting.name) for setting in updates}
    os.environ.update({setting.name: value for setting, value in updates.items()})  # child processes
    refresh_global_settings_context()    # threads without a settings context
    try:
        with temporary_settings(updates=updates):  # this context
            yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        refresh_global_settings_context()


def one_certificate(folder: Path) -> Path:
    """A CA bundle of one certificate (certifi's first) in `folder`, for clients of a plain-HTTP loopback server.

    Prefect builds an SSL context for every API client it makes, whatever the URL's scheme: one per task run in
    each worker (`hydrated_context`), more in the flow's process. Parsing certifi's ~140 certificates took 50 ms
    each time here: 20 trivial tasks of a flow on a process pool took 240 ms a task with certifi's bundle, 158 ms
    with this file. Our ephemeral server speaks HTTP on 127.0.0.1, so no certificate is ever checked."""
    import certifi

    text = Path(certifi.where()).read_text()
    end = "-----END CERTIFICATE-----"
    start = text.index("-----BEGIN CERTIFICATE-----")
    path = folder / "prefect-api-ca.pem"
    path.write_text(text[start:text.index(end, start) + len(end)] + "\n")
    return path


class EphemeralApi:
    """`with EphemeralApi() as api: ...; api.ready(); <run flows>`. Does nothing where PREFECT_API_URL is set
    (a team server) or the ephemeral server is disabled: the flow then talks to what Prefect is configured for."""

    def __init__(self) -> None:
        from prefect.settings import (
            PREFECT_API_URL,
            PREFECT_SERVER_EPHEMERAL_ENABLED,
            PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS,
        )

        self.needed = (not PREFECT_API_URL.value() and bool(PREFECT_SERVER_EPHEMERAL_ENABLED.value())
                       and not _prefect_server_running())
        self.timeout = max(MIN_START_S, float(PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS.value()))
        self.server: _Server | None = None
        self._stack = ExitStack()

    def __enter__(self) -> EphemeralApi:
        global _SERVER  # noqa: PLW0603 - one server per process, like Prefect's own
        if self.needed:
            if _SERVER is None or _SERVER.process.poll() is not None:
                _SERVER = _Server()
            _SERVER.early = False
            self.server = _SERVER
        elif _SERVER is not None and _SERVER.early:  # launched early, but Prefect's settings name another API
            _SERVER.stop()
            _SERVER = None
        return self

    def ready(self) -> None:
        """Wait for the server's /health, then use it in this process, its threads and its children
        (`api_everywhere`)."""
        if self.server is None:
            return
        url, process = self.server.url, self.server.process
        deadline = time.monotonic() + self.timeout
        with httpx.Client(timeout=2.0) as client:
            while True:
                if process.poll() is not None:
                    raise CleargateError(f"Prefect's ephemeral API server ({url}) exited with code "
                                         f"{process.returncode} while starting; check PREFECT_HOME "
                                         f"({os.environ.get('PREFECT_HOME', '~/.prefect')}) is writable, or set "
                                         "PREFECT_API_URL to a running server")
                try:
                    if client.get(f"{url}/health").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline:
                    raise CleargateError(f"Prefect's ephemeral API server ({url}) did not answer within "
                                         f"{self.timeout:.0f} s; the machine is overloaded, or set "
                                         "PREFECT_API_URL to a running server")
                time.sleep(0.05)
        folder = Path(self._stack.enter_context(tempfile.TemporaryDirectory(prefix="cleargate-prefect-")))
        self._stack.enter_context(api_everywhere(url, one_certificate(folder)))

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        if self.server is not None:  # what Prefect's workers hold goes to this server before the URL is unset
            from prefect.events.worker import EventsWorker
            from prefect.logging.handlers import APILogWorker

            APILogWorker.drain_all(timeout=5)
            EventsWorker.drain_all(timeout=5)
        self._stack.close()
