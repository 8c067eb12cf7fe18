"""`flows.prefect_server`: a run with no Prefect API configured starts its own with Prefect's command (`prefect server
start`), before Prefect is imported, so this process, its threads and its pool workers all use it; it is stopped by
its pid at the end. A configured API is left alone. And DVC's answer asked while the server starts is taken once."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import psutil
import pytest

from flows import dvc_adapter
from flows.prefect_server import TemporaryApi

CHILD = textwrap.dedent("""
    import json, os, sys
    from pathlib import Path
    import psutil
    from flows.prefect_server import TemporaryApi

    api = TemporaryApi(Path(sys.argv[1])).launch()   # before Prefect is imported
    from prefect import flow, task
    from prefect.task_runners import ProcessPoolTaskRunner

    @task
    def double(x: int) -> int:
        return 2 * x

    @flow(task_runner=ProcessPoolTaskRunner(max_workers=1))
    def in_a_worker() -> int:
        return double.submit(2).result()

    api.ready()
    server = api.server.pid
    result = in_a_worker()   # the pool's worker and Prefect's own threads talk to the same server
    others = [p.pid for p in psutil.Process().children(recursive=True)
              if p.pid != server and "server" in " ".join(p.cmdline()) and "prefect" in " ".join(p.cmdline())]
    url = os.environ["PREFECT_API_URL"]
    api.stop()
    print(json.dumps({"result": result, "url": url, "server": server, "others": others,
                      "after": os.environ.get("PREFECT_API_URL")}))
""")


@pytest.mark.slow
def test_a_run_without_an_api_starts_its_own_server_uses_it_everywhere_and_stops_it(tmp_path: Path):
    env = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"}
    done = subprocess.run([sys.executable, "-c", CHILD, str(tmp_path / "home")], env=env, capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen["result"] == 4 and seen["url"].startswith("http://127.0.0.1:") and seen["url"].endswith("/api")
    assert seen["others"] == [], "no second Prefect server: every thread and worker used the run's"
    assert seen["after"] is None, "the URL goes with the server"
    assert not psutil.pid_exists(seen["server"]), "stopped by its pid"
    assert (tmp_path / "home" / "prefect.db").is_file(), "its database under the run's Prefect home"


def test_a_configured_api_is_left_alone(tmp_path: Path, monkeypatch):
    monkeypatch.setenv("PREFECT_API_URL", "http://127.0.0.1:9/api")
    api = TemporaryApi(tmp_path).launch()
    api.ready()
    assert api.server is None and os.environ["PREFECT_API_URL"] == "http://127.0.0.1:9/api"


def test_a_server_launched_after_prefect_was_imported_is_refused(tmp_path: Path, monkeypatch):
    import prefect  # noqa: F401 - Prefect has read its settings: a URL set now would reach none of its threads

    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    with pytest.raises(RuntimeError, match="before Prefect is imported"):
        TemporaryApi(tmp_path).launch()


def test_a_prefetched_answer_is_taken_once(tmp_path: Path, monkeypatch):
    asked = []
    monkeypatch.setattr(dvc_adapter, "_ask",
                        lambda root: asked.append(root) or dvc_adapter.Staleness({f"s{len(asked)}"}, {}))
    dvc_adapter.prefetch(tmp_path)
    assert dvc_adapter.staleness(tmp_path).stale == {"s1"}  # the prefetched answer
    assert dvc_adapter.staleness(tmp_path).stale == {"s2"}  # then DVC is asked again
    assert len(asked) == 2
