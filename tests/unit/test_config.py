from pathlib import Path

import pytest
import yaml

from cleargate.errors import ConfigError
from cleargate.params import load_project
from tests.projects import ROOT, load_params, tiny_params, write_params


def test_project_params_load_and_anchor_paths_at_the_project():
    project = load_project(ROOT / "params.yaml")
    assert project.paths.raw == ROOT / "data" / "raw"
    assert project.tracking.uri == f"sqlite:///{ROOT / 'mlflow.db'}"
    assert {d.data.kind for d in project.datasets.values()} == {"image", "sequence", "tabular"}
    mnist = project.scope("mnist")
    assert {m.role for m in mnist.train.values()} == {"candidate", "baseline"}
    assert set(mnist.train) == {"mnist_cnn", "mnist_hgb", "mnist_rf"} and mnist.experiment == "cleargate-mnist"
    rehab = project.scope("rehab")
    assert {m.family for m in rehab.train.values()} >= {"lstm", "gru", "hist_gradient_boosting", "random_forest",
                                                        "extra_trees"}
    assert len(set(project.registered_models())) == 4


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (lambda p: p["train"]["cnn"].update(learnig_rate=0.1), "train.cnn.learnig_rate: unknown key"),
        (lambda p: p["train"]["cnn"].update(learning_rate=-1), "train.cnn.learning_rate"),
        (lambda p: p["train"]["cnn"].update(max_epochs=10**9), "train.cnn.max_epochs"),
        (lambda p: p["datasets"]["digits"]["split"].update(test_size=0.6, val_size=0.4), "datasets.digits.split"),
        (lambda p: p.update(sed=1), "sed: unknown key"),
        (lambda p: p["train"].update(mlp={"family": "mlp", "role": "baseline", "dataset": "digits"}), "train.mlp"),
        (lambda p: p["datasets"]["digits"]["data"].update(source="imagenet"), "datasets.digits.data.source"),
        (lambda p: p["datasets"]["digits"]["gates"]["minimum"].update(accuracy=1.5),
         "datasets.digits.gates.minimum.accuracy"),
        (lambda p: p["datasets"]["digits"]["gates"]["minimum"].update(acuracy=0.5),
         "datasets.digits.gates.minimum.acuracy"),
        (lambda p: p["train"]["cnn"].update(dataset="mnist"), "train.cnn.dataset: unknown dataset 'mnist'"),
        (lambda p: p["train"]["cnn"].update(family="lstm", channels=None, augment_degrees=None), "train.cnn"),
        (lambda p: p["scoring"].update(chunk_rows=0), "scoring.chunk_rows"),
        (lambda p: p["scoring"].update(chunk_row=500), "scoring.chunk_row: unknown key"),
        (lambda p: p["retention"]["keep_days"].update(monitoring=-1), "retention.keep_days.monitoring"),
        (lambda p: p["retention"]["keep_days"].update(scorng=5), "retention.keep_days.scorng: unknown key"),
        (lambda p: p["retention"].update(flow_run_days=0), "retention.flow_run_days"),
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
    with pytest.raises(ConfigError, match="unknown model 'cnnn'.*cnn, hgb, rf for dataset 'digits'"):
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
            for part in key.replace("${key}", "mnist" if name not in ("train", "evaluate") else "mnist_cnn") \
                    .replace("${item.dataset}", "mnist").split("."):
                assert part in node, f"dvc.yaml stage {name} reads unknown param {key}"
                node = node[part]


def test_a_recurrent_family_cannot_train_on_images(tmp_path: Path):
    params = tiny_params()
    params["train"]["lstm"] = {"dataset": "digits", "family": "lstm", "role": "candidate", "hidden": 8,
                               "dropout": 0, "max_epochs": 1, "batch_size": 8, "learning_rate": 0.01, "patience": 1,
                               "weight_decay": 0, "layers": 1, "bidirectional": False, "optimizer": "adamw",
                               "lr_schedule": "plateau"}
    with pytest.raises(ConfigError, match="family 'lstm' cannot train on image dataset 'digits'"):
        load_params(write_params(tmp_path / "params.yaml", params))


@pytest.mark.parametrize("model", ["fashion_cnn", "mnist_vit", "cifar10_resnet", "cifar10_hgb", "cifar10_rf"])
def test_models_shipped_commented_out_are_valid_when_uncommented(model: str):
    """What params.yaml offers to uncomment is checked like the rest (the measured figures came from it)."""
    from pydantic import TypeAdapter

    from cleargate.config.hyperparameters import ModelConfig
    from tests.commented import uncommented

    entry = yaml.safe_load(uncommented((ROOT / "params.yaml").read_text(), model))[model]
    config = TypeAdapter(ModelConfig).validate_python(entry)
    assert config.role in ("candidate", "baseline")
