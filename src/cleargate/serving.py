"""The MLflow pyfunc that production loads: raw records (as stored in data/raw) in, labels out."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import mlflow.pyfunc
import numpy as np
import pandas as pd

from cleargate.models.bundle import load_predictor, predict_labels


class RecordClassifier(mlflow.pyfunc.PythonModel):
    """Wraps a model bundle (weights + model.json); preprocessing is inside, so callers send raw rows."""

    def load_context(self, context: Any) -> None:
        self.predictor = load_predictor(Path(context.artifacts["model_dir"]))

    def predict(self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None) -> np.ndarray:
        return predict_labels(self.predictor, model_input)
