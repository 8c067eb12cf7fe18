"""The loop closed on a real Prefect server (the test process's, `prefect server start`, with automations
registered as `make serve` registers them) and a real HTTP receiver: a pipeline run whose candidate needs a person
tells `awaiting_approval`, shows the pending version in the Prefect UI's artifacts, and `cleargate approve`
tells the champion move, each exactly once."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import yaml

from cleargate.params import load_project
from cleargate.records import GateDecision
from flows import automations
from tests.projects import CLEARGATE, run
from tests.servers import Receiver

pytestmark = pytest.mark.slow
MODEL = "breast-cancer-classifier"


@pytest.fixture
def receiver(tmp_path: Path):
    started = Receiver(tmp_path / "receiver").start()
    yield started
    started.stop()


def test_a_run_tells_a_version_awaiting_approval_and_approve_tells_the_move(golden_records, receiver, prefect_api,
                                                                            tmp_path: Path):
    project = golden_records.clone(tmp_path)
    params = yaml.safe_load((project / "params.yaml").read_text())
    params["datasets"]["breast_cancer"]["release"] = {"approval": "required", "approval_timeout_h": 72}
    selected = GateDecision.load(project / "reports" / "breast_cancer" / "gate.json").selected
    model = params["train"][selected]
    model.update({"max_iter": model["max_iter"] + 5} if "max_iter" in model else
                 {"n_estimators": model["n_estimators"] + 5})  # a retrained candidate: another model than champion's
    params["notifications"]["webhooks"] = [{"url": f"{receiver.uri}/hook", "format": "json"}]
    (project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    ui = prefect_api.removesuffix("/api")
    names = automations.register(load_project(project / "params.yaml"), ui)
    assert "cleargate: awaiting_approval" in names and "cleargate: late" in names
    try:
        since = time.time()
        done = run([CLEARGATE, "run"], project, check=False)
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
        assert "awaits approval" in done.stdout, done.stdout[-3000:]
        told = receiver.wait_for(1, 30, "/hook", since)
        assert [p["json"]["event"] for p in told] == ["awaiting_approval"], told
        notice = told[0]["json"]
        assert notice["model"] == MODEL and notice["dataset"] == "breast_cancer" and notice["source"] == "run"
        version = notice["version"]
        assert notice["links"]["run"].startswith(f"{ui}/runs/flow-run/"), notice
        assert f"cleargate approve {MODEL}/{version}" in notice["message"]
        assert told[0]["headers"]["Content-Type"] == "application/json"

        from prefect.client.orchestration import get_client
        from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

        with get_client(sync_client=True) as client:
            shown = client.read_artifacts(artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[
                "approval-breast-cancer"])))
        assert any(f"| v{version} |" in a.data and "awaiting approval" in a.data for a in shown)

        since = time.time()
        approved = run([CLEARGATE, "approve", f"{MODEL}/{version}", "--reason", "reviewed"], project, check=False)
        assert approved.returncode == 0, approved.stderr
        moved = receiver.wait_for(1, 30, "/hook", since)
        assert [(p["json"]["event"], p["json"]["source"], p["json"]["action"]) for p in moved] == [
            ("champion_moved", "cli", "approved")], moved
        time.sleep(5)
        assert len(receiver.posts("/hook")) == 2, "nothing else was told"
    finally:
        params["notifications"]["webhooks"] = []
        (project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
        assert automations.register(load_project(project / "params.yaml"), ui) == [], "the automations are removed"
