"""`make serve` on a bare project: a local Prefect server (SQLite under the project), both deployments served,
a cron schedule that really creates and completes a run, and Ctrl-C that leaves no process behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psutil
import pytest

from cleargate.processes import free_ports
from tests.projects import make_project, tiny_params

DATASET = "breast_cancer"

VENV = Path(sys.executable).parent.parent


def wait_for_line(proc: subprocess.Popen, text: str, timeout: float, seen: list[str]) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line and proc.poll() is not None:
            break
        seen.append(line)
        if text in line:
            return
    raise AssertionError(f"no '{text}' within {timeout:.0f}s: {''.join(seen)[-3000:]}")


def scheduled_runs(api: str, deployment: str) -> list[dict]:
    """The flow runs of `deployment`; fails if the server does not know it (`cleargate serve` registers both
    deployments before its Ctrl-C line)."""
    with httpx.Client(base_url=api, timeout=10) as client:
        flow, name = deployment.split("/")
        found = client.get(f"/deployments/name/{flow}/{name}")
        assert found.status_code != 404, f"{deployment} is not registered, yet `cleargate serve` said it serves it"
        found.raise_for_status()
        runs = client.post("/flow_runs/filter", json={"flow_runs": {"deployment_id": {"any_": [found.json()["id"]]}}})
        runs.raise_for_status()
        return runs.json()


@pytest.mark.slow
def test_make_serve_schedules_runs_that_complete_and_ctrl_c_stops_everything(tmp_path: Path, capsys):
    params = tiny_params(DATASET, digits=False)
    params["schedules"]["monitor"]["cron"] = "* * * * *"   # every minute: the scheduler must create a run
    project = make_project(tmp_path, params)
    (port,) = free_ports(1)
    env = {**os.environ, "PREFECT_SERVER_API_PORT": str(port)}
    for key in ("PREFECT_API_URL", "PREFECT_HOME", "MLFLOW_TRACKING_URI"):
        env.pop(key, None)
    start = time.monotonic()
    proc = subprocess.Popen(["make", "serve", f"VENV={VENV}", "-o", f"{VENV}/.installed"], cwd=project, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    seen: list[str] = []
    try:
        wait_for_line(proc, "Ctrl-C stops", 300, seen)
        served = time.monotonic() - start
        output = "".join(seen)
        assert "serving cleargate-pipeline/nightly: cron '0 2 * * *'" in output
        assert "serving cleargate-monitor/hourly: cron '* * * * *'" in output
        assert (project / ".prefect" / "prefect.db").is_file(), "SQLite under the project's Prefect home"
        api = f"http://127.0.0.1:{port}/api"
        deadline, completed, runs = time.monotonic() + 240, [], []
        while not completed and time.monotonic() < deadline:
            runs = scheduled_runs(api, "cleargate-monitor/hourly")
            completed = [r for r in runs if r["state_type"] == "COMPLETED" and r["auto_scheduled"]]
            if not completed:
                time.sleep(1)
        assert completed, f"no scheduled run completed: {[(r['state_type'], r['auto_scheduled']) for r in runs]}"
        cron_seconds = time.monotonic() - start
        tree = [psutil.Process(proc.pid), *psutil.Process(proc.pid).children(recursive=True)]
    finally:
        os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C on the terminal sends to the foreground group
        rest, _ = proc.communicate(timeout=120)
    assert proc.returncode in (0, -signal.SIGINT), rest[-3000:]  # make re-raises the interrupt it received
    assert "prefect server: stopped" in rest and "Traceback" not in "".join(seen) + rest, rest[-3000:]
    gone, alive = psutil.wait_procs(tree, timeout=30)
    assert not alive, f"left running after Ctrl-C: {[p.cmdline() for p in alive]}"
    with capsys.disabled():
        print(f"\n[figure] make serve: serving after {served:.1f} s; first cron run completed after "
              f"{cron_seconds:.1f} s")
