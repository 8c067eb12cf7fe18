"""The new families through the real stages to a registered model in a temporary SQLite MLflow store:
colour images from a CIFAR-10-format folder (ResNet with SGD + cosine, ViT with AdamW + one-cycle, both
normalising per channel, cropped and flipped), and the rehab recordings (Elman RNN and transformer)."""

from pathlib import Path

import mlflow
import pandas as pd
import pytest
import torch
from mlflow.tracking import MlflowClient

from cleargate.kinds.image import to_tensor
from cleargate.models.bundle import ModelBundle
from cleargate.params import load_project
from cleargate.records import Evaluation, ValidationRecord
from cleargate.tracking import registry
from tests.cifar_fixture import write_cifar10
from tests.projects import run_stages, tiny_params, write_params

ENCODER = {"dim": 32, "depth": 1, "heads": 2, "ff_dim": 64}


def cifar_params(folder: Path) -> dict:
    params = tiny_params()
    entry = params["datasets"].pop("digits")
    entry["data"] = {"kind": "image", "source": "cifar10_binary", "source_path": str(folder),
                     "image_shape": [3, 32, 32], "classes": list(range(10)), "pixel_min": 0, "pixel_max": 255,
                     "min_class_count": 20}
    entry["validation"]["policy"]["channels"] = "fail"
    # latency: MLflow's pyfunc enforces its schema column by column, ~1.5 s a call for 3,072 columns on a
    # loaded 2-core machine whatever the batch size; these gates are not what this test is about
    entry["gates"].update({"minimum": {"accuracy": 0.8, "macro_f1": 0.8, "roc_auc": 0.95}, "min_class_recall": 0.5,
                           "max_ece": 0.3, "must_beat_baselines": False, "latency_repeats": 5,
                           "max_latency_p95_ms_single": 20000, "max_latency_p95_ms_batch": 20000})
    entry["registry"]["model_name"] = "cifar-classifier"
    params["datasets"] = {"cifar": entry}
    cnn = params["train"]["cnn"]
    common = {"dataset": "cifar", "role": "candidate", "dropout": 0.0, "max_epochs": 6, "batch_size": 32,
              "patience": 6, "normalize_inputs": True, "augment_flip": True}
    params["train"] = {
        "res": {**common, "family": "resnet", "channels": [8, 16], "hidden": cnn["hidden"], "optimizer": "sgd",
                "momentum": 0.9, "nesterov": True, "weight_decay": 5e-4, "learning_rate": 0.05,
                "lr_schedule": "cosine", "warmup_epochs": 1, "augment_crop_padding": 2},
        "vit": {**common, "family": "vit", "patch_size": 8, **ENCODER, "pooling": "mean", "positions": "sinusoidal",
                "optimizer": "adamw", "weight_decay": 1e-4, "learning_rate": 0.003, "lr_schedule": "onecycle",
                "warmup_epochs": 2},
        "trees": {**params["train"]["rf"], "dataset": "cifar", "role": "baseline", "n_estimators": 10},
    }
    return params



@pytest.mark.slow
def test_colour_images_from_a_cifar_folder_reach_the_registry(tmp_path: Path):
    folder = write_cifar10(tmp_path / "downloads", per_class=5)   # 300 images, 30 per class
    project = load_project(write_params(tmp_path / "params.yaml", cifar_params(folder)))
    params = project.scope("cifar")
    result = run_stages(params)

    checks = {c["check"] for c in ValidationRecord.load(params.layout.validation_dir / "result.json").checks
              if c["batch"] in ("channel_values", "channel_spread")}
    assert checks == {"values", "channels"}, "validated per channel"
    accuracies = {m: Evaluation.load(params.layout.model(m).metrics).accuracy for m in ("res", "vit")}
    assert min(accuracies.values()) > 0.8, accuracies
    assert result.outcome == "promoted" and result.champion == "1", result.message()

    train_split = pd.read_parquet(params.layout.split("train"))
    expected = to_tensor(train_split, params.dataset).mean(dim=(0, 2, 3))
    for name, network in (("res", "SmallResNet"), ("vit", "VisionTransformer")):
        bundle = ModelBundle.load(params.layout.model(name).dir)
        assert type(bundle.model).__name__ == network
        state = bundle.model.state_dict()
        assert torch.allclose(state["normaliser.mean"], expected, atol=1e-4), "training-split statistics, saved"

    mlflow.set_tracking_uri(params.tracking.uri)
    mlflow.set_registry_uri(params.tracking.uri)
    model = mlflow.pyfunc.load_model("models:/cifar-classifier@champion")
    raw = pd.read_parquet(params.layout.raw)
    predicted = model.predict(raw.drop(columns="label"))
    assert (predicted == raw["label"].to_numpy()).mean() > 0.8
    assert model.metadata.metadata["input_columns"][-1] == "pixel_3071"  # channel-major: 3 x 32 x 32
    client = MlflowClient(params.tracking.uri)
    assert registry.alias_version(client, "cifar-classifier", "champion") == "1"
    assert client.get_model_version("cifar-classifier", "1").tags["gate.passed"] == "true"


@pytest.mark.slow
def test_an_elman_rnn_and_a_transformer_train_on_the_rehab_recordings_and_register(tmp_path: Path):
    params = tiny_params("rehab", digits=False)
    lstm = params["train"].pop("lstm")
    params["train"]["rnn"] = {**lstm, "family": "rnn", "hidden": 16, "max_epochs": 4}
    params["train"]["attention"] = {**{k: v for k, v in lstm.items() if k not in ("hidden", "layers", "bidirectional")},
                                    "family": "transformer", "patch_size": 4, **ENCODER, "pooling": "cls",
                                    "positions": "learned", "max_epochs": 4}
    project = load_project(write_params(tmp_path / "params.yaml", params))
    rehab = project.scope("rehab")
    result = run_stages(rehab)
    for name, network in (("rnn", "RecurrentNet"), ("attention", "SequenceTransformer")):
        bundle = ModelBundle.load(rehab.layout.model(name).dir)
        assert type(bundle.model).__name__ == network and bundle.record.epochs == 4
        assert Evaluation.load(rehab.layout.model(name).metrics).macro_f1 > 1 / 7, "better than chance"
    assert type(ModelBundle.load(rehab.layout.model("rnn").dir).model.rnn).__name__ == "RNN"
    assert result.selected in ("rnn", "attention") and result.version == "1"
    client = MlflowClient(rehab.tracking.uri)
    version = client.get_model_version("rehab-exercise-classifier", "1")
    assert version.tags["gate.macro_f1"] in ("pass", "fail") and version.tags["model"] == result.selected
