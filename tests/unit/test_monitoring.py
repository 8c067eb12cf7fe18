"""Monitoring decisions and the inbox's file moves; the schedules' and the stack's configuration."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cleargate.errors import ConfigError, DataError
from cleargate.monitoring.batch_report import BatchReport
from cleargate.monitoring.decision import degraded, describe, label_codes, live_metrics, retrain_reasons
from cleargate.monitoring.inbox import Inbox
from cleargate.params import load_project
from tests.projects import ROOT, tiny_params, write_params


def test_labels_are_taken_as_class_names_or_indices_and_anything_else_is_refused_in_one_line():
    assert list(label_codes(pd.Series(["benign", "malignant", "benign"]), ["benign", "malignant"], "b")) == [0, 1, 0]
    assert list(label_codes(pd.Series([1, 0, 1]), ["benign", "malignant"], "b")) == [1, 0, 1]
    assert list(label_codes(pd.Series([3, 9]), list(range(10)), "b")) == [3, 9]
    with pytest.raises(DataError, match=r"^x.parquet: label column holds 1 value\(s\) that are not classes"):
        label_codes(pd.Series(["benign", "unknown"]), ["benign", "malignant"], "x.parquet")


def test_live_metrics_degradation_and_what_starts_a_retraining():
    truth, predicted = np.array([0, 0, 1, 1, 1, 0]), np.array([0, 1, 1, 1, 0, 0])
    live = live_metrics(truth, predicted, ["accuracy", "macro_f1", "positive_recall"], positive=1, n_classes=2)
    assert live == pytest.approx({"accuracy": 4 / 6, "macro_f1": 2 / 3, "positive_recall": 2 / 3})
    assert "positive_recall" not in live_metrics(truth, predicted, ["accuracy", "positive_recall"], None, 2)
    champion = {"accuracy": 0.95, "macro_f1": 0.70}
    assert degraded(live, champion, max_drop=0.05) == ["accuracy"], "macro_f1 fell 0.033: within the margin"
    assert retrain_reasons(True, ["accuracy"], ["drift", "degradation"]) == ["drift", "degradation"]
    assert retrain_reasons(True, ["accuracy"], ["degradation"]) == ["degradation"]
    assert retrain_reasons(False, [], ["drift", "degradation"]) == []
    line = describe("scored", 0.0, live, champion, ["accuracy"])
    assert "accuracy 0.667 (champion 0.950)" in line and line.endswith("DEGRADED: accuracy") and "\n" not in line


def report(claimed: str, outcome: str = "scored") -> BatchReport:
    return BatchReport(dataset="d", batch=claimed.split("-", 1)[1], claimed=claimed, model="m", version="1",
                       outcome=outcome, message=outcome, decided_at="now")


@pytest.fixture
def inbox(tmp_path: Path) -> Inbox:
    params = load_project(write_params(tmp_path / "params.yaml", tiny_params())).scope("digits")
    return Inbox(params.layout)


def test_a_batch_is_claimed_once_decided_then_moved_with_its_report(inbox: Inbox):
    inbox.layout.inbox.mkdir(parents=True)
    pd.DataFrame({"a": [1]}).to_parquet(inbox.layout.inbox / "b1.parquet")
    (inbox.layout.inbox / ".b2.parquet.partial").write_text("still being written")
    (inbox.layout.inbox / "notes.txt").write_text("not a batch")
    [new] = inbox.new_batches()
    claimed = inbox.claim(new)
    assert claimed.parent == inbox.layout.inbox_processing and claimed.name.endswith("-b1.parquet")
    assert inbox.claim(new) is None, "a second run finds it gone"
    assert inbox.claimed() == [claimed] and inbox.load_report(claimed) is None
    decided = inbox.save_report(claimed, report(claimed.name, "refused: drift"))
    assert inbox.load_report(claimed) == decided
    final = inbox.finish(claimed, decided)
    assert final == inbox.layout.inbox_refused / claimed.name and final.is_file()
    assert json.loads((final.parent / f"{claimed.name}.report.json").read_text())["outcome"] == "refused: drift"
    assert not inbox.claimed() and not list(inbox.layout.inbox_processing.iterdir())


def test_a_kill_between_the_two_renames_is_finished_by_the_next_run(inbox: Inbox):
    inbox.layout.inbox_processing.mkdir(parents=True)
    claimed = inbox.layout.inbox_processing / "20250101T000000000000Z-b.parquet"
    pd.DataFrame({"a": [1]}).to_parquet(claimed)
    decided = inbox.save_report(claimed, report(claimed.name))
    inbox.layout.inbox_done.mkdir()
    claimed.rename(inbox.layout.inbox_done / claimed.name)  # the batch moved, its report not yet
    assert inbox.recover() == [inbox.layout.inbox_done / claimed.name]
    assert (inbox.layout.inbox_done / f"{claimed.name}.report.json").is_file()
    assert not list(inbox.layout.inbox_processing.iterdir()) and decided.destination == "done"


@pytest.mark.parametrize(("key", "value", "message"), [
    (("schedules", "pipeline", "cron"), "at two", r"schedules.pipeline.cron: .*not a 5-field cron"),
    (("schedules", "monitor", "datasets"), ["nope"], r"schedules.monitor.datasets: unknown dataset"),
    (("schedules", "timezone"), "Mars/Olympus", r"schedules.timezone: .*unknown time zone"),
    (("schedules", "pipeline", "concurrency", "collision_strategy"), "drop", r"collision_strategy"),
    (("monitoring", "metrics"), ["roc_auc"], r"monitoring.metrics.0"),
    (("monitoring", "max_metric_drop"), 0, r"monitoring.max_metric_drop"),
    (("monitoring", "typo"), 1, r"monitoring.typo: unknown key"),
])
def test_schedules_and_monitoring_are_validated_like_every_key(tmp_path: Path, key, value, message):
    params = tiny_params()
    section = params
    for part in key[:-1]:
        section = section[part]
    section[key[-1]] = value
    with pytest.raises(ConfigError, match=message):
        load_project(write_params(tmp_path / "params.yaml", params))


def test_the_two_deployments_are_declared_once_from_params_yaml():
    from flows.deployments import declared

    project = load_project(ROOT / "params.yaml")
    pipeline, monitor = declared(project)
    assert (pipeline.full_name, monitor.full_name) == ("cleargate-pipeline/nightly", "cleargate-monitor/hourly")
    assert (pipeline.options["schedule"].cron, monitor.options["schedule"].cron) == ("0 2 * * *", "0 * * * *")
    assert pipeline.options["parameters"] == {"datasets": None, "rerun": []}
    assert pipeline.options["concurrency_limit"].limit == 1
    assert pipeline.options["concurrency_limit"].collision_strategy.value == "ENQUEUE"
    assert monitor.options["concurrency_limit"].collision_strategy.value == "CANCEL_NEW"
    assert pipeline.entrypoint == "flows/pipeline.py:pipeline" and monitor.entrypoint == "flows/monitor.py:monitor"


def test_stack_settings_and_credentials(tmp_path: Path):
    from infra.stack.config import StackConfig
    from infra.stack.secrets import client_env, credentials, masked, write_env_file

    local = StackConfig.from_env(tmp_path, {"STACK_DIR": "s"})
    assert (local.host, local.auth, local.mlflow_url, local.prefect_api) == (
        "127.0.0.1", False, "http://127.0.0.1:5000", "http://127.0.0.1:4200/api")
    exposed = StackConfig.from_env(tmp_path, {"STACK_DIR": "s", "STACK_HOST": "0.0.0.0", "STACK_PUBLIC_HOST": "h"})
    assert exposed.auth and exposed.mlflow_url == "http://h:5000", "beyond loopback, authentication is on"
    creds = credentials(exposed)
    assert credentials(exposed) == creds, "generated once, kept across restarts"
    assert stat.S_IMODE(exposed.secrets_file.stat().st_mode) == 0o600
    env_file = write_env_file(exposed, creds)
    assert stat.S_IMODE(env_file.stat().st_mode) == 0o600
    assert f"export MLFLOW_TRACKING_PASSWORD={creds.admin_password}" in env_file.read_text()
    assert "MLFLOW_TRACKING_PASSWORD" not in client_env(local, creds)
    assert creds.admin_password not in masked(creds.admin_password)
