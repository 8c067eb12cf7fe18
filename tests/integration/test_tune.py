"""`cleargate tune` on a real project (digits splits, SQLite study, SQLite MLflow store): trials land in the
study and as MLflow child runs under one parent, with validation metrics only (the test split is deleted
first: a search that read it would fail); it prints the `dvc exp run -S` command and leaves params.yaml alone;
a second search resumes the same study. A deep model's trials report each epoch to the pruner."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import optuna
import pytest
import yaml
from mlflow.tracking import MlflowClient
from typer.testing import CliRunner

from cleargate.cli import app
from cleargate.stages import clean, ingest, split, validate
from tests.projects import CLEARGATE, load_params, tiny_params, write_params

SPACE = {"hgb": {"learning_rate": {"low": 0.05, "high": 0.5, "log": True}, "max_leaf_nodes": {"low": 4, "high": 16}},
         "cnn": {"learning_rate": {"low": 0.001, "high": 0.01, "log": True}, "hidden": {"choices": [16, 32]}}}


@pytest.fixture(scope="module")
def split_project(tmp_path_factory) -> Path:
    """Digits split into train/val; the test split removed."""
    root = tmp_path_factory.mktemp("tune")
    raw = tiny_params()
    raw["tuning"]["space"] = SPACE
    raw["train"]["cnn"].update({"max_epochs": 2, "channels": [8, 16]})
    params = load_params(write_params(root / "params.yaml", raw))
    for stage in (ingest, validate, clean, split):
        stage.run(params)
    params.layout.split("test").unlink()
    return root / "params.yaml"


def _tune(params_file: Path, model: str, trials: int) -> str:
    result = CliRunner().invoke(app, ["tune", model, "--trials", str(trials), "--params", str(params_file)])
    assert result.exit_code == 0, result.output
    return result.output


def _children(client: MlflowClient, parent_id: str) -> list:
    experiment = client.get_run(parent_id).info.experiment_id
    return client.search_runs([experiment], f"tags.mlflow.parentRunId = '{parent_id}'")


@pytest.mark.slow
def test_tune_fills_a_resumable_study_and_mlflow_compare_view(split_project: Path):
    before = split_project.read_bytes()
    output = _tune(split_project, "hgb", 3)
    assert split_project.read_bytes() == before, "params.yaml is never rewritten"
    command = re.search(r"dvc exp run (.+)", output).group(1)
    assert re.fullmatch(r"-S 'train\.hgb\.learning_rate=[0-9.e-]+' -S 'train\.hgb\.max_leaf_nodes=\d+'", command)

    storage = f"sqlite:///{split_project.parent}/.optuna/digits.db"
    study = optuna.load_study(study_name="hgb", storage=storage)
    assert len(study.trials) == 3 and all(t.state.name == "COMPLETE" for t in study.trials)

    params = load_params(split_project)
    client = MlflowClient(params.tracking.uri)
    parents = client.search_runs([client.get_experiment_by_name(params.experiment).experiment_id],
                                 "tags.stage = 'tune'")
    assert len(parents) == 1 and parents[0].info.status == "FINISHED"
    children = _children(client, parents[0].info.run_id)
    assert len(children) == 3 and {c.info.status for c in children} == {"FINISHED"}
    scores = sorted(c.data.metrics["val_macro_f1"] for c in children)
    assert not any(k.startswith("test_") for c in children for k in c.data.metrics), "validation only"
    assert sorted(t.value for t in study.trials) == pytest.approx(scores)
    assert parents[0].data.metrics["best_val_macro_f1"] == pytest.approx(study.best_value)
    assert {c.data.params["learning_rate"] for c in children} == {str(t.params["learning_rate"]) for t in study.trials}

    _tune(split_project, "hgb", 1)   # resume: the same study gains a trial, under a second parent run
    assert len(optuna.load_study(study_name="hgb", storage=storage).trials) == 4


@pytest.mark.slow
def test_a_deep_trial_reports_each_epoch_to_the_pruner(split_project: Path):
    output = _tune(split_project, "cnn", 2)
    assert "-S 'train.cnn.learning_rate=" in output and "-S 'train.cnn.hidden=" in output
    study = optuna.load_study(study_name="cnn", storage=f"sqlite:///{split_project.parent}/.optuna/digits.db")
    assert len(study.trials) == 2
    assert all(sorted(t.intermediate_values) == [0, 1] for t in study.trials), "val accuracy per epoch, reported"


@pytest.mark.slow
def test_the_tune_flow_runs_trials_side_by_side_on_the_pipelines_task_runner(split_project: Path):
    """`cleargate tune` with `tuning.workers` 2: trials two at once, on the pipeline's task runner (the tune flow)."""
    storage = f"sqlite:///{split_project.parent}/.optuna/digits.db"
    raw = yaml.safe_load(split_project.read_text())
    raw["tuning"]["workers"] = 2
    split_project.write_text(yaml.safe_dump(raw, sort_keys=False))
    before = len(optuna.load_study(study_name="hgb", storage=storage).trials) if _has_study(split_project, "hgb") else 0
    done = subprocess.run([CLEARGATE, "tune", "hgb", "--trials", "2", "--params", str(split_project)],
                          cwd=split_project.parent, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "dvc exp run -S 'train.hgb." in done.stdout
    trials = optuna.load_study(study_name="hgb", storage=storage).trials
    assert len(trials) == before + 2 and all(t.state.name == "COMPLETE" for t in trials[-2:])
    first, second = (t.user_attrs["worker"] for t in trials[-2:])
    assert first["pid"] != second["pid"], "each trial in its own worker process"
    ends = [t.datetime_complete.timestamp() for t in trials[-2:]]
    assert first["process_started"] < ends[1] and second["process_started"] < ends[0], \
        "the two workers ran side by side (each started before the other's trial was done)"


def _has_study(params_file: Path, name: str) -> bool:
    """Whether an earlier test of this module left the study (they share the project)."""
    database = params_file.parent / ".optuna" / "digits.db"
    return database.is_file() and name in {s.study_name for s in optuna.get_all_study_summaries(f"sqlite:///{database}")}
