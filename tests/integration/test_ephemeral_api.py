"""`flows.ephemeral_api`: Prefect's temporary API server started early, used, and stopped by its pid; and DVC's
status asked with each params file parsed once (`flows.dvc_state`)."""

from __future__ import annotations

import os
import ssl
import threading
from pathlib import Path

import httpx
import psutil
import pytest
import yaml
from flows import dvc_state, ephemeral_api
from flows.ephemeral_api import EphemeralApi
from prefect.settings import PREFECT_API_SSL_CERT_FILE, PREFECT_API_URL


def test_a_configured_server_is_left_alone(monkeypatch):
    monkeypatch.setenv("PREFECT_API_URL", "http://127.0.0.1:9/api")
    from prefect.settings import temporary_settings

    with temporary_settings(updates={PREFECT_API_URL: "http://127.0.0.1:9/api"}), EphemeralApi() as api:
        api.ready()
        assert not api.needed and api.server is None
        assert os.environ["PREFECT_API_URL"] == "http://127.0.0.1:9/api"


@pytest.mark.slow
def test_the_server_starts_serves_flows_and_stops_by_its_pid(monkeypatch, no_prefect_api):
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    monkeypatch.setattr(ephemeral_api, "_prefect_server_running", lambda: False)
    monkeypatch.setattr(ephemeral_api, "_SERVER", None)
    from prefect import flow

    @flow
    def hello() -> str:
        return "ran"

    with EphemeralApi() as api:
        assert api.needed and api.server is not None
        api.ready()
        url = api.server.url
        assert os.environ["PREFECT_API_URL"] == url and PREFECT_API_URL.value() == url
        assert httpx.get(f"{url}/health").status_code == 200
        ca_file = Path(os.environ["PREFECT_API_SSL_CERT_FILE"])  # one certificate, not certifi's ~140
        assert ca_file.read_text().count("BEGIN CERTIFICATE") == 1 and PREFECT_API_SSL_CERT_FILE.value() == str(ca_file)
        ssl.create_default_context(cafile=str(ca_file))  # a bundle Prefect's clients can load
        assert hello() == "ran"
        runs = httpx.post(f"{url}/flow_runs/filter", json={"limit": 5}).json()
        assert any(run["name"] and run["state"]["type"] == "COMPLETED" for run in runs)
        seen: list[str] = []  # a new thread has no settings context, like Prefect's own workers
        thread = threading.Thread(target=lambda: seen.append(PREFECT_API_URL.value()))
        thread.start()
        thread.join()
        assert seen == [url]
        before = _other_prefect_servers(api.server.process.pid)  # e.g. Prefect's own, from an earlier test
        assert pooled() == 4
        assert _other_prefect_servers(api.server.process.pid) == before  # its forwarder and workers used ours
    assert "PREFECT_API_URL" not in os.environ and PREFECT_API_URL.value() != url
    assert "PREFECT_API_SSL_CERT_FILE" not in os.environ and not ca_file.exists()
    with EphemeralApi() as again:  # a later run in the same process reuses it
        assert again.server is api.server
    server = api.server
    server.stop()
    assert server.process.poll() is not None
    with pytest.raises(ProcessLookupError):
        os.kill(server.process.pid, 0)


@pytest.mark.slow
def test_a_server_launched_before_prefect_is_imported_is_the_one_the_run_uses(monkeypatch, no_prefect_api):
    """`python flows/pipeline.py` launches it first thing (`launch_early`), beside its own imports."""
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    monkeypatch.setattr(ephemeral_api, "_prefect_server_running", lambda: False)
    monkeypatch.setattr(ephemeral_api, "_SERVER", None)
    ephemeral_api.launch_early()
    early = ephemeral_api._SERVER
    assert early is not None and early.early and early.process.poll() is None
    try:
        with EphemeralApi() as api:
            assert api.server is early and not early.early  # used, not a second one
            api.ready()
            assert httpx.get(f"{early.url}/health").status_code == 200
            ephemeral_api.launch_early()  # a second call launches nothing
            assert ephemeral_api._SERVER is early
    finally:
        early.stop()


def test_a_server_launched_early_is_stopped_where_the_settings_name_another_api(monkeypatch, no_prefect_api):
    from prefect.settings import temporary_settings

    monkeypatch.setattr(ephemeral_api, "_SERVER", None)
    monkeypatch.setenv("PREFECT_API_URL", "http://127.0.0.1:9/api")
    ephemeral_api.launch_early()
    assert ephemeral_api._SERVER is None  # the environment names an API: nothing launched
    monkeypatch.delenv("PREFECT_API_URL")
    ephemeral_api.launch_early()
    early = ephemeral_api._SERVER
    assert early is not None
    try:  # e.g. a profile's PREFECT_API_URL, read once Prefect is imported
        with temporary_settings(updates={PREFECT_API_URL: "http://127.0.0.1:9/api"}), EphemeralApi() as api:
            assert not api.needed and api.server is None
        assert ephemeral_api._SERVER is None
        assert early.process.poll() is not None  # stopped by its pid
    finally:
        early.stop()


def _other_prefect_servers(ours: int) -> list[str]:
    """Prefect API servers this process started besides `ours` (Prefect starts one of its own where a thread
    finds no API URL, and keeps it for the life of the process)."""
    found = []
    for child in psutil.Process().children(recursive=True):
        try:
            command = " ".join(child.cmdline())
        except psutil.Error:  # gone meanwhile
            continue
        if child.pid != ours and "prefect.server.api.server" in command:
            found.append(f"{child.pid}: {command[:120]}")
    return found


def pooled() -> int:
    """A flow whose task runs in a worker process: the pool's message forwarder (a thread of this process)
    sends the worker's events and logs on."""
    from prefect import flow, task
    from prefect.task_runners import ProcessPoolTaskRunner

    @task
    def double(x: int) -> int:
        return 2 * x

    @flow(task_runner=ProcessPoolTaskRunner(max_workers=1))
    def in_a_worker() -> int:
        return double.submit(2).result()

    return in_a_worker()


def test_dvc_reads_each_params_file_once_while_asked(tmp_path: Path, monkeypatch):
    from dvc.dependency import param
    from dvc.fs import LocalFileSystem

    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump({"a": {"b": [1, 2]}, "c": 3}))
    original, calls = param.load_path, []
    monkeypatch.setattr(param, "load_path", lambda *a, **k: calls.append(a) or original(*a, **k))
    patched = param.load_path
    fs = LocalFileSystem()
    with dvc_state._params_read_once():
        first = param.load_path(str(path), fs)
        first["a"]["b"].append(99)  # a stage's copy is its own
        second = param.load_path(str(path), fs)
    assert second == {"a": {"b": [1, 2]}, "c": 3} and len(calls) == 1
    assert param.load_path is patched  # put back as it was


def test_a_prefetched_answer_is_taken_once(tmp_path: Path, monkeypatch):
    asked = []
    monkeypatch.setattr(dvc_state, "_ask",
                        lambda root: asked.append(root) or dvc_state.Staleness({f"s{len(asked)}"}, {}))
    dvc_state.prefetch(tmp_path)
    assert dvc_state.staleness(tmp_path).stale == {"s1"}  # the prefetched answer
    assert dvc_state.staleness(tmp_path).stale == {"s2"}  # then DVC is asked again
    assert len(asked) == 2
