"""Load a trained model from models/<name>/ as one interface: raw records in, class probabilities out.

The same object backs evaluation and the MLflow pyfunc, so what is measured is what is served.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
import pandas as pd
import skops.io as sio
from pydantic import TypeAdapter

from cleargate.config import DatasetConfig, ImageData, ModelConfig, SequenceData
from cleargate.datasets.layout import feature_columns
from cleargate.errors import DataError
from cleargate.io import read_json
from cleargate.models.trees import TRUSTED_TYPES

if TYPE_CHECKING:
    import torch


class Predictor(Protocol):
    classes: list[int]

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray: ...


class TorchPredictor:
    def __init__(self, network: torch.nn.Module, dataset: ImageData | SequenceData, batch_size: int = 1024) -> None:
        self.network = network.eval()
        self.dataset = dataset
        self.classes = list(range(len(dataset.classes)))  # stored labels are class indices
        self.batch_size = batch_size

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        import torch

        from cleargate.models.preprocessing import records_to_tensor

        images = records_to_tensor(frame, self.dataset)
        with torch.inference_mode():
            chunks = [torch.softmax(self.network(images[i:i + self.batch_size]), dim=1)
                      for i in range(0, len(images), self.batch_size)]
        return torch.cat(chunks).numpy()


class SklearnPredictor:
    def __init__(self, estimator: Any, dataset: DatasetConfig) -> None:
        self.estimator = estimator
        self.columns = feature_columns(dataset)
        self.classes = [int(c) for c in estimator.classes_]

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        return np.asarray(self.estimator.predict_proba(frame[self.columns]))


def load_skops(path: Path) -> Any:
    """Load only if every type in the file is on the trusted list; never unpickle blindly."""
    untrusted = set(sio.get_untrusted_types(file=path)) - set(TRUSTED_TYPES)
    if untrusted:
        raise DataError(f"{path}: holds types not on cleargate.models.trees.TRUSTED_TYPES: {sorted(untrusted)}")
    return sio.load(path, trusted=sorted(set(sio.get_untrusted_types(file=path))))


def load_predictor(model_dir: Path) -> Predictor:
    spec = read_json(Path(model_dir) / "model.json")
    dataset = TypeAdapter(DatasetConfig).validate_python(spec["dataset"])
    if (pt := Path(model_dir) / "model.pt").is_file():  # torch is imported only for deep models
        import torch

        from cleargate.models.backbones import build_backbone

        config = TypeAdapter(ModelConfig).validate_python(spec["config"])
        network = build_backbone(config, dataset)  # type: ignore[arg-type]
        network.load_state_dict(torch.load(pt, map_location="cpu", weights_only=True))
        return TorchPredictor(network, dataset)
    return SklearnPredictor(load_skops(Path(model_dir) / "model.skops"), dataset)


def predict_labels(predictor: Predictor, frame: pd.DataFrame) -> np.ndarray:
    return np.asarray(predictor.classes)[predictor.predict_proba(frame).argmax(axis=1)]
