"""The model bundle: what a fit produces, what is saved under models/<dataset>/<model>/, what evaluation and
serving load. Both fit functions return one; nothing else reads or writes the folder.

The folder holds `model.json` (the manifest: name, family, flavour, the model's and the data's params),
the weights (`model.pt` for torch, `model.skops` for scikit-learn: never a pickle), `train.json` (the
TrainRecord). It is written to a temporary folder and renamed into
place, so a killed fit never leaves a half-written model that a later run would accept.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, model_validator

from cleargate.config.hyperparameters import ModelConfig
from cleargate.errors import DataError
from cleargate.io import read_json, write_json
from cleargate.kinds import DatasetConfig, kind_of
from cleargate.layout import BundleFiles
from cleargate.records import TrainRecord

# skops refuses to load anything not on this list: what `load` trusts, and what MLflow is told to trust.
TRUSTED_TYPES = [
    "sklearn._loss.link.Interval",
    "sklearn._loss.link.LogitLink",
    "sklearn._loss.link.MultinomialLogit",
    "sklearn._loss.loss.HalfMultinomialLoss",
    "sklearn._loss.loss.HalfBinomialLoss",
    "sklearn.ensemble._hist_gradient_boosting.binning._BinMapper",
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
    "sklearn.ensemble._hist_gradient_boosting.common.PREDICTOR_RECORD_DTYPE",
    "sklearn.tree._tree.Tree",
    "collections.OrderedDict",
    "numpy.dtype",
    "cleargate.kinds.window_stats.WindowStats",
]


# The scikit-learn estimator this process saved last, under its weights file's identity (path, inode, size,
# mtime): a pipeline worker evaluates each model right after fitting it (flows/schedule.py), and reading the
# file back would rebuild the same object from skops, up to a second a tree model.
# Only that one, so memory does not grow with the models a process fits; any other file is read from disk.
_LAST_SAVED: dict[tuple[str, int, int, int], Any] = {}


def _identity(path: Path) -> tuple[str, int, int, int]:
    stat = path.stat()
    return str(path.resolve()), stat.st_ino, stat.st_size, stat.st_mtime_ns


class Manifest(BaseModel):
    """model.json: enough to rebuild the model and to know what data it takes."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str
    family: str
    flavour: Literal["torch", "sklearn"]
    config: ModelConfig
    dataset: DatasetConfig

    @model_validator(mode="before")
    @classmethod
    def _trained_before_optimisers_were_params(cls, raw: Any) -> Any:
        """Bundles written before `optimizer` and `lr_schedule` were params (registered versions among them)
        were all trained with AdamW and the plateau schedule: say so, so they still load and serve."""
        if isinstance(raw, dict) and raw.get("flavour") == "torch" and isinstance(raw.get("config"), dict) \
                and "optimizer" not in raw["config"]:
            raw = {**raw, "config": {**raw["config"], "optimizer": "adamw", "lr_schedule": "plateau"}}
        return raw


class Predictor(Protocol):
    classes: list[int]

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray: ...


@dataclass
class ModelBundle:
    manifest: Manifest
    model: Any                         # a torch backbone (nn.Module) or a fitted scikit-learn estimator
    record: TrainRecord
    history: pd.DataFrame | None = None   # per-epoch curves of a deep fit (the train stage writes them out)

    def save(self, folder: Path) -> Path:
        """Write the whole folder beside its place, then swap it in; the record gets the saved weights' size."""
        for stale in folder.parent.glob(f".{folder.name}.*.tmp"):  # left by a fit that was killed mid-save
            shutil.rmtree(stale, ignore_errors=True)
        scratch = folder.with_name(f".{folder.name}.{os.getpid()}.tmp")
        staged = BundleFiles(scratch)
        try:
            scratch.mkdir(parents=True)
            weights = staged.weights(self.manifest.flavour)
            _save_weights(self.manifest.flavour, self.model, weights)
            self.record = self.record.model_copy(update={"size_bytes": weights.stat().st_size})
            write_json(self.manifest.model_dump(mode="json"), staged.manifest)
            self.record.save(staged.train_record)
            shutil.rmtree(folder, ignore_errors=True)
            os.replace(scratch, folder)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
        _LAST_SAVED.clear()
        if self.manifest.flavour == "sklearn":
            _LAST_SAVED[_identity(BundleFiles(folder).weights("sklearn"))] = self.model
        return folder

    @staticmethod
    def read_manifest(folder: Path) -> Manifest:
        """What the bundle holds, without loading the weights (or importing torch)."""
        files = BundleFiles(folder)
        if not files.manifest.is_file():
            raise DataError(f"{folder}: no trained model here; run `dvc repro train@{folder.name}`")
        return Manifest.model_validate(read_json(files.manifest))

    @classmethod
    def load(cls, folder: Path) -> ModelBundle:
        files = BundleFiles(folder)
        manifest = cls.read_manifest(folder)
        model = _load_weights(manifest, files.weights(manifest.flavour))
        return cls(manifest, model, TrainRecord.load(files.train_record))

    def predictor(self) -> Predictor:
        if self.manifest.flavour == "torch":
            return TorchPredictor(self.model, self.manifest.dataset)
        return SklearnPredictor(self.model, self.manifest.dataset)


def _save_weights(flavour: str, model: Any, path: Path) -> None:
    if flavour == "torch":
        import torch

        torch.save(model.state_dict(), path)
    else:
        import skops.io as sio

        sio.dump(model, path)


def _load_weights(manifest: Manifest, path: Path) -> Any:
    if manifest.flavour == "sklearn":
        saved = _LAST_SAVED.get(_identity(path)) if path.is_file() else None
        return saved if saved is not None else load_skops(path)
    import torch  # only deep models import torch

    from cleargate.models.backbones import build_backbone

    network = build_backbone(manifest.config, manifest.dataset)  # type: ignore[arg-type]
    network.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
    return network


def load_skops(path: Path) -> Any:
    """Load only if every type in the file is on the trusted list; never unpickle blindly."""
    import skops.io as sio

    if not path.is_file():
        raise DataError(f"{path}: not found; the model folder is incomplete, re-run its train stage")
    try:  # one read: skops audits every type against its own and our trusted list before building anything
        return sio.load(path, trusted=list(TRUSTED_TYPES))
    except sio.exceptions.UntrustedTypesFoundException:
        untrusted = set(sio.get_untrusted_types(file=path)) - set(TRUSTED_TYPES)
        raise DataError(f"{path}: holds types not on cleargate.models.bundle.TRUSTED_TYPES: "
                        f"{sorted(untrusted)}") from None


# Rows per eager forward pass when evaluating: small enough that a pass's activations stay in the CPU's cache (a
# pass of 1,024 images did not, and took twice as long); the probabilities do not depend on it, bit for bit.
EVAL_ROWS = 128


class TorchPredictor:
    """Stored records in, class probabilities out, in batches, through the kind's tensor transform."""

    def __init__(self, network: Any, data: DatasetConfig, batch_size: int = EVAL_ROWS) -> None:
        self.network = network.eval()
        self.data = data
        self.classes = list(range(len(data.classes)))  # stored labels are class indices
        self.batch_size = batch_size

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        import torch

        inputs = kind_of(self.data).to_tensor(frame, self.data)
        with torch.inference_mode():
            chunks = [torch.softmax(self.network(inputs[i:i + self.batch_size]), dim=1)
                      for i in range(0, len(inputs), self.batch_size)]
        return torch.cat(chunks).numpy()


class SklearnPredictor:
    """A scikit-learn pipeline's probabilities, the same in every run: a forest adds its trees' probabilities
    one tree after another (joblib's sequential backend) whatever its `n_jobs`. On threads, the trees are added
    in whichever order they finish, so two evaluations could differ in the last bits and the predictions'
    hashes would change between runs. One thread is also faster on test splits of this size, where joblib's
    dispatch costs more than the trees. Gradient boosting's OpenMP threads are not joblib's and are unchanged."""

    def __init__(self, estimator: Any, data: DatasetConfig) -> None:
        self.estimator = estimator
        self.columns = kind_of(data).feature_columns(data)
        self.classes = [int(c) for c in estimator.classes_]

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        from joblib import parallel_config  # scikit-learn's dependency, imported with it

        with parallel_config(backend="sequential"):
            return np.asarray(self.estimator.predict_proba(frame[self.columns]))


def predict_labels(predictor: Predictor, frame: pd.DataFrame) -> np.ndarray:
    return np.asarray(predictor.classes)[predictor.predict_proba(frame).argmax(axis=1)]


def load_predictor(folder: Path) -> Predictor:
    return ModelBundle.load(folder).predictor()
