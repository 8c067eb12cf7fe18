"""The MLflow pyfunc that production loads: raw records (as stored in data/raw) in, class labels out.

Logged as models-from-code (`serving_model.py` is the file MLflow runs to build it), never a cloudpickled
object. Everything that can be prepared is prepared once in `load_context`: the bundle is loaded, the input
columns are known, scikit-learn estimators are set to one thread (a thread pool per call costs more than a
one-row prediction) and forests predict tree by tree without scikit-learn's per-call overhead
(`tree_inference`, the same outputs). MLflow's column-by-column signature check would cost ~35 ms per
call on 784 pixel columns (measured), so the model is logged without one and checks its own columns: one
comparison of the column index.
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
# Rows per forward pass of a served network. Measured on the MNIST CNN's frozen graph, 2 threads, 50,000 rows:
# 128-256 rows 5.5-6.5 s, 512 rows 9.7-10.2 s, 1,024 rows 10.9 s (the activations stop fitting in cache).
INFERENCE_ROWS = 256


def _inference_graph(network: Any, data: Any) -> Any:
    """The image network traced, frozen and optimised for inference (BatchNorm folded into the convolutions,
    oneDNN layouts), if it gives the eager network's outputs on a probe batch and on one row; else the network.

    Measured on the MNIST CNN, 2 threads: 5,000 images 1.57 s against 4.23 s eager; one row on one thread
    0.40 ms against 0.66 ms; outputs within 1e-7. Only for images: recurrent and attention models keep eager
    mode (their traces would fix the sequence length). Written here because MLflow serves what we build."""
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
    except Exception:  # noqa: BLE001 - a network TorchScript cannot trace serves as it is
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
        else:  # one intra-op thread: a one-row forward pass on 2 threads took 34 ms against 2 ms (measured)
            import torch

            torch.set_num_threads(threads)
        data = bundle.manifest.dataset
        self.columns = kind_of(data).feature_columns(data)
        self.expected = pd.Index(self.columns)
        if bundle.manifest.flavour == "torch":
            self.predictor = bundle.predictor()
            self.predictor.batch_size = INFERENCE_ROWS
            self.predictor.network = _inference_graph(self.predictor.network, data)
        else:  # forests without joblib's per-tree dispatch: ~4-7x faster on one row, same outputs
            from cleargate.tree_inference import SequentialTreePredictor  # scikit-learn: only for trees

            self.predictor = SequentialTreePredictor(bundle.model, data, threads)

    def predict(self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None) -> np.ndarray:
        # columns as given (the common case) compare in one vectorised step; a set built from pandas 3's
        # pyarrow-backed column names iterated them one by one: 1.7 ms of a 3.5 ms MNIST row (cProfile)
        same = model_input.columns.equals(self.expected)
        missing = [] if same else self.expected.difference(model_input.columns).tolist()
        if missing:
            shown = ", ".join(sorted(missing)[:5]) + (", ..." if len(missing) > 5 else "")
            raise ValueError(f"input lacks {len(missing)} of the model's {len(self.columns)} columns: {shown}")
        return predict_labels(self.predictor, model_input)
