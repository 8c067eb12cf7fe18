"""Fit one model on the train split and save it under models/<name>/; pure of tracking and orchestration.

What is saved: the fitted model (model.pt or model.skops), model.json (what `predictors.load_predictor`
needs to rebuild it), history.csv (per-epoch curves, deep models) and train.json (fit time, size).
Deep models are fitted by `cleargate.models.lightning_training.fit_deep`; this module does not import
torch, so a tree stage (and `dvc repro` of one) starts in a second, not ten.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from pathlib import Path

import pandas as pd
import skops.io as sio

from cleargate.config import DatasetConfig, HGBConfig, RFConfig
from cleargate.datasets.layout import feature_columns
from cleargate.datasets.schema import LABEL
from cleargate.io import write_json
from cleargate.models.trees import tree_pipeline


@dataclass(frozen=True)
class TrainResult:
    model: str
    family: str
    fit_seconds: float
    epochs: int
    n_parameters: int
    size_bytes: int
    device: str


def fit_tree(name: str, config: HGBConfig | RFConfig, dataset: DatasetConfig, train: pd.DataFrame,
             seed: int, out_dir: Path) -> TrainResult:
    """Fit on the stored feature columns, so the saved estimator takes records as they are stored."""
    estimator = tree_pipeline(config, dataset, seed)
    columns = feature_columns(dataset)
    started = time.perf_counter()
    estimator.fit(train[columns], train[LABEL])
    fit_seconds = time.perf_counter() - started
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "model.skops"
    sio.dump(estimator, path)
    write_json({"family": config.family, "config": config.model_dump(mode="json"),
                "dataset": dataset.model_dump(mode="json")}, out_dir / "model.json")
    (out_dir / "history.csv").unlink(missing_ok=True)
    result = TrainResult(name, config.family, fit_seconds, 0, 0, path.stat().st_size, "cpu")
    write_json(asdict(result), out_dir / "train.json")
    return result
