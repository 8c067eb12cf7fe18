"""Monitoring read as a trend, on a copy of the golden breast-cancer project: three labelled batches, hour after
hour, give one MLflow run per registered version with one step per batch (psi_max, drifted_fraction,
prediction_psi, live metrics), the challenger's live metrics (scored in shadow) beside the champion's, a drift
page per batch, and MLflow's chart view in a real browser draws both lines."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pandas as pd
import pytest

from cleargate.monitoring import cycle, monitoring_runs
from cleargate.processes import free_port, http_ok, spawn, stop, wait_until
from cleargate.records import Check, GateReport
from cleargate.release.promotion import register_judged
from cleargate.tracking import connect, registry
from tests.browser import rendered_text
from tests.projects import CLEARGATE, load_params

pytestmark = pytest.mark.slow
MODEL = "breast-cancer-classifier"
METRICS = ["psi_max", "drifted_fraction", "prediction_psi", "live_accuracy", "live_balanced_accuracy"]


def drop(params, name: str, frame: pd.DataFrame) -> None:
    params.layout.inbox.mkdir(parents=True, exist_ok=True)
    tmp = params.layout.inbox / f".{name}"
    frame.to_parquet(tmp)
    tmp.rename(params.layout.inbox / name)


def test_three_batches_are_three_steps_of_the_champion_and_of_the_challenger_in_shadow(golden_records,
                                                                                       tmp_path: Path):
    project = golden_records.clone(tmp_path)
    params = load_params(project / "params.yaml", "breast_cancer")
    client = connect(params)
    champion = client.get_model_version_by_alias(MODEL, "champion")
    version = str(champion.version)
    failed = GateReport(model="x", checks=(Check(name="accuracy", threshold=1.0, value=0.5, passed=False),))
    challenger = register_judged(client, MODEL, champion.source, champion.run_id, {"model": "shadow"},
                                 lambda _: failed, "another-digest").version   # blocked: the challenger only
    assert registry.alias_version(client, MODEL, "challenger") == challenger != version

    test = pd.read_parquet(params.layout.split("test"))
    features = [c for c in test.columns if c != "label"]
    flipped = test.head(120).copy()
    flipped.loc[flipped.index[:30], "label"] = 1 - flipped["label"].iloc[:30]
    shifted = test.head(120).copy()
    shifted[features[0]] = shifted[features[0]] * 1.6            # one feature of 30 drifts: scored, not flagged
    for name, frame in (("hour0.parquet", test.head(120)), ("hour1.parquet", flipped), ("hour2.parquet", shifted)):
        drop(params, name, frame)
        batches = cycle.prepare(params, client)
        reports = cycle.finish(params, batches)
        assert [r.outcome for r in reports] == ["scored"], reports
        assert reports[0].challenger == challenger and reports[0].challenger_live, reports[0]

    experiment = client.get_experiment_by_name(monitoring_runs.experiment(params))
    runs = {r.data.tags["model_version"]: r for r in client.search_runs([experiment.experiment_id])}
    assert set(runs) == {version, challenger}, "one run per registered version"
    ours, shadow = runs[version], runs[challenger]
    assert (ours.data.tags["role"], shadow.data.tags["role"]) == ("champion", "challenger")
    for metric in METRICS:
        assert [m.step for m in client.get_metric_history(ours.info.run_id, metric)] == [0, 1, 2], metric
    for metric in ("live_accuracy", "live_balanced_accuracy"):
        assert [m.step for m in client.get_metric_history(shadow.info.run_id, metric)] == [0, 1, 2], metric
    accuracy = [m.value for m in client.get_metric_history(ours.info.run_id, "live_accuracy")]
    assert accuracy[1] < accuracy[0] - 0.15, "the flipped labels show as a dip"
    psi = [m.value for m in client.get_metric_history(ours.info.run_id, "psi_max")]
    assert psi[2] > 0.25 > psi[0], "the shifted feature shows as a peak"
    folders = [a.path for a in client.list_artifacts(ours.info.run_id, "batches")]
    assert len(folders) == 3 and folders[0].startswith("batches/0000-")
    shifted_files = [a.path.rsplit("/", 1)[-1] for a in client.list_artifacts(ours.info.run_id, folders[2])]
    assert "drift.html" in shifted_files and any(f.endswith(".report.json") for f in shifted_files)
    page = Path(client.download_artifacts(ours.info.run_id, f"{folders[2]}/drift.html")).read_text()
    assert f"<h2>{features[0]}" in page and "<svg" in page

    done = next(params.layout.inbox_done.glob("*hour2.parquet.report.json"))
    report = cycle.BatchReport.load(done)
    monitoring_runs.log_batch_run(params, client, report, done)   # a pass resumed after a kill logs it again
    assert [m.step for m in client.get_metric_history(ours.info.run_id, "psi_max")] == [0, 1, 2], "no fourth step"

    if not shutil.which("chromium") and not os.environ.get("CLEARGATE_REQUIRE_BROWSER"):
        pytest.skip("chromium is not installed (.ci/run installs it)")
    port = free_port()
    server = spawn([CLEARGATE, "ui", "--port", str(port)], dict(os.environ), project / "ui.log", cwd=project)
    try:
        url = f"http://127.0.0.1:{port}"
        wait_until(lambda: http_ok(f"{url}/health"), "cleargate ui", server, 120)
        page = rendered_text(f"{url}/#/experiments/{experiment.experiment_id}/runs?compareRunsMode=CHART",
                             budget_ms=40000, height=12000)
    finally:
        stop(server)
    chart = page[page.index(" live_accuracy "):][:300]   # the chart of the live accuracy, run by run
    assert f"{MODEL}-v{version}" in chart and f"{MODEL}-v{challenger}" in chart, chart
    assert " psi_max " in page and " prediction_psi " in page, page[:3000]
