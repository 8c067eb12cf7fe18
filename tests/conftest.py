"""Shared fixtures: a tiny real configuration (sklearn's 8x8 digits), and real local components only."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from cleargate.runtime import apply_offline_env

ROOT = Path(__file__).resolve().parent.parent


def pytest_configure(config: pytest.Config) -> None:
    apply_offline_env()
    os.environ.pop("MLFLOW_TRACKING_URI", None)
    # One Prefect home for the whole suite: its first ephemeral start is slow, later ones are not. Under xdist
    # (`make test` runs two workers) each worker has its own: two ephemeral servers never share one SQLite file.
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    home = os.environ.get("PREFECT_HOME", str(ROOT / ".prefect"))
    os.environ["PREFECT_HOME"] = f"{home}-{worker}" if worker else home
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "600")
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")


@pytest.hookimpl(optionalhook=True)  # pytest-xdist's hook: unknown where xdist is not installed
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """How `make test` shares the tests between its xdist workers: a module's tests stay together (a
    module-scoped fixture, such as a trained project, is built once) and every test of the team stack
    (tests/ops) runs in one worker, so the session's stack starts once. (xdist's own `xdist_group` marks are
    not applied under pytest 9: node ids are no longer plain strings there.)"""
    from xdist.scheduler import LoadScopeScheduling

    class ModuleScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            module = nodeid.split("::", 1)[0]
            return "tests/ops" if module.startswith("tests/ops/") else module

    return ModuleScheduling(config, log)


@pytest.fixture(autouse=True)
def _isolate_mlflow_uri():
    """mlflow.set_tracking_uri/set_registry_uri keep the URI in a module global and export it; never let one
    test's store leak into the next (a client built with only a tracking URI reads the global registry URI)."""
    yield
    mlflow = sys.modules.get("mlflow")  # never imported: nothing to reset
    if mlflow is not None:
        mlflow.set_tracking_uri(None)
        mlflow.set_registry_uri(None)
    for key in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI"):
        os.environ.pop(key, None)


def tiny_params(*extra: str, digits: bool = True) -> dict[str, Any]:
    """The project's params.yaml, shrunk: digits 8x8 (dataset `digits`, models cnn/hgb/rf), same keys (so
    drift in keys fails). `extra` adds shrunk real datasets of the other kinds: "rehab", "breast_cancer";
    `digits=False` leaves the images out (tests about the other kinds need not train a CNN)."""
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    full, models = params["datasets"], params["train"]
    images = full["mnist"]
    images["data"].update({"source": "sklearn_digits", "image_shape": [8, 8], "min_class_count": 100})
    images["gates"].update({"minimum": {"accuracy": 0.85, "macro_f1": 0.85, "roc_auc": 0.95},
                            "min_class_recall": 0.6})  # latency: the real repeats (a p95 of 5 calls is a max)
    images["registry"]["model_name"] = "digits-classifier"
    params["tracking"]["experiment"] = "cleargate-test"
    params["datasets"] = {"digits": images}
    params["train"] = {
        "cnn": {**models["mnist_cnn"], "dataset": "digits", "channels": [16, 32], "hidden": 64, "max_epochs": 12,
                "patience": 3, "batch_size": 64, "learning_rate": 0.005, "augment_degrees": 0, "augment_shift": 0,
                "augment_scale": 0},
        "hgb": {**models["mnist_hgb"], "dataset": "digits", "max_iter": 3, "max_leaf_nodes": 8},
        "rf": {**models["mnist_rf"], "dataset": "digits", "n_estimators": 3},
    }
    if "rehab" in extra:  # real IMU recordings; a small LSTM for a few epochs, judged by low bars
        rehab = full["rehab"]
        rehab["data"].update({"resample_hz": 10, "window": 40, "stride": 40})
        rehab["gates"].update({"minimum": {"macro_f1": 0.3}, "min_class_recall": 0.0, "max_ece": 0.5,
                               "must_beat_baselines": False, "latency_repeats": 20})
        params["datasets"]["rehab"] = rehab
        params["train"]["lstm"] = {**models["rehab_lstm"], "hidden": 16, "layers": 1, "max_epochs": 3,
                                   "patience": 2, "augment_scale": 0, "augment_noise": 0}
        params["train"]["rehab_hgb"] = {**models["rehab_hgb"], "max_iter": 5}
    if "breast_cancer" in extra:  # real patients, tabular; trees only
        cancer = full["breast_cancer"]
        cancer["gates"].update({"latency_repeats": 20})
        params["datasets"]["breast_cancer"] = cancer
        params["train"]["cancer_hgb"] = {**models["breast_cancer_hgb"], "max_iter": 20}
        params["train"]["cancer_rf"] = {**models["breast_cancer_rf"], "n_estimators": 20}
    if not digits:
        del params["datasets"]["digits"]
        params["train"] = {k: v for k, v in params["train"].items() if v["dataset"] != "digits"}
    return params


def write_params(path: Path, params: dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump(params, sort_keys=False))
    return path


@pytest.fixture
def params_file(tmp_path: Path) -> Path:
    return write_params(tmp_path / "params.yaml", tiny_params())


def run(cmd: list[str], cwd: Path, check: bool = True, env: dict[str, str] | None = None,
        **kw: Any) -> subprocess.CompletedProcess[str]:
    base = env if env is not None else dict(os.environ)
    env = {**base, "PATH": f"{Path(os.sys.executable).parent}:{base['PATH']}"}
    return subprocess.run(cmd, cwd=cwd, check=check, capture_output=True, text=True, env=env, **kw)


def make_project(tmp_path: Path, params: dict[str, Any] | None = None) -> Path:
    """A real git + DVC repo with the project's dvc.yaml and a tiny params.yaml."""
    root = tmp_path / "project"
    root.mkdir()
    for name in ("dvc.yaml", ".dvcignore", ".gitignore", "Makefile", "requirements.lock", "pyproject.toml",
                 "README.md"):
        shutil.copy2(ROOT / name, root / name)  # copy2 keeps mtimes: make sees the venv as up to date
    shutil.copytree(ROOT / "src", root / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    for code in ("flows", "infra", "scripts"):
        shutil.copytree(ROOT / code, root / code, ignore=shutil.ignore_patterns("__pycache__"))
    write_params(root / "params.yaml", params or tiny_params())
    run(["git", "init", "-q"], root)
    run(["dvc", "init", "-q"], root)
    run(["dvc", "config", "core.analytics", "false"], root)
    run(["git", "add", "-A"], root)
    run(["git", "-c", "user.email=t@t", "-c", "user.name=t", "commit", "-qm", "init"], root)
    return root


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return make_project(tmp_path)


def run_stages(params: Any) -> Any:
    """Every stage of one dataset in the process, in the graph's order, every model of it; the release."""
    from cleargate.stages import clean, evaluate, gate, ingest, promote, split, train, validate

    for stage in (ingest, validate, clean, split):
        stage.run(params)
    for name in params.train:
        train.run(params, name)
        evaluate.run(params, name)
    gate.run(params)
    return promote.run(params)
