"""The search space as params.yaml declares it: checked against the model's entry, sampled with Optuna's real
trial objects, written back as the `dvc exp run -S` keys of params.yaml; where the studies are kept."""

from __future__ import annotations

from pathlib import Path

import optuna
import pytest

from cleargate.errors import ConfigError
from cleargate.params import ProjectParams, load_project
from cleargate.tuning.space import dvc_command, search_space, suggest, with_values
from cleargate.tuning.study import STORAGE_ENV, shown, storage_url
from tests.projects import ROOT, tiny_params


def _project(space: dict) -> ProjectParams:
    raw = tiny_params()
    raw["tuning"]["space"] = space
    return ProjectParams.model_validate(raw).resolve(Path("/srv/project"))


def test_the_project_params_declare_a_space_of_real_fields_for_each_tuned_model():
    project = load_project(ROOT / "params.yaml")
    for model in project.tuning.space:
        assert search_space(project, model)


def test_values_follow_the_entry_types_and_apply_to_a_copy():
    project = _project({"cnn": {"learning_rate": {"low": 0.001, "high": 0.01, "log": True},
                                "hidden": {"low": 16, "high": 64, "step": 16},
                                "channels": {"choices": [[8, 16], [16, 32]]}}})
    config = project.train["cnn"]
    trial = optuna.trial.FixedTrial({"learning_rate": 0.003, "hidden": 48, "channels": "[8, 16]"})
    values = suggest(trial, search_space(project, "cnn"), config)
    assert values == {"learning_rate": 0.003, "hidden": 48, "channels": [8, 16]}
    assert isinstance(values["hidden"], int)
    tuned = with_values("cnn", config, values)
    assert (tuned.learning_rate, tuned.hidden, tuned.channels) == (0.003, 48, [8, 16])
    assert project.train["cnn"].hidden == 64, "the project's entry is untouched"
    assert dvc_command("cnn", values) == ("dvc exp run -S 'train.cnn.learning_rate=0.003' -S 'train.cnn.hidden=48' "
                                          "-S 'train.cnn.channels=[8, 16]'")


@pytest.mark.parametrize(("space", "model", "error"), [
    ({"cnn": {"hiden": {"choices": [1, 2]}}}, "cnn", "tuning.space.cnn.hiden: not a tunable field of train.cnn"),
    ({"cnn": {"family": {"choices": ["resnet"]}}}, "cnn", "tuning.space.cnn.family: not a tunable field"),
    ({}, "rf", "tuning.space.rf: no search space declared for rf"),
    ({"rf": {"n_estimators": {"low": 1, "high": 5}}}, "svm", "unknown model 'svm'"),
])
def test_a_bad_space_is_one_line(space, model, error):
    with pytest.raises(ConfigError, match=error):
        search_space(_project(space), model)


def test_a_value_the_entry_refuses_is_one_line():
    project = _project({"cnn": {"dropout": {"low": 0.5, "high": 1.5}}})
    with pytest.raises(ConfigError, match=r"tuning.space.cnn: the values \{'dropout': 1.2\} make an invalid "
                                          r"train.cnn \(dropout: "):
        with_values("cnn", project.train["cnn"], {"dropout": 1.2})


def test_studies_live_under_the_project_unless_the_environment_names_a_shared_store(monkeypatch, tmp_path):
    project = _project({}).resolve(tmp_path)
    monkeypatch.delenv(STORAGE_ENV, raising=False)
    assert storage_url(project, "digits") == f"sqlite:///{tmp_path}/.optuna/digits.db"
    assert (tmp_path / ".optuna").is_dir()
    team = "postgresql+psycopg2://cleargate:s3cret@127.0.0.1:5433/optuna"
    monkeypatch.setenv(STORAGE_ENV, team)
    assert storage_url(project, "digits") == team
    assert shown(team) == "postgresql+psycopg2://cleargate:***@127.0.0.1:5433/optuna"
