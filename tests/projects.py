"""Tiny real projects for tests: the shrunk params.yaml, a git + DVC repo holding it, and the golden projects.

A golden project is a tiny project built once per test session through a real entry point (the pipeline flow,
`dvc repro`) and shared by every xdist worker: the first worker to ask builds it under a file lock, the others
wait for it. A test never touches a golden project itself: it takes a copy (`GoldenProject.clone`), so a test that
changes its project (a fault injected, a parameter changed, a model promoted) needs no training of its own. A
test whose subject is the build itself (the README's command, `kill -9` mid-fit, a server lost mid-run) still
builds its own project.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from filelock import FileLock

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
CLEARGATE = str(Path(PY).parent / "cleargate")   # the front door, from this environment


def tiny_params(*extra: str, digits: bool = True) -> dict[str, Any]:
    """The project's params.yaml, shrunk: digits 8x8 (dataset `digits`, models cnn/hgb/rf), same keys (so
    drift in keys fails). `extra` adds shrunk real datasets of the other kinds: "rehab", "breast_cancer",
    "covid" (every test of the real table, small trees: its slices by gender, age, demographics and site);
    `digits=False` leaves the images out (tests about the other kinds need not train a CNN). Each keeps its
    dataset's slices and explanations; the tiny LSTM's slice gates are off (its patients are judged, not
    gated: a 3-epoch fit is no model for one patient)."""
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    full, models = params["datasets"], params["train"]
    images = full["mnist"]
    images["data"].update({"source": "sklearn_digits", "image_shape": [8, 8], "min_class_count": 100})
    images["gates"].update({"minimum": {"accuracy": 0.85, "macro_f1": 0.85, "roc_auc": 0.95},
                            "min_class_recall": 0.6})  # latency: the real repeats (a p95 of 5 calls is a max)
    images["registry"]["model_name"] = "digits-classifier"
    images["evaluate"]["explain"].update({"max_rows": 200, "repeats": 2,        # 8x8 digits: 16 regions of 2x2
                                          "attribution": {"images_per_class": 8, "steps": 16}})
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
                               "must_beat_baselines": False, "latency_repeats": 20, "min_slice": None,
                               "max_slice_gap": None, "slice_vs_champion": False})
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
    if "covid" in extra:  # real COVID tests (15,524 rows), patients kept in one split; trees only
        covid = full["covid"]
        covid["gates"].update({"latency_repeats": 20})
        params["datasets"]["covid"] = covid
        params["train"]["covid_hgb"] = {**models["covid_hgb"], "max_iter": 30}
        params["train"]["covid_rf"] = {**models["covid_rf"], "n_estimators": 20}
    if not digits:
        del params["datasets"]["digits"]
        params["train"] = {k: v for k, v in params["train"].items() if v["dataset"] != "digits"}
    return params


def load_params(path: Path | str, dataset: str | None = None) -> Any:
    """One dataset's view of a params file (`DatasetParams`); `dataset` may be omitted when it declares one."""
    from cleargate.params import load_project

    project = load_project(path)
    return project.scope(dataset or next(iter(project.datasets)))


def write_params(path: Path, params: dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump(params, sort_keys=False))
    return path


def run(cmd: list[str], cwd: Path, check: bool = True, env: dict[str, str] | None = None,
        **kw: Any) -> subprocess.CompletedProcess[str]:
    base = env if env is not None else dict(os.environ)
    env = {**base, "PATH": f"{Path(PY).parent}:{base['PATH']}"}
    return subprocess.run(cmd, cwd=cwd, check=check, capture_output=True, text=True, env=env, **kw)


def python_child(script: str, *args: str, timeout: float, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    """`script` in a Python process of its own (signals, a worker's exit or a fork server are under test), importing
    this checkout's code."""
    return subprocess.run([PY, "-c", script, *args], capture_output=True, text=True, timeout=timeout, cwd=cwd,
                          env={**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT)])})


def commit(root: Path, message: str, *paths: str) -> None:
    """`git add PATHS` (everything when none) and `git commit`, as a user of the project would."""
    run(["git", "add", *(paths or ("-A",))], root)
    run(["git", "-c", "user.email=t@t", "-c", "user.name=t", "commit", "-qm", message], root)


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
    commit(root, "init")
    return root


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


# ---------------------------------------------------------------------------------------------------------------
# golden projects


def _flow(root: Path) -> subprocess.CompletedProcess[str]:
    """The pipeline flow, as `make run` starts it."""
    return run([CLEARGATE, "run"], root, check=False)


def _dvc_repro(root: Path) -> subprocess.CompletedProcess[str]:
    return run(["dvc", "repro"], root, check=False)


@dataclass(frozen=True)
class Recipe:
    what: str                                                  # one line: what the project holds and how it is built
    params: Callable[[], dict[str, Any]]
    build: Callable[[Path], subprocess.CompletedProcess[str]]
    commit_results: bool = False                               # `git add dvc.lock && git commit` after the build


RECIPES = {
    "digits": Recipe("8x8 digits (CNN candidate, HGB and RF baselines) through the pipeline flow",
                     lambda: tiny_params(), _flow),
    "records": Recipe("breast-cancer records (HGB and RF candidates) through the pipeline flow, dvc.lock committed",
                      lambda: tiny_params("breast_cancer", digits=False), _flow, commit_results=True),
    "mixed": Recipe("rehab recordings (LSTM candidate, HGB baseline) and breast-cancer records (HGB, RF) through "
                    "`dvc repro`, dvc.lock committed",
                    lambda: tiny_params("rehab", "breast_cancer", digits=False), _dvc_repro, commit_results=True),
}


def _manifest(root: Path) -> dict[str, list[int]]:
    """Every file of a project: its size and modification time (a test that wrote into a golden project shows)."""
    found = {}
    for path in root.rglob("*"):
        if path.is_file() and not path.is_symlink():
            stat = path.stat()
            found[str(path.relative_to(root))] = [stat.st_size, stat.st_mtime_ns]
    return found


@dataclass(frozen=True)
class GoldenProject:
    name: str
    root: Path
    output: str      # what the build printed (stdout, then stderr)
    seconds: float   # how long the build took

    @property
    def params(self) -> dict[str, Any]:
        return yaml.safe_load((self.root / "params.yaml").read_text())

    def clone(self, folder: Path) -> Path:
        """A copy of the built project in `folder`/project that a test may change as it likes: the git repo, the
        DVC cache, the MLflow store (its artifact locations moved to the copy) and every output."""
        recorded = json.loads((self.root.parent / "manifest.json").read_text())
        now = _manifest(self.root)
        if now != recorded:
            changed = sorted(set(now.items()) ^ {(k, tuple(v)) for k, v in recorded.items()}, key=str)[:10]
            raise AssertionError(f"golden project {self.name!r} at {self.root} was changed by a test (use "
                                 f"clone()): {changed}")
        target = folder / "project"
        shutil.copytree(self.root, target, symlinks=True)
        _move_store(target / "mlflow.db", str(self.root), str(target))
        return target


def _move_store(store: Path, old: str, new: str) -> None:
    """The embedded MLflow store records absolute artifact locations (experiments, runs, logged models, model
    versions): point every one under the golden project at the copy, or the copy's runs would write there."""
    if not store.is_file():
        return
    with sqlite3.connect(store) as db:
        tables = [row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        for table in tables:
            for column in db.execute(f'PRAGMA table_info("{table}")').fetchall():
                name, kind = column[1], (column[2] or "").upper()
                if "CHAR" in kind or "TEXT" in kind:
                    db.execute(f'UPDATE "{table}" SET "{name}" = replace("{name}", ?, ?) WHERE instr("{name}", ?) > 0',
                               (old, new, old))


def golden(name: str, shared: Path) -> GoldenProject:
    """The golden project `name` under `shared` (a folder every xdist worker of the session sees), built by the first
    caller while the others wait on its lock. A failed build fails every test that asks for it, with its output."""
    recipe, folder = RECIPES[name], shared / f"golden-{name}"
    with FileLock(str(shared / f"golden-{name}.lock")):
        record = folder / "build.json"
        if not record.is_file():
            if folder.exists():
                shutil.rmtree(folder)  # an interrupted build of an earlier worker
            folder.mkdir(parents=True)
            root = make_project(folder, recipe.params())
            started = time.monotonic()
            done = recipe.build(root)
            seconds = time.monotonic() - started
            if done.returncode == 0 and recipe.commit_results:
                commit(root, "results", "dvc.lock")
            (folder / "manifest.json").write_text(json.dumps(_manifest(root)))
            record.write_text(json.dumps({"returncode": done.returncode, "output": done.stdout + done.stderr,
                                          "seconds": seconds}))
        built = json.loads(record.read_text())
    if built["returncode"] != 0:
        raise AssertionError(f"golden project {name!r} ({recipe.what}) failed to build "
                             f"(exit {built['returncode']}):\n{built['output'][-4000:]}")
    return GoldenProject(name, folder / "project", built["output"], built["seconds"])


def sqlite_store(folder: Path) -> tuple[str, Any, Path]:
    """A fresh SQLite MLflow store in `folder`: its URI, a client of it, and an empty folder to register a model
    from (for registry tests that need no trained model)."""
    from mlflow.tracking import MlflowClient

    uri = f"sqlite:///{folder / 'mlflow.db'}"
    source = folder / "model"
    source.mkdir()
    return uri, MlflowClient(uri, uri), source
