"""A person's sign-off (`release.approval: required`) on a real SQLite MLflow store, through the `cleargate`
verbs: a passing candidate waits as `challenger`, `approve` moves `champion`, `reject` does not; both are in the
champion history and the model card; an undecided version times out; a moved champion needs a new judgement."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient
from typer.testing import CliRunner

from cleargate.cli import app
from cleargate.errors import CleargateError
from cleargate.records import Check, GateReport
from cleargate.release import approval
from cleargate.release.promotion import register_judged
from cleargate.tracking import registry
from tests.projects import sqlite_store, tiny_params, write_params

NAME = "digits-classifier"


@pytest.fixture
def store(tmp_path: Path):
    uri, client, source = sqlite_store(tmp_path)
    params = tiny_params()
    params["tracking"]["uri"] = uri
    params["datasets"]["digits"]["release"] = {"approval": "required", "approval_timeout_h": 24}
    return client, source, write_params(tmp_path / "params.yaml", params)


def register(client: MlflowClient, source: Path, digest: str, passed: bool = True, required: bool = True):
    report = GateReport(model="cnn", checks=(Check(name="accuracy", threshold=0.9, value=0.99 if passed else 0.5,
                                                   passed=passed),))
    outcome = register_judged(client, NAME, source.as_uri(), None, {"model": "cnn"}, lambda champion: report, digest,
                              approval_required=required)
    client.update_model_version(NAME, outcome.version, description="# card\n\n## Gates\n| ok |\n")
    return outcome


def cli(params: Path, *args: str):
    return CliRunner().invoke(app, [*args, "--params", str(params)])


def test_a_passing_candidate_waits_then_approve_moves_champion_and_reject_does_not(store):
    client, source, params = store
    first = register(client, source, "a")
    assert first.pending and not first.moved and registry.alias_version(client, NAME, "champion") is None
    assert registry.alias_version(client, NAME, "challenger") == "1"
    assert "awaits approval: `cleargate approve digits-classifier/1 --reason ...`" in first.reason
    tags = client.get_model_version(NAME, "1").tags
    assert tags["approval"] == "pending" and tags["approval.champion"] == "none" and tags["gate.passed"] == "true"
    assert "v1 awaits approval" in cli(params, "status", NAME).output

    no_reason = cli(params, "approve", f"{NAME}/1", "--reason", " ")
    assert no_reason.exit_code == 2 and "--reason is required" in no_reason.output
    alias = cli(params, "approve", f"{NAME}@challenger", "--reason", "ok")
    assert alias.exit_code == 2 and "name the version as NAME/VERSION" in alias.output
    approved = cli(params, "approve", f"{NAME}/1", "--reason", "reviewed by the safety board")
    assert approved.exit_code == 0, approved.output
    assert approved.output.strip().endswith("champion v- -> v1")
    assert registry.alias_version(client, NAME, "champion") == "1"
    entry = registry.history(client, NAME)[-1]
    assert entry["action"] == "approved" and entry["reason"] == "reviewed by the safety board" and entry["by"]
    version = client.get_model_version(NAME, "1")
    assert version.tags["approval"] == "approved" and "## Approval\n- approved by" in version.description
    assert version.description.count("## Approval") == 1 and version.description.startswith("# card")
    again = cli(params, "approve", f"{NAME}/1", "--reason", "twice")
    assert again.exit_code == 2 and "approved; only a version with approval=pending" in again.output

    second = register(client, source, "b")
    rejected = cli(params, "reject", f"{NAME}/{second.version}", "--reason", "recall on site B not shown")
    assert rejected.exit_code == 0 and "champion unchanged" in rejected.output, rejected.output
    assert registry.alias_version(client, NAME, "champion") == "1"
    last = registry.history(client, NAME)[-1]
    assert (last["action"], last["version"], last["previous"]) == ("rejected", "2", "1")
    assert "- rejected by" in client.get_model_version(NAME, "2").description
    status = cli(params, "status", NAME).output
    assert "approved v- -> v1" in status and "rejected v2 refused, champion v1 kept" in status, status
    blocked = register(client, source, "c", passed=False)
    assert not blocked.pending and "approval" not in client.get_model_version(NAME, blocked.version).tags
    refused = cli(params, "approve", f"{NAME}/{blocked.version}", "--reason", "please")
    assert refused.exit_code == 2 and "not awaiting approval" in refused.output


def test_a_newer_candidate_supersedes_and_a_moved_champion_needs_a_new_judgement(store):
    client, source, _ = store
    register(client, source, "a", required=False)                      # v1 champion, moved by the gate
    older, newer = register(client, source, "b"), register(client, source, "c")
    assert approval.pending(client, NAME) == [newer.version]
    assert client.get_model_version(NAME, older.version).tags["approval.reason"] == f"superseded by v{newer.version}"
    registry.set_champion(client, NAME, older.version, "forced", "hotfix")  # by hand, since v3 was judged
    with pytest.raises(CleargateError, match=r"judged against champion v1 and the champion is now v2; judge it again"):
        approval.approve(client, NAME, newer.version, "ok", "ana")
    assert registry.alias_version(client, NAME, "champion") == older.version


def test_an_undecided_version_is_rejected_after_its_timeout_and_rollback_skips_refusals(store):
    client, source, _ = store
    register(client, source, "a", required=False)
    register(client, source, "b", required=False)
    waiting = register(client, source, "c")
    assert approval.expire(client, NAME, 24) == [], "within its window"
    later = datetime.now(UTC) + timedelta(hours=25)
    assert approval.expire(client, NAME, 24, now=later) == [waiting.version]
    entry = registry.history(client, NAME)[-1]
    assert entry["action"] == "rejected" and entry["by"] == "cleargate" and "within 24 h" in entry["reason"]
    assert approval.pending(client, NAME) == []
    assert registry.rollback(client, NAME) == "1", "a refusal is not a move to roll back to"
