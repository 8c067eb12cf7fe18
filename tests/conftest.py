"""The suite's shared set-up: real local components only, each started once where a test does not need its own.

- Each test process (an xdist worker) gets its share of the cores (`cleargate.runtime.CLEARGATE_CPUS`), so the
  fits of two workers never oversubscribe the machine, and one Prefect API server of its own (PREFECT_API_URL)
  that its flows and the pipeline commands it starts talk to (tests of Prefect's temporary server unset it).
- Golden projects (tests/projects.py) are built once per session and copied for each test that needs one.
- Heavy modules start first (tests/durations.json), so the long ones do not form a tail; the terminal summary
  lists the seconds each module took.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest

from cleargate.runtime import CPUS_ENV, apply_offline_env, available_cpus, limit_threads
from tests.projects import ROOT, GoldenProject, golden, make_project, tiny_params, write_params
from tests.servers import PrefectServer

DURATIONS = Path(__file__).parent / "durations.json"   # seconds per module, from a whole run (--durations-file)
UNKNOWN_MODULE_S = 20.0                                # a module not in the file yet: scheduled as a middling one
_PREFECT: PrefectServer | None = None


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--record-durations", action="store_true",
                     help="write the seconds each test module took to tests/durations.json (scheduling order)")


def pytest_configure(config: pytest.Config) -> None:
    apply_offline_env()
    os.environ.pop("MLFLOW_TRACKING_URI", None)
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    # One Prefect home per test process: two servers never share one SQLite file.
    home = os.environ.get("PREFECT_HOME", str(ROOT / ".prefect"))
    os.environ["PREFECT_HOME"] = f"{home}-{worker}" if worker else home
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "600")
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
    controller = not worker and bool(getattr(config.option, "numprocesses", None))  # xdist's, runs no test
    if not controller:  # a test process: its share of the cores, and its Prefect API
        share = max(1, available_cpus() // workers)
        limit_threads(share)
        os.environ[CPUS_ENV] = str(share)
        _launch_prefect(Path(os.environ["PREFECT_HOME"]))


def pytest_unconfigure(config: pytest.Config) -> None:
    if _PREFECT is not None:
        _PREFECT.stop()


def _launch_prefect(home: Path) -> None:
    """Start this process's Prefect server now (before any test module imports Prefect, which reads
    PREFECT_API_URL once); the first test that needs it waits for it (`prefect_api`)."""
    global _PREFECT
    _PREFECT = PrefectServer(home / "server").launch()
    os.environ["PREFECT_API_URL"] = _PREFECT.api_url


@pytest.fixture(scope="session")
def prefect_api() -> str:
    """This test process's Prefect API, answering (its flows and the commands it starts use it)."""
    assert _PREFECT is not None, "no Prefect server in this process"
    _PREFECT.wait(timeout=300)
    return _PREFECT.api_url


@pytest.fixture(autouse=True)
def _prefect_ready(request: pytest.FixtureRequest) -> None:
    """Tests that may run a flow wait for the process's Prefect server; unit and data tests do not."""
    if Path(str(request.node.path)).parent.name not in ("unit", "data"):
        request.getfixturevalue("prefect_api")


@pytest.hookimpl(optionalhook=True)  # pytest-xdist's hook: unknown where xdist is not installed
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """How `make test` shares the tests between its xdist workers: a module's tests stay together (a
    module-scoped fixture is built once) and every test of the team stack (tests/ops) runs in one worker, so the
    session's stack starts once. Modules go out in the order of `pytest_collection_modifyitems`: longest first."""
    from xdist.scheduler import LoadScopeScheduling

    config.option.loadscopereorder = False  # keep our order (xdist's own puts modules with many tests first)

    class ModuleScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return scope_of(nodeid)

    return ModuleScheduling(config, log)


def scope_of(nodeid: str) -> str:
    module = nodeid.split("::", 1)[0]
    return "tests/ops" if module.startswith("tests/ops/") else module


# fixtures that train a project or start the team stack: minutes, so a test that uses one (directly or through
# another fixture) is `slow`, and `make test-fast` never pays for them
HEAVY_FIXTURES = frozenset({"stack", "golden_digits", "golden_records", "golden_mixed"})


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Longest scope first (seconds from tests/durations.json), so the long poles start at once and the short
    modules fill in around them; the same order in every worker (xdist requires identical collections). A test
    that needs a heavy fixture without the `slow` mark stops the collection, naming it."""
    unmarked = [item.nodeid for item in items
                if HEAVY_FIXTURES & set(getattr(item, "fixturenames", ())) and item.get_closest_marker("slow") is None]
    if unmarked:
        raise pytest.UsageError(f"mark these tests slow (they train a golden project or start the team stack): "
                                f"{', '.join(unmarked)}")
    known = json.loads(DURATIONS.read_text()) if DURATIONS.is_file() else {}
    weight: dict[str, float] = defaultdict(float)
    for scope in {scope_of(item.nodeid) for item in items}:
        modules = [m for m in known if scope_of(m) == scope] or [scope]
        weight[scope] = sum(known.get(m, UNKNOWN_MODULE_S if "/unit/" not in m else 1.0) for m in modules)
    order = {id(item): i for i, item in enumerate(items)}
    items.sort(key=lambda item: (-weight[scope_of(item.nodeid)], order[id(item)]))


_MODULE_SECONDS: dict[str, float] = defaultdict(float)
_MODULE_TESTS: dict[str, int] = defaultdict(int)


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    module = report.nodeid.split("::", 1)[0]
    _MODULE_SECONDS[module] += report.duration
    if report.when == "call" or (report.when == "setup" and report.skipped):
        _MODULE_TESTS[module] += 1


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    """The seconds each module took (setup, call and teardown of its tests, summed over the workers), longest
    first; `--record-durations` writes them to tests/durations.json for the next run's order."""
    if not _MODULE_SECONDS or os.environ.get("PYTEST_XDIST_WORKER"):
        return
    rows = sorted(_MODULE_SECONDS.items(), key=lambda kv: -kv[1])
    terminalreporter.write_sep("=", f"seconds per test module (top 25 of {len(rows)})")
    for module, seconds in rows[:25]:
        terminalreporter.write_line(f"{seconds:8.1f} s  {_MODULE_TESTS[module]:4d} tests  {module}")
    terminalreporter.write_line(f"{sum(_MODULE_SECONDS.values()):8.1f} s  {sum(_MODULE_TESTS.values()):4d} tests  "
                                "in all (test time, all workers)")
    if config.getoption("--record-durations"):
        DURATIONS.write_text(json.dumps({m: round(s, 1) for m, s in sorted(_MODULE_SECONDS.items())}, indent=1)
                             + "\n")


@pytest.fixture(autouse=True)
def _isolate_mlflow_uri():
    """mlflow.set_tracking_uri/set_registry_uri keep the URI in a module global and export it; never let one
    test's store leak into the next (a client built with only a tracking URI reads the global registry URI).
    mlflow.set_experiment exports MLFLOW_EXPERIMENT_ID too, which every later subprocess of the worker would
    inherit: an experiment id of another test's store. (The in-process active experiment has no public reset: a
    test that starts runs by id sets its own, as the stages' `connect` does.)"""
    yield
    mlflow = sys.modules.get("mlflow")  # never imported: nothing to reset
    if mlflow is not None:
        mlflow.set_tracking_uri(None)
        mlflow.set_registry_uri(None)
    for key in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI", "MLFLOW_EXPERIMENT_ID"):
        os.environ.pop(key, None)


@pytest.fixture
def params_file(tmp_path: Path) -> Path:
    return write_params(tmp_path / "params.yaml", tiny_params())


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return make_project(tmp_path)


def _shared_folder(factory: pytest.TempPathFactory) -> Path:
    """A folder every worker of this session sees: the parent of the workers' own temporary folders."""
    base = factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


def _golden(name: str, factory: pytest.TempPathFactory) -> GoldenProject:
    started = time.monotonic()
    built = golden(name, _shared_folder(factory))
    waited = time.monotonic() - started
    if waited > 1:
        print(f"\n[golden] {name}: {built.seconds:.0f} s to build, waited {waited:.0f} s", file=sys.stderr)
    return built


@pytest.fixture(scope="session")
def golden_digits(tmp_path_factory: pytest.TempPathFactory, prefect_api: str) -> GoldenProject:
    """8x8 digits through the pipeline flow: a CNN champion, two tree baselines (tests/projects.py)."""
    return _golden("digits", tmp_path_factory)


@pytest.fixture(scope="session")
def golden_records(tmp_path_factory: pytest.TempPathFactory, prefect_api: str) -> GoldenProject:
    """Breast-cancer records through the pipeline flow, dvc.lock committed: two tree candidates."""
    return _golden("records", tmp_path_factory)


@pytest.fixture(scope="session")
def golden_mixed(tmp_path_factory: pytest.TempPathFactory, prefect_api: str) -> GoldenProject:
    """Rehab recordings (LSTM) and breast-cancer records (trees) through `dvc repro`, dvc.lock committed."""
    return _golden("mixed", tmp_path_factory)

