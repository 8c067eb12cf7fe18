"""Fit one model on the train split and return its bundle; pure of files, tracking and orchestration.

Trees are fitted here; deep models by `cleargate.training.lightning.fit_deep`, imported only for
them, so a tree stage (and `dvc repro` of one) never pays for importing torch and Lightning.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pandas as pd

from cleargate.config.hyperparameters import ModelConfig, TreeConfig
from cleargate.config.trainer import TrainerConfig
from cleargate.kinds import DataContract, kind_of
from cleargate.models.bundle import Manifest, ModelBundle
from cleargate.models.trees import tree_pipeline
from cleargate.records import TrainRecord
from cleargate.schema import LABEL

EpochReport = Callable[[int, dict[str, float]], None]


def fit_tree(name: str, config: TreeConfig, data: DataContract, train: pd.DataFrame, seed: int) -> ModelBundle:
    """Fit on the stored feature columns, so the fitted pipeline takes records as they are stored."""
    estimator = tree_pipeline(config, data, seed)
    started = time.perf_counter()
    estimator.fit(train[kind_of(data).feature_columns(data)], train[LABEL])
    fit_seconds = time.perf_counter() - started
    record = TrainRecord(model=name, family=config.family, flavour="sklearn", fit_seconds=fit_seconds, epochs=0,
                         n_parameters=0, size_bytes=0, device="cpu")
    manifest = Manifest(name=name, family=config.family, flavour="sklearn", config=config, dataset=data)
    return ModelBundle(manifest, estimator, record)


def fit_model(name: str, config: ModelConfig, trainer: TrainerConfig, data: DataContract, train: pd.DataFrame,
              val: pd.DataFrame, seed: int, on_epoch: EpochReport | None = None, init: Any = None,
              callbacks: list[Any] | None = None) -> ModelBundle:
    """Seeded fit of one model of any flavour; deep fits report each epoch's metrics to `on_epoch`, start from
    `init` (a fine-tuned model's parent, `training.finetune.InitWeights`) and take extra Lightning `callbacks`."""
    if config.flavour == "torch":
        from cleargate.training.lightning import fit_deep

        return fit_deep(name, config, trainer, data, train, val, seed, on_epoch, init,  # type: ignore[arg-type]
                        callbacks)
    return fit_tree(name, config, data, train, seed)  # type: ignore[arg-type]
