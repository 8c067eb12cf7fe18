"""`cleargate ui` (make ui): MLflow's UI on the project's store, looked at in a real browser (headless chromium) on a
copy of the golden rehab + breast-cancer project: the experiment opens in MLflow's model-training view, its chart
view sets every model's test metric side by side, a model's run shows its metric on each test patient, and a
registered version shows its schema."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import psutil
import pytest
from mlflow.tracking import MlflowClient

from cleargate.processes import free_port, http_ok, spawn, stop, wait_until
from tests.browser import rendered_text
from tests.projects import CLEARGATE

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def ui(golden_mixed, tmp_path_factory: pytest.TempPathFactory):
    if not shutil.which("chromium") and not os.environ.get("CLEARGATE_REQUIRE_BROWSER"):
        pytest.skip("chromium is not installed (.ci/run installs it)")
    project = golden_mixed.clone(tmp_path_factory.mktemp("ui"))
    port = free_port()
    server = spawn([CLEARGATE, "ui", "--port", str(port)], dict(os.environ), project / "ui.log", cwd=project)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: http_ok(f"{url}/health"), "cleargate ui", server, 120)
        uri = f"sqlite:///{project / 'mlflow.db'}"
        yield url, MlflowClient(uri, uri), psutil.Process(server.pid)
    finally:
        stop(server)


def test_the_experiment_opens_on_its_models_side_by_side(ui):
    url, client, _ = ui
    experiment = client.get_experiment_by_name("cleargate-test-rehab")
    assert experiment.tags["mlflow.experimentKind"] == "custom_model_development", "MLflow's model-training view"
    models = [r.info.run_name for r in client.search_runs([experiment.experiment_id], "tags.stage = 'train'")]
    assert sorted(models) == ["lstm", "rehab_hgb"]
    page = rendered_text(f"{url}/#/experiments/{experiment.experiment_id}/runs?compareRunsMode=CHART",
                         budget_ms=40000, height=12000)
    assert "Training runs" in page and "Model metrics" in page, page[:2000]
    chart = page[page.index(" test_macro_f1 "):][:200]  # the primary metric's chart, run by run
    assert all(model in chart for model in models), chart
    logged = {m.name for m in client.search_logged_models([experiment.experiment_id])}
    assert {"lstm", "rehab_hgb", "lstm-served"} <= logged, "every model in the Models tab, the released one served"


def test_the_ui_starts_no_job_runner(ui):
    """MLflow's server with one web worker, nothing else: no job runner and no huey consumers (MLflow's GenAI jobs,
    which cleargate never submits: 11 more processes and about 30 s of CPU for each UI opened)."""
    *_, process = ui
    tree = [" ".join(p.cmdline()) for p in [process, *process.children(recursive=True)]]
    assert not [c for c in tree if "huey" in c or "jobs._job_runner" in c], tree
    workers = [c for c in tree if "uvicorn" in c or "multiprocessing" in c]
    assert any("mlflow ui" in c for c in tree) and len(workers) <= 2, tree


def test_a_model_run_shows_its_metric_on_each_patient(ui):
    """Per-slice test metrics (`test_<metric>__<slice>`) on the model's run, beside the overall one."""
    url, client, _ = ui
    experiment = client.get_experiment_by_name("cleargate-test-rehab")
    run = client.search_runs([experiment.experiment_id], "tags.stage = 'train' and attributes.run_name = 'lstm'")[0]
    patients = sorted(k for k in run.data.metrics if k.startswith("test_macro_f1__patient_"))
    assert patients, "every test patient's macro F1 is logged"
    page = rendered_text(f"{url}/#/experiments/{experiment.experiment_id}/runs/{run.info.run_id}", budget_ms=30000,
                         height=6000)
    assert all(f" {name} " in page for name in [*patients, "test_worst_slice_macro_f1"]), page[:3000]


def test_a_registered_version_shows_its_schema(ui):
    url, client, _ = ui
    version = client.get_model_version_by_alias("breast-cancer-classifier", "champion")
    page = rendered_text(f"{url}/#/models/breast-cancer-classifier/versions/{version.version}", height=4000)
    assert "Schema" in page and "Inputs (30)" in page and "Outputs (1)" in page, page[-2000:]


def test_the_ui_refuses_a_missing_params_file_in_one_line(tmp_path: Path):
    done = subprocess.run([CLEARGATE, "ui", "--params", str(tmp_path / "missing.yaml")], capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
    assert done.stderr.strip().splitlines() == [f"error: {tmp_path / 'missing.yaml'}: no such params file; give "
                                                "the project's params.yaml, or run inside the project without "
                                                "--params"]
