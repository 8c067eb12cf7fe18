"""Servers and workers as processes: a free loopback port, started in a session of their own, waited for until they
answer, stopped by the pid they were started with (and its start time), never looked up or killed by name.

One helper for every server the project starts: the run's temporary Prefect API, `make serve`'s local server, the
team stack's services, and the servers the tests start.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import psutil

from cleargate.errors import ServiceError


def free_ports(n: int) -> list[int]:
    """`n` distinct ports of 127.0.0.1 nobody listens on now (held together, so no two are the same)."""
    sockets = [socket.socket() for _ in range(n)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [int(sock.getsockname()[1]) for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def free_port() -> int:
    return free_ports(1)[0]


@dataclass(frozen=True)
class Running:
    """A started process: its pid *and* its start time identify it, so a pid the kernel gave to another program
    later (after a reboot, say) is never signalled."""

    pid: int
    started: float        # psutil create_time
    log: str

    def alive(self) -> bool:
        try:
            process = psutil.Process(self.pid)
            return abs(process.create_time() - self.started) < 1 and process.status() != psutil.STATUS_ZOMBIE
        except psutil.NoSuchProcess:
            return False


def spawn(argv: list[str], env: dict[str, str], log: Path, cwd: Path | None = None) -> Running:
    """A long-running process in a new session (a terminal's Ctrl-C does not reach it), its output to `log`."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as out:
        process = subprocess.Popen(argv, env=env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL, start_new_session=True)
    return Running(process.pid, psutil.Process(process.pid).create_time(), str(log))


def tail(log: str | Path, lines: int = 5) -> str:
    path = Path(log)
    if not path.is_file():
        return ""
    return " | ".join(path.read_text(errors="replace").strip().splitlines()[-lines:])


def http_ok(url: str, headers: dict[str, str] | None = None, timeout: float = 3) -> bool:
    """The URL answers 2xx now."""
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers or {}), timeout=timeout) as r:
            return 200 <= r.status < 300
    except (urllib.error.URLError, OSError, ValueError):
        return False


def wait_until(ready: Callable[[], bool], what: str, running: Running, timeout: float, poll: float = 0.2) -> float:
    """Seconds until `ready()`; one line naming `what` and its log if the process dies or the time runs out."""
    start = time.monotonic()
    while not ready():
        if not running.alive():
            raise ServiceError(f"{what}: the process exited before it answered; its log ({running.log}) says: "
                               f"{tail(running.log)}")
        if time.monotonic() - start > timeout:
            raise ServiceError(f"{what}: no answer within {timeout:.0f} s; see {running.log} "
                               f"({tail(running.log, 2)})")
        time.sleep(poll)
    return time.monotonic() - start


def _tree(pid: int) -> list[psutil.Process]:
    try:
        root = psutil.Process(pid)
        return [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def stop(running: Running, grace: float = 20) -> None:
    """SIGTERM to the process, its process group and every descendant found before the signal (servers start
    workers, Prefect starts flow runs in sessions of their own); SIGKILL to what is left after `grace` seconds."""
    if not running.alive():
        return
    tree = _tree(running.pid)
    groups = {running.pid}
    for process in tree:
        with contextlib.suppress(ProcessLookupError):
            groups.add(os.getpgid(process.pid))
    groups.discard(os.getpgrp())  # never the caller's own group
    for group in groups:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(group, signal.SIGTERM)
    _, left = psutil.wait_procs(tree, timeout=grace)
    for process in left:
        with contextlib.suppress(psutil.NoSuchProcess):
            process.kill()
    psutil.wait_procs(left, timeout=10)
