"""The team stack, started once for the tests of this package (`python -m infra.stack up`, as `make stack-up` does)
on free loopback ports, for every test that needs real servers; stopped after the last of them, and checked to leave
no process behind.

Its project is a copy of the golden breast-cancer project, trained on the embedded default (SQLite) and then
pointed at the fresh stack, as a team moving onto it does; its params.yaml sends every notification to a real
HTTP receiver on loopback (`tests/receiver.py`), started before the stack so the automations know its address."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psutil
import pytest
import yaml

from cleargate.processes import free_ports
from tests.projects import CLEARGATE, GoldenProject
from tests.servers import Receiver

DATASET = "breast_cancer"
MODEL = "breast-cancer-classifier"
OTHER_MODELS = "pg-"   # test_registry_postgres's models, on the same stack


def reachable_dir(prefix: str) -> Path:
    """A folder PostgreSQL's unprivileged user can enter (pytest's own tmp is mode 700 under root)."""
    folder = Path(tempfile.mkdtemp(prefix=prefix, dir="/tmp"))
    folder.chmod(0o755)
    return folder


@dataclass
class Stack:
    project: Path
    dir: Path
    env: dict[str, str]      # os.environ + STACK_* (what `make stack-up` sees)
    up_output: str
    up_seconds: float
    receiver: Receiver       # where every notification of the stack's project goes (POST /hook)

    @property
    def client_env(self) -> dict[str, str]:
        """os.environ plus the export lines of .stack/env (what `source .stack/env` gives a shell)."""
        exported = dict(line.removeprefix("export ").split("=", 1) for line in (self.dir / "env").read_text()
                        .splitlines() if line.startswith("export "))
        return {**self.env, **exported}

    @property
    def mlflow_uri(self) -> str:
        return self.client_env["MLFLOW_TRACKING_URI"]

    @property
    def prefect_api(self) -> str:
        return self.client_env["PREFECT_API_URL"]

    def cron(self, deployment: str) -> str:
        """params.yaml's cron of `deployment` (pipeline or monitor) for the stack's project."""
        return yaml.safe_load((self.project / "params.yaml").read_text())["schedules"][deployment]["cron"]

    @property
    def model_server(self) -> str:
        """The online server the stack runs for MODEL (params.yaml `serving.stack`)."""
        params = yaml.safe_load((self.project / "params.yaml").read_text())
        return f"http://127.0.0.1:{params['serving']['stack'][MODEL]['port']}"

    def notified(self, since: float, expected: int = 0, timeout: float = 0.0) -> list[dict]:
        """The POSTs to the receiver's /hook since `since` (waiting up to `timeout` s for `expected` of them) about
        this stack's project: test_registry_postgres registers models of its own (`pg-*`) on the same server, and
        their moves are told too, possibly after those tests ended."""
        def ours(post: dict) -> bool:
            return not str((post.get("json") or {}).get("model", "")).startswith(OTHER_MODELS)

        if expected:
            self.receiver.wait_for(expected, timeout, "/hook", since, where=ours)
        return [p for p in self.receiver.posts("/hook", since) if ours(p)]

    def stack(self, command: str, check: bool = True, timeout: float = 600) -> subprocess.CompletedProcess[str]:
        result = subprocess.run([CLEARGATE, "stack", command], cwd=self.project, env=self.env,
                                capture_output=True, text=True, timeout=timeout)
        if check:
            assert result.returncode == 0, f"stack {command}: {result.stdout[-3000:]}{result.stderr[-3000:]}"
        return result

    def processes(self) -> list[psutil.Process]:
        """Every process that belongs to this stack: started from its folders or serving its ports."""
        marks = (str(self.dir), str(self.project))
        found = []
        for process in psutil.process_iter(["pid", "cmdline", "cwd"]):
            try:
                text = " ".join(process.info["cmdline"] or []) + " " + (process.info["cwd"] or "")
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                continue
            if process.pid != os.getpid() and any(m in text for m in marks):
                found.append(process)
        return found


def start_stack(tmp: Path, golden: GoldenProject, extra_env: dict[str, str] | None = None) -> Stack:
    """`golden`'s copy on a fresh stack: every notification to a loopback receiver, its registered model served by
    the stack (following `champion`)."""
    project = golden.clone(tmp)
    receiver = Receiver(tmp / "receiver").start()
    pg, mlflow_port, prefect_port, relay_port, serving_port = free_ports(5)
    params = yaml.safe_load((project / "params.yaml").read_text())
    params["notifications"]["webhooks"] = [{"url": f"{receiver.uri}/hook", "format": "json"}]
    params["serving"].update(poll_s=1, stack={MODEL: {"alias": "champion", "port": serving_port}})
    # No scheduled run may start while the stack runs: the tests start every run themselves, and an hourly monitoring
    # run at hh:00 would score the batches a test dropped and start a retraining under its params. Both crons are
    # daily, at the minute that has just passed.
    passed = datetime.now(UTC) - timedelta(minutes=1)
    params["schedules"]["timezone"] = "UTC"
    for deployment in ("pipeline", "monitor"):
        params["schedules"][deployment]["cron"] = f"{passed.minute} {passed.hour} * * *"
    (project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    folder = reachable_dir("cleargate-stack-")
    env = {**os.environ, "STACK_DIR": str(folder), "STACK_PG_PORT": str(pg), "STACK_MLFLOW_PORT": str(mlflow_port),
           "STACK_PREFECT_PORT": str(prefect_port), "STACK_RELAY_PORT": str(relay_port), **(extra_env or {})}
    for key in ("MLFLOW_TRACKING_URI", "PREFECT_API_URL", "PREFECT_HOME"):
        env.pop(key, None)
    stack = Stack(project, folder, env, "", 0.0, receiver)
    start = time.monotonic()
    result = stack.stack("up", check=False)
    stack.up_output, stack.up_seconds = result.stdout + result.stderr, time.monotonic() - start
    if result.returncode != 0:
        stop_stack(stack)
        pytest.fail(f"stack up failed: {stack.up_output[-4000:]}")
    return stack


def stop_stack(stack: Stack) -> list[str]:
    """stack down, then whatever still runs from the stack's folders (a test that failed midway) by pid; returns
    what the down left behind, for the caller to assert on."""
    stack.stack("down", check=False)
    time.sleep(1)
    left = [f"{p.pid}: {' '.join(p.cmdline())[:120]}" for p in stack.processes() if p.is_running()]
    for process in stack.processes():
        with contextlib.suppress(psutil.NoSuchProcess):
            process.kill()
    stack.receiver.stop()
    keep = os.environ.get("CLEARGATE_KEEP_STACK_LOGS")   # a folder: the servers' logs are copied there first
    if keep:
        shutil.copytree(stack.dir, Path(keep) / stack.dir.name, ignore=shutil.ignore_patterns("pg*", "mlartifacts"),
                        dirs_exist_ok=True)
    shutil.rmtree(stack.dir, ignore_errors=True)
    return left


@pytest.fixture(scope="package")
def stack(tmp_path_factory: pytest.TempPathFactory, golden_records: GoldenProject):
    """The team stack, started once for tests/ops (one xdist worker runs them all, `scope_of`) and stopped as soon as
    they are done: its servers, worker and model server do not idle beside the rest of the session."""
    started = start_stack(tmp_path_factory.mktemp("stack"), golden_records)
    yield started
    left = stop_stack(started)
    assert not left, f"stack down left processes running: {left}"
