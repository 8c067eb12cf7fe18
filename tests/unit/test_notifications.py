"""Notifications as data and as Prefect renders them; a person's approval in the model card; a batch's drift page;
MLflow's webhook signature as the stack's relay checks it; the test receiver every notification test reads."""

from __future__ import annotations

import asyncio
import datetime
import hashlib
import hmac
import json
import time
import uuid
from base64 import b64encode
from pathlib import Path

import pytest

from cleargate.config.notifications import NotificationsConfig, WebhookTarget
from cleargate.errors import ConfigError
from cleargate.evaluation.drift import DriftCounts, prediction_psi, prediction_reference, reference_profile
from cleargate.evaluation.drift_page import drift_html
from cleargate.monitoring.batch_notices import batch_notices
from cleargate.monitoring.batch_report import BatchReport
from cleargate.notifications import Notice, notify
from cleargate.notifications.alias_moves import alias_set
from cleargate.params import load_project
from cleargate.records import Check, GateReport, Operational, ReleaseDecision
from cleargate.release.modelcard import with_approval
from cleargate.release.notices import release_notices
from cleargate.serving.registry_webhook import refusal
from tests.projects import tiny_params, write_params


def test_a_webhook_is_one_address_written_or_named_and_an_unset_variable_is_one_line(monkeypatch):
    assert NotificationsConfig().active is False, "nothing is sent unless a webhook and an event are listed"
    with pytest.raises(ValueError, match="exactly one of url"):
        WebhookTarget(url="https://x", url_env="X")
    with pytest.raises(ValueError, match="must start with http"):
        WebhookTarget(url="ftp://x")
    with pytest.raises(ValueError):
        NotificationsConfig(events=["exploded"])
    target = WebhookTarget(url_env="CLEARGATE_TEST_HOOK", format="slack")
    monkeypatch.delenv("CLEARGATE_TEST_HOOK", raising=False)
    with pytest.raises(ConfigError, match=r"^notifications.webhooks: \$CLEARGATE_TEST_HOOK is not set; export it"):
        target.resolved()
    monkeypatch.setenv("CLEARGATE_TEST_HOOK", "https://hooks.example/T1")
    assert target.resolved() == "https://hooks.example/T1" and target.shown == "$CLEARGATE_TEST_HOOK"


def test_every_dataset_states_who_releases_it(tmp_path: Path):
    params = tiny_params("breast_cancer", digits=False)
    project = load_project(write_params(tmp_path / "params.yaml", params))
    assert project.scope("breast_cancer").release.approval == "auto"
    assert project.notifications.events and not project.notifications.webhooks
    del params["datasets"]["breast_cancer"]["release"]
    with pytest.raises(ConfigError, match="datasets.breast_cancer.release: Field required"):
        load_project(write_params(tmp_path / "params.yaml", params))
    params["datasets"]["breast_cancer"]["release"] = {"approval": "sometimes", "approval_timeout_h": 1}
    with pytest.raises(ConfigError, match="datasets.breast_cancer.release.approval"):
        load_project(write_params(tmp_path / "params.yaml", params))


def decision(outcome: str) -> ReleaseDecision:
    passed = outcome != "blocked"
    gate = GateReport(model="hgb", checks=(Check(name="pr_auc", threshold=0.95, value=0.99 if passed else 0.5,
                                                 passed=passed),))
    return ReleaseDecision(model_name="breast-cancer-classifier", version="4", selected="hgb", passed=passed,
                           champion="4" if outcome == "promoted" else "3", previous_champion="3",
                           moved=outcome == "promoted", reason=outcome, run_id="r", pipeline_run_id="p",
                           operational=Operational(latency_p95_ms_single=1, latency_p95_ms_batch=1, batch_size=1,
                                                   model_size_mb=1, load_seconds=1),
                           gate=gate, approval="pending" if outcome == "pending" else "auto")


def test_a_release_tells_blocked_promoted_and_pending_and_an_unchanged_champion_tells_nobody(tmp_path: Path):
    params = load_project(write_params(tmp_path / "params.yaml", tiny_params("breast_cancer", digits=False)))
    scoped = params.scope("breast_cancer")
    kinds = {o: [n.kind for n in release_notices(scoped, decision(o))] for o in ("blocked", "promoted", "pending")}
    assert kinds == {"blocked": ["blocked"], "promoted": ["champion_moved"], "pending": ["awaiting_approval"]}
    assert release_notices(scoped, decision("unchanged")) == []
    blocked = release_notices(scoped, decision("blocked"))[0]
    assert blocked.details["failed_gates"] == "pr_auc" and blocked.version == "4"
    assert blocked.event == "cleargate.blocked" and blocked.resource()["cleargate.dataset"] == "breast_cancer"
    assert blocked.resource()["prefect.resource.id"] == "cleargate.model.breast-cancer-classifier"
    body = blocked.with_links(run="http://prefect/runs/flow-run/1").payload()
    assert body["event"] == "blocked" and body["links"]["run"].endswith("/1")
    assert body["text"].startswith("cleargate blocked: breast-cancer-classifier v4") and body["text"].endswith("/1")
    json.dumps(body)


def batch(outcome: str) -> BatchReport:
    return BatchReport(dataset="d", batch="b.parquet", claimed="x-b.parquet", model="m", version="2", outcome=outcome,
                       message=outcome, decided_at="2025-01-01T00:00:00+00:00", psi_max=0.9)


def test_a_batch_tells_drift_or_a_refusal_once_and_a_clean_batch_nothing():
    kinds = {o: [n.kind for n in batch_notices(batch(o), "http://mlflow:5000")] for o in (
        "scored", "scored, drift flagged", "refused: drift", "refused: validation", "refused: unreadable")}
    assert kinds == {"scored": [], "scored, drift flagged": ["drift"], "refused: drift": ["drift"],
                     "refused: validation": ["batch_refused"], "refused: unreadable": ["batch_refused"]}
    notice = batch_notices(batch("refused: drift"), "http://mlflow:5000")[0]
    assert notice.links["model"] == "http://mlflow:5000/#/models/m/versions/2" and notice.details["psi_max"] == "0.9"
    assert batch_notices(batch("refused: drift"), "sqlite:///x.db")[0].links == {}, "a local store has no page"


def test_notify_sends_nothing_without_a_prefect_api_and_never_raises(monkeypatch):
    notice = Notice(kind="drift", dataset="d", model="m", message="x")
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    assert notify(notice) is False
    monkeypatch.setenv("PREFECT_API_URL", "http://127.0.0.1:9/api")  # nothing listens on the discard port
    assert notify(notice) is False


def test_the_automations_bodies_render_to_json_with_prefects_own_renderer():
    from prefect.server.events.actions import CallWebhook
    from prefect.server.events.schemas.events import ReceivedEvent
    from prefect.server.utilities.user_templates import render_user_template

    from flows.automations import body

    class Named:
        def __init__(self, name: str) -> None:
            self.name = name

    run = uuid.uuid4()
    now = datetime.datetime.now(datetime.UTC)
    state = ReceivedEvent(occurred=now, event="prefect.flow-run.Failed", id=uuid.uuid4(),
                          resource={"prefect.resource.id": f"prefect.flow-run.{run}", "prefect.resource.name": "fox",
                                    "prefect.state-name": "Failed", "prefect.state-message": 'no "dataset" <x>'})
    notice = Notice(kind="blocked", dataset="d", model="m", version="1", message='gate "pr_auc" <failed>')
    ours = ReceivedEvent(occurred=datetime.datetime.now(datetime.UTC), event=notice.event, id=uuid.uuid4(),
                         resource=notice.resource(), payload=notice.payload())
    rendered = {}
    for kind, event in (("failed", state), ("late", state), ("blocked", ours)):
        for fmt in ("json", "slack"):
            template = body(kind, fmt, "http://127.0.0.1:4200/", 7)
            CallWebhook(block_document_id=uuid.uuid4(), payload=template)  # Prefect's validation of the template
            context = {"event": event, "flow": Named("cleargate-pipeline"), "deployment": None}
            rendered[kind, fmt] = json.loads(asyncio.run(render_user_template(template, context)))
    failed = rendered["failed", "json"]
    assert failed["message"] == 'no "dataset" <x>' and failed["deployment"] == "" and failed["state"] == "Failed"
    assert rendered["failed", "json"]["links"]["run"] == f"http://127.0.0.1:4200/runs/flow-run/{run}"
    assert rendered["late", "slack"]["text"].startswith("cleargate late: cleargate-pipeline run fox has not finished "
                                                        "7 s")
    assert rendered["blocked", "json"] == notice.payload() and rendered["blocked", "slack"] == {"text": notice.text}


def sign(secret: str, delivery: str, stamp: str, body: bytes) -> str:
    """Standard Webhooks, as MLflow documents it: HMAC-SHA256 over `id.timestamp.body`, base64, `v1,` first."""
    return "v1," + b64encode(hmac.new(secret.encode(), f"{delivery}.{stamp}.".encode() + body,
                                      hashlib.sha256).digest()).decode()


def test_the_relay_takes_only_recent_calls_signed_with_the_secret_and_reads_the_alias():
    body = json.dumps({"entity": "model_version_alias", "action": "created",
                       "data": {"name": "m", "alias": "champion", "version": "3"}}).encode()
    stamp = str(int(time.time()))
    headers = {"X-MLflow-Delivery-Id": "d1", "X-MLflow-Timestamp": stamp,
               "X-MLflow-Signature": sign("s3cret", "d1", stamp, body)}
    assert refusal("s3cret", headers, body) is None
    assert refusal("other", headers, body) is not None
    assert refusal("s3cret", headers, body.replace(b'"3"', b'"4"')) is not None, "a changed body"
    assert refusal("s3cret", {**headers, "X-MLflow-Signature": ""}, body) is not None
    assert refusal("s3cret", headers, body, now=time.time() + 3600) is not None, "a replayed call"
    found = alias_set(body)
    assert (found.name, found.alias, found.version) == ("m", "champion", "3")
    assert alias_set(b'{"entity": "model_version", "action": "created", "data": {}}') is None
    assert alias_set(b"not json") is None
    stamped = json.loads(body) | {"timestamp": "2026-12-06T09:07:31.123456+00:00"}
    assert alias_set(json.dumps(stamped).encode()).at.isoformat() == "2026-12-06T09:07:31.123456+00:00"


def test_the_approval_section_is_replaced_not_repeated():
    card = "# m v3\n\n## Gates\n| a |\n"
    pending = with_approval(card, ["- required: awaiting a decision"])
    decided = with_approval(pending, ["- approved by ana: reviewed"])
    assert decided.count("## Approval") == 1 and "awaiting" not in decided and decided.startswith(card.rstrip("\n"))
    assert decided.endswith("- approved by ana: reviewed\n")


def test_the_drift_page_draws_the_drifted_features_against_their_reference():
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(0)
    train = pd.DataFrame({"age": rng.normal(50, 10, 2000), "dose<mg>": rng.normal(5, 1, 2000)})
    profile = reference_profile(train, ["age", "dose<mg>"], 10)
    batch_rows = pd.DataFrame({"age": rng.normal(80, 10, 500), "dose<mg>": rng.normal(5, 1, 500)})
    report = DriftCounts(profile).add(batch_rows).report(0.25, 0.05)
    assert set(report.drifted) == {"age"} and report.psi_max == report.drifted["age"]
    assert len(report.histograms["age"]["actual"]) == len(report.histograms["age"]["expected"])
    page = drift_html("batch.parquet: drift", report)
    assert page.count("<svg") == 1 and "<h2>age" in page and "DRIFTED" in page and "dose<mg>" not in page
    quiet = DriftCounts(profile).add(train.head(500)).report(0.25, 0.05)
    assert "No feature drifted" in drift_html("q", quiet) and quiet.histograms == {}
    reference = prediction_reference(np.array([0, 0, 1, 1]), 2)
    assert prediction_psi(reference, np.array([50, 50])) == pytest.approx(0.0)
    assert prediction_psi(reference, np.array([95, 5])) > 0.5
    assert prediction_psi(None, np.array([1, 1])) is None


def test_the_test_receiver_records_a_post_whose_sender_closed_before_its_body_as_cut(tmp_path: Path):
    """The receiver the notification tests read: a whole POST is recorded as sent; one whose sender hung up
    before its body came says so, instead of passing for an empty notification."""
    import socket
    import urllib.request

    from tests.servers import Receiver

    receiver = Receiver(tmp_path).start()
    try:
        request = urllib.request.Request(f"{receiver.uri}/hook", data=b'{"event": "drift"}', method="POST")
        with urllib.request.urlopen(request, timeout=10) as answer:
            assert answer.status == 200
        with socket.create_connection(("127.0.0.1", receiver.port), timeout=10) as sender:
            sender.sendall(b"POST /hook HTTP/1.1\r\nHost: x\r\nContent-Length: 635\r\n\r\n" + b'{"event": "dri')
        posts = receiver.wait_for(2, timeout=10, path="/hook")
    finally:
        receiver.stop()
    assert posts[0]["json"] == {"event": "drift"} and "cut" not in posts[0]
    assert posts[1]["cut"] == "connection closed after 14 of 635 body bytes" and posts[1]["json"] is None
