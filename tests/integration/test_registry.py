"""Promotion, rollback and the champion history on a real SQLite MLflow store."""

import json
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cleargate.cli import app
from cleargate.errors import CleargateError
from cleargate.records import Check, GateReport
from cleargate.release.promotion import register_judged
from cleargate.tracking import registry
from cleargate.tracking.promotion_lock import PromotionLock, promotion_lock
from tests.projects import ROOT, sqlite_store, tiny_params, write_params

NAME = "digits-classifier"


@pytest.fixture
def store(tmp_path: Path):
    return sqlite_store(tmp_path)


def verdict(passed: bool) -> GateReport:
    return GateReport(model="cnn", checks=(
        Check(name="accuracy", threshold=0.97, value=0.99 if passed else 0.9, passed=passed),
        Check(name="macro_f1", threshold=0.97, value=0.99, passed=True)))


def promote(client, source, digest, passed=True, seen=None):
    def judge(champion):
        if seen is not None:
            seen.append(champion)
        return verdict(passed)

    return register_judged(client, NAME, source.as_uri(), None, {"model": "cnn"}, judge, digest)


def test_first_promotion_then_non_inferior_then_blocked_regression_then_identical(store):
    _, client, source = store
    seen: list = []
    first = promote(client, source, "d1", seen=seen)
    assert (first.version, first.champion, first.moved, first.previous_champion) == ("1", "1", True, None)
    second = promote(client, source, "d2", seen=seen)
    assert (second.champion, second.previous_champion) == ("2", "1")
    assert seen == [None, "1"], "the judge sees the champion of the moment"

    blocked = promote(client, source, "d3", passed=False)
    assert not blocked.moved and blocked.reason == "failed gate(s): accuracy"
    assert registry.alias_version(client, NAME, "champion") == "2"
    assert registry.alias_version(client, NAME, "challenger") == "3"
    tags = client.get_model_version(NAME, "3").tags
    assert tags["gate.passed"] == "false" and tags["gate.accuracy"] == "fail" and tags["gate.accuracy.value"] == "0.9"

    same = promote(client, source, "d2")
    assert not same.moved and same.reason == "identical to champion v2"
    assert registry.alias_version(client, NAME, "champion") == "2"
    assert [e["version"] for e in registry.history(client, NAME)] == ["1", "2"]


def test_rollback_walks_back_through_the_history(store):
    _, client, source = store
    for digest in ("a", "b", "c"):
        promote(client, source, digest)
    assert registry.rollback(client, NAME) == "2"
    assert registry.rollback(client, NAME) == "1"
    with pytest.raises(CleargateError, match="no earlier champion"):
        registry.rollback(client, NAME)
    actions = [(e["action"], e["version"]) for e in registry.history(client, NAME)]
    assert actions == [("gate", "1"), ("gate", "2"), ("gate", "3"), ("rollback", "2"), ("rollback", "1")]


def test_cli_promote_is_gated_force_needs_a_reason_and_rollback_loads(store, tmp_path: Path):
    uri, client, source = store
    params = tiny_params()
    params["tracking"]["uri"] = uri
    params_path = write_params(tmp_path / "params.yaml", params)
    promote(client, source, "a")
    promote(client, source, "b", passed=False)
    runner = CliRunner()
    refused = runner.invoke(app, ["promote", f"{NAME}/2", "--params", str(params_path)])
    assert refused.exit_code == 2 and "gates did not pass" in refused.output
    no_reason = runner.invoke(app, ["promote", f"{NAME}/2", "--force", "--params", str(params_path)])
    assert no_reason.exit_code == 2 and "--force needs --reason" in no_reason.output
    forced = runner.invoke(app, ["promote", f"{NAME}/2", "--force", "--reason", "hotfix", "--params", str(params_path)])
    assert forced.exit_code == 0, forced.output
    assert registry.history(client, NAME)[-1]["action"] == "forced"
    back = runner.invoke(app, ["rollback", NAME, "--params", str(params_path)])
    assert back.exit_code == 0 and "rolled back to v1" in back.output
    status = runner.invoke(app, ["status", NAME, "--params", str(params_path)])
    assert "champion=v1" in status.output and "rollback" in status.output


def spawn(uri: str, digest: str, pause: float, source: Path, *extra: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "tests.integration.promoter", uri, NAME, digest, str(pause),
                             str(source), *extra], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


@pytest.mark.slow
def test_two_processes_promoting_at_once_leave_one_champion_and_a_chained_history(store):
    uri, client, source = store
    promote(client, source, "base")
    procs = [spawn(uri, f"p{i}", 1.0, source) for i in range(2)]
    outputs = [p.communicate(timeout=120) for p in procs]
    assert all(p.returncode == 0 for p in procs), outputs
    events = registry.history(client, NAME)
    assert len(events) == 3
    assert events[1]["previous"] == events[0]["version"] and events[2]["previous"] == events[1]["version"]
    assert registry.alias_version(client, NAME, "champion") == events[2]["version"]
    assert [m.name for m in client.search_registered_models()] == [NAME], "the registry lists models only"
    assert not [e for e in client.search_experiments() if ".promotion-lock." in e.name], "no lock left shown"
    assert len(PromotionLock(client, NAME).generations()) == 3, "one generation per promotion, released (deleted)"


@pytest.mark.slow
def test_a_killed_promotion_never_leaves_champion_missing(store):
    uri, client, source = store
    promote(client, source, "base")
    for delay in (0.0, 0.5, 1.5, 2.5):
        proc = spawn(uri, f"k{delay}", 1.0, source)
        assert proc.stdout.readline().strip() == "START"
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        champion = registry.alias_version(client, NAME, "champion")
        assert champion is not None
        client.get_model_version(NAME, champion)  # a real version
    after = promote(client, source, "final")  # a dead holder's lock is taken over, not waited out
    assert after.moved and registry.alias_version(client, NAME, "champion") == after.version


@pytest.mark.slow
def test_killed_between_alias_switch_and_history_write(store):
    """The worst moment: champion already moved, its history entry not written. Champion is the new,
    valid version; rollback still finds the old one through the version's `previous_champion` tag."""
    uri, client, source = store
    promote(client, source, "base")
    proc = spawn(uri, "new", 0.0, source, "pause-before-history")
    assert proc.stdout.readline().strip() == "START"
    assert proc.stdout.readline().strip() == "ALIAS_SET"
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert registry.alias_version(client, NAME, "champion") == "2"
    assert [e["version"] for e in registry.history(client, NAME)] == ["1"], "the entry for v2 was lost"
    assert registry.rollback(client, NAME) == "1"
    assert registry.alias_version(client, NAME, "champion") == "1"
    assert promote(client, source, "after").moved, "the dead process's lock does not block the next promotion"


def test_history_is_one_small_record_per_move_and_reads_the_legacy_tag(store):
    _, client, source = store
    registry.ensure_registered_model(client, NAME)
    legacy = [{"version": "7", "previous": None, "action": "gate", "reason": "", "at": "2025-01-01T00:00:00+00:00"}]
    client.set_registered_model_tag(NAME, registry.LEGACY_HISTORY_TAG, json.dumps(legacy))
    for digest in ("a", "b"):
        promote(client, source, digest)
    registry.set_champion(client, NAME, "1", "forced", "x" * 10_000)  # a long reason: the record stays small
    assert [e["version"] for e in registry.history(client, NAME)] == ["7", "1", "2", "1"]
    moves = {k: v for k, v in client.get_registered_model(NAME).tags.items() if k.startswith(registry.MOVE_TAG)}
    assert sorted(moves) == [f"{registry.MOVE_TAG}{i:06d}" for i in (1, 2, 3)]
    assert max(len(v) for v in moves.values()) < 500


def test_the_lease_is_renewed_while_a_slow_judge_holds_the_lock(store):
    """A holder working three times longer than its lease keeps the lock; the rival gets it after release."""
    _, client, _ = store
    registry.ensure_registered_model(client, NAME)
    released_at: list[float] = []
    acquired_at: list[float] = []

    def holder():
        with promotion_lock(client, NAME, lease_seconds=1.0):
            time.sleep(3.0)
            released_at.append(time.monotonic())

    thread = threading.Thread(target=holder)
    thread.start()
    time.sleep(0.5)
    with promotion_lock(client, NAME, wait_seconds=30, lease_seconds=1.0):
        acquired_at.append(time.monotonic())
    thread.join()
    assert acquired_at[0] >= released_at[0], "the rival took over a lock whose holder was still working"


def test_a_lost_lease_is_detected_before_the_alias_switch(store):
    """A holder that stalled past its lease (no renewal) has been replaced: check() refuses to go on, and a
    waiter acting on its old reading cannot take the new holder's lock from it."""
    _, client, _ = store
    registry.ensure_registered_model(client, NAME)
    stalled = PromotionLock(client, NAME, lease_seconds=0.5)
    stalled.acquire(wait_seconds=5)
    stalled._stop.set()  # the renewal thread stops, as in a process frozen by the OS
    stalled._renewer.join()
    time.sleep(1.0)
    fresh = PromotionLock(client, NAME, lease_seconds=30)
    fresh.acquire(wait_seconds=5)
    with pytest.raises(CleargateError, match="lease ran out"):
        stalled.check()
    late = PromotionLock(client, NAME, lease_seconds=30)
    assert not late.try_acquire(), "the fresh holder's generation is not free"
    fresh.check()  # still the holder
    fresh.release()
    assert late.try_acquire()
    late.release()
