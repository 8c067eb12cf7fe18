"""Start a service in its own session, wait until it answers, stop it by its recorded pid.

A recorded process is identified by its pid *and* its start time, so a pid the kernel gave to another
program after a reboot is never signalled. Stopping sends SIGTERM to the process, its process group and
every descendant found before the signal (Prefect starts flow runs in their own sessions), waits, then
SIGKILLs whatever is left. Nothing is ever looked up or killed by name.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import psutil

from infra.stack.config import StackError


@dataclass(frozen=True)
class Running:
    pid: int
    started: float        # psutil create_time: with the pid, identifies the process
    log: str

    def alive(self) -> bool:
        try:
            process = psutil.Process(self.pid)
            return abs(process.create_time() - self.started) < 1 and process.status() != psutil.STATUS_ZOMBIE
        except psutil.NoSuchProcess:
            return False


def load_state(path: Path) -> dict[str, Running]:
    if not path.is_file():
        return {}
    return {name: Running(**record) for name, record in json.loads(path.read_text()).items()}


def save_state(path: Path, state: dict[str, Running]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps({k: asdict(v) for k, v in state.items()}, indent=2) + "\n")
    os.replace(tmp, path)


def spawn(argv: list[str], env: dict[str, str], log: Path, cwd: Path) -> Running:
    """A long-running service in a new session (a terminal's Ctrl-C does not reach it), output to `log`."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as out:
        proc = subprocess.Popen(argv, env=env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)
    return Running(proc.pid, psutil.Process(proc.pid).create_time(), str(log))


def tail(log: str | Path, lines: int = 5) -> str:
    path = Path(log)
    if not path.is_file():
        return ""
    return " | ".join(path.read_text(errors="replace").strip().splitlines()[-lines:])


def http_ok(url: str, headers: dict[str, str] | None = None, timeout: float = 3) -> bool:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers or {}), timeout=timeout) as r:
            return 200 <= r.status < 300
    except (urllib.error.URLError, OSError, ValueError):
        return False


def wait_until(ready: Callable[[], bool], what: str, running: Running, timeout: float) -> float:
    """Seconds until `ready()`; a one-line error if the process dies or the time runs out."""
    start = time.monotonic()
    while not ready():
        if not running.alive():
            raise StackError(f"{what}: the process exited before it answered; its log says: {tail(running.log)}")
        if time.monotonic() - start > timeout:
            raise StackError(f"{what}: no answer within {timeout:.0f}s; see {running.log} ({tail(running.log, 2)})")
        time.sleep(0.5)
    return time.monotonic() - start


def _tree(pid: int) -> list[psutil.Process]:
    try:
        root = psutil.Process(pid)
        return [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def stop(running: Running, grace: float = 20) -> None:
    """SIGTERM to the service, its group and its descendants; SIGKILL after `grace` seconds."""
    if not running.alive():
        return
    tree = _tree(running.pid)
    groups = {running.pid}
    for process in tree:
        with contextlib.suppress(ProcessLookupError):
            groups.add(os.getpgid(process.pid))
    for group in groups:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(group, signal.SIGTERM)
    _, left = psutil.wait_procs(tree, timeout=grace)
    for process in left:
        with contextlib.suppress(psutil.NoSuchProcess):
            process.kill()
    psutil.wait_procs(left, timeout=10)
