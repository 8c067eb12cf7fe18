"""The MLflow pyfunc that production loads: raw records (as stored in data/raw) in, class labels out.

Logged as models-from-code (`serving_model.py` is the file MLflow runs to build it), never a cloudpickled
object. Everything that can be prepared is prepared once in `load_context`: the bundle is loaded, the input
columns are known, scikit-learn estimators are set to one thread (a thread pool per call costs more than a
one-row prediction). MLflow's column-by-column signature check would cost ~35 ms per call on 784 pixel
columns (measured), so the model is logged without one and checks its own columns: one set difference.
A deep model serves on one torch thread unless CLEARGATE_SERVING_THREADS says otherwise.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import mlflow.pyfunc
import numpy as np
import pandas as pd

from cleargate.kinds import kind_of
from cleargate.models.bundle import ModelBundle, predict_labels

THREADS_ENV = "CLEARGATE_SERVING_THREADS"   # torch intra-op threads of a served deep model (default 1)


def _single_threaded(estimator: Any) -> None:
    params = estimator.get_params() if hasattr(estimator, "get_params") else {}
    jobs = {key: 1 for key in params if key == "n_jobs" or key.endswith("__n_jobs")}
    if jobs:
        estimator.set_params(**jobs)


class RecordClassifier(mlflow.pyfunc.PythonModel):
    """Wraps a model bundle (weights + model.json); preprocessing is inside, so callers send raw rows."""

    def load_context(self, context: Any) -> None:
        bundle = ModelBundle.load(Path(context.artifacts["model_dir"]))
        if bundle.manifest.flavour == "sklearn":
            _single_threaded(bundle.model)
        else:  # one intra-op thread: a one-row forward pass on 2 threads took 34 ms against 2 ms (measured)
            import torch

            torch.set_num_threads(int(os.environ.get(THREADS_ENV, "1")))
        data = bundle.manifest.dataset
        self.columns = kind_of(data).feature_columns(data)
        self.expected = frozenset(self.columns)
        self.predictor = bundle.predictor()

    def predict(self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None) -> np.ndarray:
        missing = self.expected.difference(model_input.columns)
        if missing:
            shown = ", ".join(sorted(missing)[:5]) + (", ..." if len(missing) > 5 else "")
            raise ValueError(f"input lacks {len(missing)} of the model's {len(self.columns)} columns: {shown}")
        return predict_labels(self.predictor, model_input)
