"""The alias follower against a registry that moves: a new version swapped in only once it loaded, a rollback served
from the versions kept loaded, a broken version refused once (again after a webhook), a registry that stops
answering leaving the loaded version serving. The registry and the loading are stand-ins; the server's own tests
(tests/e2e/test_online_serving.py) run the real ones."""

from __future__ import annotations

import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from cleargate.params import load_project
from cleargate.serving import model_follower
from cleargate.serving.model_follower import Follower, Loaded, VersionRefused
from tests.projects import ROOT


class Registry:
    def __init__(self) -> None:
        self.aliases = {"champion": "1", "challenger": "2"}
        self.down = False

    def get_registered_model(self, name: str):
        if self.down:
            raise ConnectionError("connection refused")
        return SimpleNamespace(aliases=dict(self.aliases))

    def get_model_version(self, name: str, version: str):
        return SimpleNamespace(tags={"lineage.git_commit": f"c{version}"}, run_id=f"run{version}")


@pytest.fixture
def follower(tmp_path: Path, monkeypatch):
    loads: list[str] = []

    def load(name, version, data, folder, commit, run_id):
        loads.append(version)
        if version == "9":
            raise VersionRefused("does not load (BadZipFile: File is not a zip file)")
        return Loaded(name, version, None, None, folder, run_id, commit, "now", 0.1)

    monkeypatch.setattr(model_follower, "load_version", load)
    events: dict[str, list] = {"swaps": [], "refused": [], "errors": []}
    data = load_project(ROOT / "params.yaml").scope("breast_cancer").dataset
    registry = Registry()
    found = Follower(registry, "m", data, ["champion", "challenger"], 0.05, tmp_path,
                     on_swap=lambda alias, old, new: events["swaps"].append((alias, old and old.version, new.version)),
                     on_refused=lambda r: events["refused"].append(r),
                     on_registry_error=lambda reason: events["errors"].append(reason))
    return found, registry, loads, events


def test_an_alias_that_moved_is_swapped_in_and_a_rollback_needs_no_load(follower):
    found, registry, loads, events = follower
    found.refresh()
    first = found.get("champion")
    assert (first.version, found.get("challenger").version, first.commit) == ("1", "2", "c1")
    registry.aliases["champion"] = "2"
    found.refresh()
    assert found.get("champion") is found.get("challenger"), "the version the shadow holds: no second load"
    assert first.version == "1", "what a request holds stays its version"
    registry.aliases["champion"] = "1"
    found.refresh()
    assert found.get("champion") is first and loads == ["1", "2"], "the rollback came from the versions kept"
    assert events["swaps"] == [("champion", None, "1"), ("challenger", None, "2"), ("champion", "1", "2"),
                               ("champion", "2", "1")]


def test_a_broken_version_is_refused_once_and_tried_again_after_a_webhook(follower):
    found, registry, loads, events = follower
    found.refresh()
    registry.aliases["champion"] = "9"
    found.refresh()
    found.refresh()
    assert found.get("champion").version == "1" and loads.count("9") == 1
    [refused] = events["refused"]
    assert (refused.alias, refused.version, refused.kept) == ("champion", "9", "1")
    assert refused.reason.startswith("does not load") and found.refused_total == 1
    found.wake()
    found.refresh("webhook")
    assert loads.count("9") == 2 and found.resolutions["webhook"] == 1


def test_a_registry_that_stops_answering_leaves_the_loaded_version_serving(follower):
    found, registry, loads, events = follower
    found.refresh()
    registry.down = True
    found.refresh()
    found.refresh()
    assert found.get("champion").version == "1" and len(events["errors"]) == 1, "said once per outage"
    registry.down = False
    registry.aliases["champion"] = "2"
    found.refresh()
    assert found.get("champion").version == "2"


def test_the_thread_re_resolves_on_its_poll_and_at_once_when_woken(follower):
    found, registry, loads, events = follower
    found.refresh()
    found.poll_s = 3600
    found.start()
    try:
        registry.aliases["champion"] = "2"
        found.wake()
        deadline = time.monotonic() + 10
        while found.get("champion").version != "2" and time.monotonic() < deadline:
            time.sleep(0.01)
        assert found.get("champion").version == "2" and found.resolutions["webhook"] >= 1
    finally:
        found.stop()
