from pathlib import Path

import pytest
import yaml

from cleargate.config import load_params
from cleargate.errors import ConfigError
from tests.conftest import ROOT, tiny_params, write_params


def test_project_params_load_and_anchor_paths_at_the_project():
    params = load_params(ROOT / "params.yaml")
    assert params.paths.raw == ROOT / "data" / "raw"
    assert params.tracking.uri == f"sqlite:///{ROOT / 'mlflow.db'}"
    assert {m.role for m in params.train.values()} == {"candidate", "baseline"}


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (lambda p: p["train"]["cnn"].update(learnig_rate=0.1), "train.cnn.learnig_rate: unknown key"),
        (lambda p: p["train"]["cnn"].update(learning_rate=-1), "train.cnn.learning_rate"),
        (lambda p: p["train"]["cnn"].update(max_epochs=10**9), "train.cnn.max_epochs"),
        (lambda p: p["split"].update(test_size=0.6, val_size=0.4), "split"),
        (lambda p: p.update(sed=1), "sed: unknown key"),
        (lambda p: p["train"].update(mlp={"family": "mlp", "role": "baseline"}), "train.mlp"),
        (lambda p: p["dataset"].update(source="imagenet"), "dataset.source"),
        (lambda p: p["gates"].update(min_accuracy=1.5), "gates.min_accuracy"),
    ],
)
def test_bad_params_name_the_key(tmp_path: Path, mutate, expected: str):
    params = tiny_params()
    mutate(params)
    with pytest.raises(ConfigError) as err:
        load_params(write_params(tmp_path / "params.yaml", params))
    assert str(tmp_path / "params.yaml") in str(err.value)
    assert expected in str(err.value)


def test_unknown_model_name_lists_the_known_ones(params_file: Path):
    with pytest.raises(ConfigError, match="unknown model 'cnnn'.*cnn, hgb, rf"):
        load_params(params_file).model("cnnn")


def test_missing_and_malformed_files(tmp_path: Path):
    with pytest.raises(ConfigError, match="not found"):
        load_params(tmp_path / "nope.yaml")
    (tmp_path / "bad.yaml").write_text("seed: [1,\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_params(tmp_path / "bad.yaml")


def test_must_beat_baselines_needs_a_baseline(tmp_path: Path):
    params = tiny_params()
    params["train"] = {"cnn": params["train"]["cnn"]}
    with pytest.raises(ConfigError, match="no model in train has role 'baseline'"):
        load_params(write_params(tmp_path / "params.yaml", params))


def test_every_stage_reads_only_declared_params():
    """dvc.yaml names params keys that exist in params.yaml (a renamed key would break reproducibility)."""
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    dvc = yaml.safe_load((ROOT / "dvc.yaml").read_text())
    for name, stage in dvc["stages"].items():
        body = stage.get("do", stage)
        for key in body.get("params", []):
            node = params
            for part in key.replace("${key}", "cnn").split("."):
                assert part in node, f"dvc.yaml stage {name} reads unknown param {key}"
                node = node[part]
