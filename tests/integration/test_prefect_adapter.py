"""`flows.prefect_adapter`, the flows' one use of Prefect below its public API, against the installed Prefect.

Version guard: the adapter copies `ProcessPoolTaskRunner.__enter__` with one change (a fork server's context for the
spawn context Prefect builds there); if a Prefect release changes that method, the first test fails here, not a
user's run. The second runs real flows on the pool (a Prefect API, workers, a fork server): a task runs in a worker
forked from the fork server with the preload done, in the environment of the process that opened the pool."""

from __future__ import annotations

import hashlib
import inspect
import json
import textwrap

import prefect
import pytest
from prefect.task_runners import ProcessPoolTaskRunner

from tests.projects import python_child

# sha256 of `inspect.getsource(ProcessPoolTaskRunner.__enter__)` in the Prefect the adapter was written against.
PREFECT_ENTER = {"3.8.8": "eb31e0a0ffc281a4efcd2a6c8d57af7bae8e372c9a870ddaf64ec927451376b7"}


def test_the_adapter_copies_the_installed_prefects_pool_start():
    digest = hashlib.sha256(inspect.getsource(ProcessPoolTaskRunner.__enter__).encode()).hexdigest()
    assert PREFECT_ENTER.get(prefect.__version__) == digest, (
        f"Prefect {prefect.__version__} starts its process pool differently ({digest}): compare "
        "ProcessPoolTaskRunner.__enter__ with flows/prefect_adapter.PreloadedProcessPool.__enter__, carry the change "
        "over, and record the digest here")


CHILD = textwrap.dedent("""
    import json, os, sys
    from prefect import flow, task
    from flows.prefect_adapter import PRELOAD, PreloadedProcessPool

    @task
    def look() -> dict:
        return {"pid": os.getpid(), "parent": os.getppid(), "preloaded": [m for m in PRELOAD if m in sys.modules],
                "kept": os.environ.get("CLEARGATE_TEST_KEPT"), "removed": os.environ.get("CLEARGATE_TEST_REMOVED")}

    @flow(task_runner=PreloadedProcessPool(2))
    def twice() -> list:
        return [f.result() for f in [look.submit(), look.submit()]]

    os.environ["CLEARGATE_TEST_REMOVED"] = "set when the fork server started"
    first = twice()
    del os.environ["CLEARGATE_TEST_REMOVED"]
    os.environ["CLEARGATE_TEST_KEPT"] = "set after"
    second = twice()
    print(json.dumps({"me": os.getpid(), "first": first, "second": second}))
""")


@pytest.mark.slow
def test_workers_fork_from_one_preloaded_server_with_the_environment_of_the_pools_process(tmp_path):
    done = python_child(CHILD, timeout=300, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    tasks = seen["first"] + seen["second"]
    servers = {t["parent"] for t in tasks}
    assert len(servers) == 1 and seen["me"] not in servers, f"every worker forked by one fork server: {tasks}"
    assert len({t["pid"] for t in seen["first"]} | {t["pid"] for t in seen["second"]}) >= 2, tasks
    assert all(t["preloaded"] == ["prefect.task_engine", "flows.stage_task", "mlflow", "skops.io", "pandas"]
               for t in tasks), "imported before the first task, by the fork server"
    assert all(t["removed"] == "set when the fork server started" for t in seen["first"]), seen["first"]
    assert all(t["removed"] is None and t["kept"] == "set after" for t in seen["second"]), seen["second"]
