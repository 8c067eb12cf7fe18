"""The fit workers' warm-up (`flows.beside.warm_modules`): it imports what the first train and evaluate would
otherwise import on the run's critical path, cleargate's own code and the third-party modules loaded inside
functions (skops, MLflow's SQL store), and MLflow's SQL store only when the tracking store is a database."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from cleargate.params import load_project
from flows.beside import LAZY_IMPORTS, SQL_STORE_IMPORTS, end_imports, warm_modules, warm_up

ROOT = Path(__file__).resolve().parents[2]

# A child process imports the warm-up's modules, then does what the first tree train and its evaluation do
# outside the fit itself: save the estimator with skops, open the SQLite tracking store, draw a plot with Agg.
CHILD = textwrap.dedent('''
    import json, sys, importlib
    from pathlib import Path

    modules, tmp = json.loads(sys.argv[1]), Path(sys.argv[2])
    for module in modules:
        importlib.import_module(module)
    before = set(sys.modules)

    from sklearn.tree import DecisionTreeClassifier
    from cleargate.models.bundle import _save_weights
    from mlflow.tracking import MlflowClient

    _save_weights("sklearn", DecisionTreeClassifier().fit([[0], [1]], [0, 1]), tmp / "model.skops")
    MlflowClient(f"sqlite:///{tmp / 'mlflow.db'}").search_experiments(max_results=1)
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, _ = plt.subplots()
    fig.savefig(tmp / "plot.png")
    # what is left to import is cheap (opening an existing store after the warm-up: 0.1 s): a module of a
    # package not imported at all yet, or one of the listed slow ones, would be the cost the warm-up is for
    new = set(sys.modules) - before
    packages = {m.split(".")[0] for m in new} - {m.split(".")[0] for m in before}
    slow = new & {"skops.io", "sklearn.calibration", "matplotlib.backends.backend_agg",
                  "mlflow.store.tracking.sqlalchemy_store", "mlflow.store.model_registry.sqlalchemy_store"}
    print(json.dumps(sorted(packages | slow)))
''')


def test_warm_up_covers_cleargate_code_and_the_lazy_third_party_imports(monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    modules = warm_modules(load_project(ROOT / "params.yaml"))
    assert "cleargate.stages.train" in modules and "cleargate.stages.evaluate" in modules
    assert "cleargate.evaluation.plots" in modules  # evaluate's own closure, not only train's
    assert set(LAZY_IMPORTS) | set(SQL_STORE_IMPORTS) <= set(modules)


def test_a_project_of_trees_alone_is_warmed_without_lightning_or_captum(tmp_path, monkeypatch):
    """What a deep model alone needs is left out of a tree-only project's warm-up (a fit worker imports it in
    seconds for nothing); the project's params.yaml, a CNN among its models, still warms it."""
    from tests.projects import tiny_params, write_params

    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    trees = warm_modules(load_project(write_params(tmp_path / "params.yaml",
                                                   tiny_params("breast_cancer", digits=False))))
    deep = warm_modules(load_project(ROOT / "params.yaml"))
    assert {"cleargate.training.lightning", "cleargate.evaluation.attribution"} <= set(deep) - set(trees)
    assert {"cleargate.stages.train", "cleargate.stages.evaluate", "cleargate.models.trees"} <= set(trees)
    child = "import importlib, sys; [importlib.import_module(m) for m in sys.argv[1:]]; " \
            "print(sorted({'lightning', 'captum'} & set(sys.modules)))"
    done = subprocess.run([sys.executable, "-c", child, *trees], cwd=ROOT, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["[]"], "a tree project's warm-up imports Lightning or captum"


def test_a_tracking_server_needs_no_sql_store(monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:5000")
    modules = warm_modules(load_project(ROOT / "params.yaml"))
    assert not set(SQL_STORE_IMPORTS) & set(modules)
    assert set(LAZY_IMPORTS) <= set(modules)


@pytest.mark.slow
@pytest.mark.parametrize("warmed", ["all", "cleargate only"])
def test_after_the_warm_up_the_first_save_store_and_plot_import_nothing_heavy(tmp_path, monkeypatch, warmed):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    modules = warm_modules(load_project(ROOT / "params.yaml"))
    if warmed != "all":  # the warm-up as it was: the same check finds skops and the SQL store still to import
        modules = [m for m in modules if m.startswith("cleargate")]
    done = subprocess.run([sys.executable, "-c", CHILD, json.dumps(modules), str(tmp_path)], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert (tmp_path / "model.skops").is_file() and (tmp_path / "mlflow.db").is_file()
    left = json.loads(done.stdout.strip().splitlines()[-1])
    if warmed == "all":
        assert left == []
    else:
        assert {"skops", "skops.io", "mlflow.store.tracking.sqlalchemy_store"} <= set(left)


def test_the_end_of_run_imports_follow_the_store(monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    project = load_project(ROOT / "params.yaml")
    assert end_imports(project) == ["cleargate.tracking.model_runs", *SQL_STORE_IMPORTS]
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:5000")
    assert end_imports(project) == ["cleargate.tracking.model_runs"]


def test_imports_beside_the_run_load_in_a_thread_and_a_failing_one_raises_nothing():
    child = textwrap.dedent('''
        import sys, time
        from flows.beside import import_beside
        assert "wave" not in sys.modules
        import_beside(["no_such_module_here", "wave"])  # the first fails (silently: its importer reports it)
        import_beside(["wave"])
        deadline = time.monotonic() + 60
        while "wave" not in sys.modules and time.monotonic() < deadline:
            time.sleep(0.01)
        print("wave" in sys.modules)
    ''')
    done = subprocess.run([sys.executable, "-c", child], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["True"]
    assert "Traceback" not in done.stderr


@pytest.mark.slow
def test_the_warm_up_makes_a_new_sqlite_stores_tables(tmp_path, monkeypatch):
    """The run's own process no longer makes them before the flow starts (`check_store(tables=False)`)."""
    from mlflow.tracking import MlflowClient

    from cleargate.tracking import check_store

    database = tmp_path / "mlflow.db"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{database}")
    params = load_project(ROOT / "params.yaml").scope("breast_cancer")
    check_store(params, tables=False)
    assert not database.exists()
    warm_up.fn([], params)
    assert database.is_file()
    assert [e.name for e in MlflowClient(f"sqlite:///{database}").search_experiments()] == ["Default"]
