"""Optimisers and learning-rate schedules from params: the old fixed behaviour is `adamw` + `plateau`."""

from pathlib import Path

import numpy as np
import pytest
import torch

from cleargate.config.hyperparameters import CNNConfig, Optimisation
from cleargate.config.trainer import TrainerConfig
from cleargate.errors import ConfigError
from cleargate.kinds.image import ImageData, clean, records_from_arrays
from cleargate.models.bundle import Manifest
from cleargate.models.classifier import Classifier
from cleargate.models.optim import WARMUP_START, build_optimizer, build_schedule
from tests.projects import load_params, tiny_params, write_params


def settings(**over) -> Optimisation:
    base = {"optimizer": "adamw", "learning_rate": 0.1, "weight_decay": 0.0, "lr_schedule": "plateau",
            "max_epochs": 10}
    return Optimisation(**{**base, **over})


def trajectory(config: Optimisation, steps: int = 100) -> list[float]:
    """The learning rate at every optimiser step of a run of `steps` steps (10 per epoch)."""
    optimiser = build_optimizer([torch.nn.Parameter(torch.zeros(1))], config)
    schedule = build_schedule(optimiser, config, lambda: steps)
    rates = []
    for _ in range(steps):
        rates.append(optimiser.param_groups[0]["lr"])
        optimiser.step()
        if schedule is not None:
            schedule["scheduler"].step()
    return rates


def test_plateau_with_adamw_is_what_every_model_had():
    """AdamW(lr, weight_decay) and ReduceLROnPlateau(factor 0.5, patience 1) on val_loss, epoch by epoch."""
    module = Classifier(torch.nn.Linear(4, 3), 3, settings(learning_rate=0.002, weight_decay=1e-4))
    configured = module.configure_optimizers()   # plateau never asks the trainer for its step count
    optimiser, schedule = configured["optimizer"], configured["lr_scheduler"]
    assert type(optimiser) is torch.optim.AdamW
    assert optimiser.defaults["lr"] == 0.002 and optimiser.defaults["weight_decay"] == 1e-4
    plateau = schedule["scheduler"]
    assert type(plateau) is torch.optim.lr_scheduler.ReduceLROnPlateau
    assert (plateau.factor, plateau.patience, plateau.mode) == (0.5, 1, "min")
    assert schedule["monitor"] == "val_loss" and "interval" not in schedule   # Lightning's default: per epoch


def test_sgd_takes_momentum_nesterov_and_weight_decay():
    optimiser = build_optimizer([torch.nn.Parameter(torch.zeros(1))],
                                settings(optimizer="sgd", momentum=0.9, nesterov=True, weight_decay=5e-4))
    assert type(optimiser) is torch.optim.SGD
    assert {k: optimiser.defaults[k] for k in ("lr", "momentum", "nesterov", "weight_decay")} == \
        {"lr": 0.1, "momentum": 0.9, "nesterov": True, "weight_decay": 5e-4}


def test_cosine_warms_up_then_anneals_to_zero():
    rates = trajectory(settings(optimizer="sgd", momentum=0.9, lr_schedule="cosine", warmup_epochs=2))
    assert rates[0] == pytest.approx(0.1 * WARMUP_START)
    assert all(a < b for a, b in zip(rates[:20], rates[1:21], strict=True)), "linear warm-up over 2 epochs"
    assert rates[20] == pytest.approx(0.1)
    assert all(a >= b for a, b in zip(rates[20:], rates[21:], strict=False)) and rates[-1] < 1e-3


def test_cosine_without_warmup_starts_at_the_rate():
    rates = trajectory(settings(lr_schedule="cosine"))
    assert rates[0] == pytest.approx(0.1) and rates[50] == pytest.approx(0.05, abs=0.002) and rates[-1] < 1e-3


def test_onecycle_peaks_at_the_end_of_its_warmup():
    rates = trajectory(settings(optimizer="sgd", momentum=0.9, lr_schedule="onecycle", warmup_epochs=3))
    assert int(np.argmax(rates)) == 29 and max(rates) == pytest.approx(0.1), "rises over the first 30 steps"
    assert rates[0] < 0.01 and rates[-1] < 1e-4


def test_none_is_constant_after_its_warmup_and_asks_nothing_without_one():
    rates = trajectory(settings(lr_schedule="none", warmup_epochs=1))
    assert rates[0] < rates[5] < rates[10] == pytest.approx(0.1) == rates[-1]

    def never() -> int:
        raise AssertionError("a constant rate needs no step count")

    optimiser = build_optimizer([torch.nn.Parameter(torch.zeros(1))], settings(lr_schedule="none"))
    assert build_schedule(optimiser, settings(lr_schedule="none"), never) is None


@pytest.mark.parametrize(("change", "expected"), [
    ({"momentum": 0.9}, "momentum and nesterov apply to optimizer 'sgd' only"),
    ({"optimizer": "sgd", "nesterov": True}, "nesterov needs momentum > 0"),
    ({"lr_schedule": "onecycle"}, "'onecycle' needs 0 < warmup_epochs < max_epochs"),
    ({"warmup_epochs": 2}, "warmup_epochs does not apply to lr_schedule 'plateau'"),
    ({"lr_schedule": "cosine", "warmup_epochs": 12}, "warmup_epochs must be less than max_epochs"),
    ({"optimizer": "adam"}, "train.cnn.optimizer"),
    ({"lr_schedule": "step"}, "train.cnn.lr_schedule"),
])
def test_bad_optimisation_params_name_the_key(tmp_path: Path, change: dict, expected: str):
    params = tiny_params()
    params["train"]["cnn"].update(change)
    with pytest.raises(ConfigError) as err:
        load_params(write_params(tmp_path / "params.yaml", params))
    assert "train.cnn" in str(err.value) and expected in str(err.value)


def test_a_model_saved_before_optimisers_were_params_still_loads():
    """Registered versions carry the old model.json: they were trained with AdamW and the plateau schedule."""
    config = CNNConfig(dataset="d", family="cnn", role="candidate", channels=[8], hidden=8, dropout=0, max_epochs=1,
                       batch_size=8, optimizer="adamw", learning_rate=0.01, weight_decay=0, lr_schedule="plateau",
                       patience=1)
    legacy = config.model_dump(mode="json", exclude={"optimizer", "lr_schedule", "momentum", "nesterov",
                                                     "warmup_epochs", "augment_crop_padding", "augment_flip",
                                                     "normalize_inputs"})
    data = {"name": "d", "kind": "image", "source": "sklearn_digits", "image_shape": [8, 8], "classes": [0, 1],
            "min_class_count": 1}
    manifest = Manifest.model_validate({"name": "m", "family": "cnn", "flavour": "torch", "config": legacy,
                                        "dataset": data})
    assert manifest.config == config


@pytest.fixture(scope="module")
def digits_splits():
    from sklearn.datasets import load_digits

    bunch = load_digits()
    data = ImageData(name="digits", kind="image", source="sklearn_digits", image_shape=(8, 8),
                     classes=list(range(10)), min_class_count=1, pixel_max=16)
    frame, _ = clean(records_from_arrays(bunch.images.astype(np.int64), bunch.target), data)
    return data, frame.iloc[:400], frame.iloc[400:500], frame.iloc[500:800]


@pytest.mark.slow
@pytest.mark.parametrize("schedule", [
    {"optimizer": "sgd", "momentum": 0.9, "nesterov": True, "lr_schedule": "onecycle", "warmup_epochs": 1,
     "learning_rate": 0.1, "weight_decay": 5e-4},
    {"optimizer": "adamw", "lr_schedule": "cosine", "warmup_epochs": 1, "learning_rate": 0.01},
    {"optimizer": "sgd", "momentum": 0.9, "lr_schedule": "none", "learning_rate": 0.05},
], ids=["sgd-onecycle", "adamw-cosine-warmup", "sgd-constant"])
def test_a_fit_with_each_optimiser_and_schedule_learns(digits_splits, schedule):
    """Through the real Lightning fit: the schedule steps per batch, the best checkpoint reloads (weights only)."""
    from cleargate.training.lightning import fit_deep

    data, train, val, test = digits_splits
    config = CNNConfig(**{"dataset": "digits", "family": "cnn", "role": "candidate", "channels": [8, 16],
                          "hidden": 32, "dropout": 0.0, "max_epochs": 3, "batch_size": 50, "patience": 3,
                          "weight_decay": 0.0, **schedule})
    trainer = TrainerConfig(accelerator="cpu", devices=1, strategy="auto", num_nodes=1, precision="32-true",
                            deterministic=True)
    bundle = fit_deep("m", config, trainer, data, train, val, seed=0)
    probabilities = bundle.predictor().predict_proba(test)
    assert (probabilities.argmax(axis=1) == test["label"].to_numpy()).mean() > 0.5, "chance is 0.1"
    assert bundle.record.epochs == 3 and bundle.manifest.config.lr_schedule == schedule["lr_schedule"]
