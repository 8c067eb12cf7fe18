"""Every notification on the team stack, after `test_stack_e2e.py` (a champion is registered, a champion move by a
run and a drifted batch were told there): each thing that happens is delivered to the loopback receiver exactly
once, as JSON, within 30 s, and nothing is delivered when nothing happened. Champion moves by hand reach it
through MLflow's registry webhook, signed, and the stack's relay (which refuses a call it cannot verify)."""

from __future__ import annotations

import json
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from collections import Counter
from contextlib import contextmanager

import pytest
import yaml

from cleargate.records import GateDecision
from cleargate.serving.registry_webhook import signature
from tests.ops.conftest import DATASET, MODEL
from tests.ops.helpers import drifted, drop_batch, mlflow_client, run_deployment, split_of
from tests.projects import CLEARGATE

pytestmark = pytest.mark.slow
WITHIN = 30      # seconds: the bound for a notification
QUIET = 5        # seconds to wait for anything beyond what is expected


def told(stack, since: float, expected: int) -> list[dict]:
    """Every notification delivered since `since` once `expected` have come (or WITHIN seconds passed), and QUIET
    seconds more: anything extra is delivered by then."""
    stack.notified(since, expected, WITHIN)
    time.sleep(QUIET)
    posts = stack.notified(since)
    cut = [f"{p['headers'].get('User-Agent')}: {p['cut']}" for p in posts if "cut" in p]
    assert not cut, f"a notification's sender hung up before its body came: {cut}"
    return [p["json"] for p in posts]


def kinds(notices: list[dict]) -> Counter:
    return Counter(n["event"] for n in notices)


@contextmanager
def params_changed(stack, change, deploy: bool = False):
    """params.yaml of the stack's project changed for the block (and the automations registered again when they
    read it), then put back."""
    path = stack.project / "params.yaml"
    before = path.read_text()
    params = yaml.safe_load(before)
    change(params)
    path.write_text(yaml.safe_dump(params, sort_keys=False))
    try:
        if deploy:
            deployed(stack)
        yield params
    finally:
        path.write_text(before)
        if deploy:
            deployed(stack)


def deployed(stack) -> None:
    """`cleargate stack deploy` in the stack's project, as an operator runs it there (no PREFECT_API_URL set): the
    deployments and automations registered again on the stack's Prefect server."""
    out = stack.stack("deploy").stdout
    assert f"on {stack.prefect_api.removesuffix('/api')}" in out and "notify    registered" in out, out


def cleargate(stack, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([CLEARGATE, *args], cwd=stack.project, env=stack.client_env, capture_output=True,
                          text=True, timeout=300)


def test_nothing_happened_nothing_is_told_and_a_failed_nightly_run_is_told_once(stack):
    since = time.time()
    quiet = run_deployment(stack, "cleargate-monitor/hourly", {"datasets": [DATASET], "retrain": False})
    assert quiet.state.is_completed(), quiet.state.message
    failed = run_deployment(stack, "cleargate-pipeline/nightly", {"datasets": ["no_such_dataset"]})
    assert failed.state.is_failed(), failed.state
    notices = told(stack, since, 1)
    assert [n["event"] for n in notices] == ["failed"], notices
    assert notices[0]["flow"] == "cleargate-pipeline" and notices[0]["deployment"] == "nightly"
    assert notices[0]["flow_run"] == failed.name and "no_such_dataset" in notices[0]["message"]
    assert notices[0]["links"]["run"].endswith(f"/runs/flow-run/{failed.id}")


def test_a_refused_batch_and_a_drifted_batch_are_told_once_each(stack):
    test = split_of(stack, DATASET).head(60)
    invalid = test.drop(columns="label").copy()
    invalid.iloc[0, 0] = -5.0                        # a negative measurement: refused by validation
    drop_batch(stack, DATASET, "invalid.parquet", invalid)
    drop_batch(stack, DATASET, "shifted.parquet", drifted(test))
    since = time.time()
    done = run_deployment(stack, "cleargate-monitor/hourly", {"datasets": [DATASET], "retrain": False})
    assert done.state.is_completed(), done.state.message
    notices = told(stack, since, 2)
    assert kinds(notices) == Counter({"batch_refused": 1, "drift": 1}), notices
    by_kind = {n["event"]: n for n in notices}
    assert by_kind["batch_refused"]["batch"] == "invalid.parquet" and by_kind["batch_refused"]["outcome"] == \
        "refused: validation"
    assert by_kind["drift"]["batch"] == "shifted.parquet" and float(by_kind["drift"]["psi_max"]) > 0.25
    assert by_kind["drift"]["links"]["run"].endswith(f"/runs/flow-run/{done.id}"), "the monitoring run"
    assert by_kind["drift"]["links"]["model"].startswith(f"{stack.mlflow_uri}/#/models/{MODEL}/versions/")


@pytest.fixture(scope="module")
def slow_blocked_run(stack) -> tuple[object, list[dict]]:
    """One nightly run that tells two things: its candidate fails a gate nobody can pass (blocked), and with the
    fits run again it is still running when a 10 s window ends (late). The run and what was told."""
    def impossible_gate_short_window(params):
        params["datasets"][DATASET]["gates"]["minimum"]["pr_auc"] = 0.99999
        params["notifications"]["late_after_s"] = 10   # Prefect's floor for a proactive trigger's window

    with params_changed(stack, impossible_gate_short_window, deploy=True):
        since = time.time()
        flow_run = run_deployment(stack, "cleargate-pipeline/nightly", {"datasets": [DATASET], "rerun": ["train"]})
        assert flow_run.state.is_completed(), flow_run.state.message
        notices = told(stack, since, 2)
    return flow_run, notices


def test_a_blocked_candidate_is_told_once(stack, slow_blocked_run):
    notices = slow_blocked_run[1]
    assert kinds(notices)["blocked"] == 1 and set(kinds(notices)) <= {"blocked", "late"}, notices
    blocked = next(n for n in notices if n["event"] == "blocked")
    assert blocked["model"] == MODEL and "pr_auc" in blocked["failed_gates"] and blocked["source"] == "run"
    assert mlflow_client(stack).get_model_version(MODEL, blocked["version"]).tags["gate.passed"] == "false"


def test_a_late_nightly_run_is_told_once(slow_blocked_run):
    flow_run, notices = slow_blocked_run
    took = (flow_run.end_time - flow_run.start_time).total_seconds()
    assert took > 10 and kinds(notices) == Counter({"blocked": 1, "late": 1}), f"the run took {took:.0f} s: {notices}"
    late = next(n for n in notices if n["event"] == "late")
    assert late["flow"] == "cleargate-pipeline" and late["deployment"] == "nightly"
    assert late["flow_run"] == flow_run.name and "not finished 10 s after it started" in late["message"]
    assert late["links"]["run"].endswith(f"/runs/flow-run/{flow_run.id}")


def test_approval_a_pending_version_is_told_and_every_champion_move_by_hand_once_signed(stack):
    gate = GateDecision.load(stack.project / "reports" / DATASET / "gate.json")
    path = stack.project / "params.yaml"
    params = yaml.safe_load(path.read_text())
    model = params["train"][gate.selected]   # a retrained candidate (kept: the next module's runs only promote)
    model.update({"max_iter": model["max_iter"] + 5} if "max_iter" in model else
                 {"n_estimators": model["n_estimators"] + 5})
    path.write_text(yaml.safe_dump(params, sort_keys=False))

    def required(params):
        params["datasets"][DATASET]["release"]["approval"] = "required"

    client = mlflow_client(stack)
    champion = client.get_model_version_by_alias(MODEL, "champion").version
    with params_changed(stack, required):
        since = time.time()
        flow_run = run_deployment(stack, "cleargate-pipeline/nightly", {"datasets": [DATASET]})
        assert flow_run.state.is_completed(), flow_run.state.message
        notices = told(stack, since, 1)
        assert [n["event"] for n in notices] == ["awaiting_approval"], notices
        pending = notices[0]["version"]
        assert client.get_model_version_by_alias(MODEL, "champion").version == champion, "nobody approved yet"
        assert client.get_model_version(MODEL, pending).tags["approval"] == "pending"

        since = time.time()
        approved = cleargate(stack, "approve", f"{MODEL}/{pending}", "--reason", "reviewed by the board")
        assert approved.returncode == 0, approved.stderr
        moved = told(stack, since, 1)
    assert [(n["event"], n["source"], n["action"]) for n in moved] == [("champion_moved", "registry", "approved")]
    assert moved[0]["version"] == pending and moved[0]["previous_champion"] == champion and moved[0]["by"]

    since = time.time()
    back = cleargate(stack, "rollback", MODEL, "--reason", "second thoughts")
    assert back.returncode == 0, back.stderr
    moved = told(stack, since, 1)
    assert [(n["event"], n["action"], n["version"]) for n in moved] == [("champion_moved", "rollback", champion)]

    since = time.time()
    client.set_registered_model_alias(MODEL, "champion", pending)   # as the MLflow UI does: no cleargate entry
    moved = told(stack, since, 1)
    assert [(n["event"], n["action"]) for n in moved] == [("champion_moved", "outside cleargate")], moved
    assert "outside cleargate (the MLflow UI or API)" in moved[0]["message"]


def test_the_relay_takes_only_calls_signed_with_the_secret_in_the_env_file(stack):
    relay = f"http://127.0.0.1:{stack.env['STACK_RELAY_PORT']}/mlflow"
    version = mlflow_client(stack).get_model_version_by_alias(MODEL, "champion").version
    body = json.dumps({"entity": "model_version_alias", "action": "created", "timestamp": "now",
                       "data": {"name": MODEL, "alias": "champion", "version": version}}).encode()

    def call(secret: str) -> int:
        delivery, stamp = str(uuid.uuid4()), str(int(time.time()))
        request = urllib.request.Request(relay, data=body, method="POST", headers={
            "Content-Type": "application/json", "X-MLflow-Delivery-Id": delivery, "X-MLflow-Timestamp": stamp,
            "X-MLflow-Signature": signature(secret, delivery, stamp, body)})
        try:
            with urllib.request.urlopen(request, timeout=10) as answer:
                return answer.status
        except urllib.error.HTTPError as exc:
            return exc.code

    since = time.time()
    assert call("a guess") == 401
    assert told(stack, since, 0) == [], "a forged call tells nobody anything"
    assert call(stack.client_env["CLEARGATE_WEBHOOK_SECRET"]) == 200   # the secret .stack/env holds
    assert [n["event"] for n in told(stack, since, 1)] == ["champion_moved"]
