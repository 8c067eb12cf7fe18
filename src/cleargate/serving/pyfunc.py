"""The MLflow pyfunc that production loads: raw records (as stored in data/raw) in, class labels out.

Logged as models-from-code (`model_code.py` is the file MLflow runs to build it), never a cloudpickled
object. Everything that can be prepared is prepared once in `load_context`: the bundle is loaded, the input
columns are known, scikit-learn estimators are set to one thread (a thread pool per call costs more than a
one-row prediction) and forests predict tree by tree without scikit-learn's per-call overhead
(`tree_inference`, the same outputs). The model is logged with a signature (MLflow's UI shows the schema, and
MLflow's clients and `mlflow models serve` check inputs against it), but MLflow's column-by-column check costs
more than a prediction on 784 pixel columns: cleargate's own scoring and serving call the model directly
(`serving.loading`), which checks its columns itself in one comparison of the column index. A numpy array of
the right width is taken as rows in the model's column order.
A model serves on one torch / OpenMP thread unless CLEARGATE_SERVING_THREADS says otherwise (batch scoring sets
it to the cores), and an image network serves as a frozen TorchScript graph optimised for inference when that
gives the eager network's outputs (`_inference_graph`).
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
# Rows per forward pass of a served network: past a few hundred images the activations stop fitting in the CPU's
# cache and a pass gets slower per row.
INFERENCE_ROWS = 256


def _inference_graph(network: Any, data: Any) -> Any:
    """The image network traced, frozen and optimised for inference (BatchNorm folded into the convolutions,
    oneDNN layouts), if it gives the eager network's outputs on a probe batch and on one row; else the network.

    Faster than the eager network on a batch and on one row, with the same outputs to 1e-7 (checked on every
    load). Only for images: recurrent and attention models keep eager mode (their traces would fix the sequence
    length). Written here because MLflow serves what we build."""
    import warnings

    import torch

    if getattr(data, "kind", None) != "image":
        return network
    probe = torch.rand(16, data.n_channels, data.height, data.width, generator=torch.Generator().manual_seed(0))
    try:
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            traced = torch.jit.trace(network.eval(), probe, check_trace=False)  # compared below, on two batches
            graph = torch.jit.optimize_for_inference(torch.jit.freeze(traced))
            same = all(torch.allclose(graph(x), network(x), atol=1e-5) for x in (probe, probe[:1]))
    except Exception:
        return network
    return graph if same else network


ACCEPTS = {"f": "fiub", "i": "iub", "u": "ub", "b": "b"}   # numeric kinds a column may have for the kind learnt


def type_mismatch(frame: pd.DataFrame, trained: dict[str, str]) -> str | None:
    """The first numeric column whose type the model cannot take (floats where it learnt integers, text where
    it learnt numbers), described; None when every column fits. Integers where floats were learnt are fine;
    other columns (categories, text) are the validation suite's to check."""
    for column, kind in trained.items():
        if kind in ACCEPTS and column in frame.columns and frame[column].dtype.kind not in ACCEPTS[kind]:
            return (f"Incompatible input types for column {column}: {frame[column].dtype}, the model was trained "
                    f"on kind {kind!r}")
    return None


def _single_threaded(estimator: Any) -> None:
    params = estimator.get_params() if hasattr(estimator, "get_params") else {}
    jobs = {key: 1 for key in params if key == "n_jobs" or key.endswith("__n_jobs")}
    if jobs:
        estimator.set_params(**jobs)


class RecordClassifier(mlflow.pyfunc.PythonModel):
    """Wraps a model bundle (weights + model.json); preprocessing is inside, so callers send raw rows."""

    def load_context(self, context: Any) -> None:
        bundle = ModelBundle.load(Path(context.artifacts["model_dir"]))
        threads = int(os.environ.get(THREADS_ENV, "1"))
        if bundle.manifest.flavour == "sklearn":
            _single_threaded(bundle.model)
        else:  # one intra-op thread: threads only add synchronisation to a one-row forward pass
            import torch

            torch.set_num_threads(threads)
        data = bundle.manifest.dataset
        self.columns = kind_of(data).feature_columns(data)
        self.expected = pd.Index(self.columns)
        self.order = list((getattr(context, "model_config", None) or {}).get("input_order", self.columns))
        if bundle.manifest.flavour == "torch":
            self.predictor = bundle.predictor()
            self.predictor.batch_size = INFERENCE_ROWS
            self.predictor.network = _inference_graph(self.predictor.network, data)
        else:  # forests without joblib's per-tree dispatch: several times faster on one row, same outputs
            from cleargate.serving.tree_inference import SequentialTreePredictor  # scikit-learn: only for trees

            self.predictor = SequentialTreePredictor(bundle.model, data, threads)

    def predict(self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None) -> np.ndarray:
        """Labels for `model_input`: a DataFrame with the model's columns, or (cleargate's own callers) an array of
        rows in the signature's column order. The hint is MLflow's: a DataFrame is the type it validates."""
        if isinstance(model_input, np.ndarray):  # rows without names: the model's columns, in its order
            model_input = self._frame(model_input)
        # columns as given (the common case) compare in one vectorised step; a set built from pandas 3's
        # pyarrow-backed column names would iterate them one by one, half the cost of a one-row prediction
        same = model_input.columns.equals(self.expected)
        missing = [] if same else self.expected.difference(model_input.columns).tolist()
        if missing:
            shown = ", ".join(sorted(missing)[:5]) + (", ..." if len(missing) > 5 else "")
            raise ValueError(f"input lacks {len(missing)} of the model's {len(self.columns)} columns: {shown}")
        return predict_labels(self.predictor, model_input)

    def _frame(self, rows: np.ndarray) -> pd.DataFrame:
        rows = rows.reshape(1, -1) if rows.ndim == 1 else rows
        if rows.ndim != 2 or rows.shape[1] != len(self.order):
            raise ValueError(f"an array of shape {rows.shape}: the model takes rows of {len(self.order)} values "
                             f"(its signature's columns {self.order[0]} .. {self.order[-1]}, in that order), or a "
                             "DataFrame with those columns")
        return pd.DataFrame(rows, columns=self.order)
