"""Fit one deep model (any backbone in `models/backbones.py`) with Lightning and return its bundle."""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import lightning as L
import pandas as pd
import torch
from lightning.pytorch.callbacks import EarlyStopping, ModelCheckpoint, RichProgressBar
from lightning.pytorch.loggers import CSVLogger
from torch.utils.data import DataLoader

from cleargate.config.models import DeepConfig
from cleargate.config.ops import TrainerConfig
from cleargate.kinds import DataContract, kind_of
from cleargate.models.backbones import build_backbone
from cleargate.models.batches import batch_loader
from cleargate.models.bundle import Manifest, ModelBundle
from cleargate.models.callbacks import EpochReport, EpochReporter
from cleargate.models.classifier import Classifier
from cleargate.models.finetune import InitWeights, warm_start
from cleargate.records import TrainRecord
from cleargate.runtime import settle_library_logs
from cleargate.schema import LABEL

HISTORY_COLUMNS = ["train_loss", "train_accuracy", "val_loss", "val_accuracy"]


def _loader(inputs: torch.Tensor, frame: pd.DataFrame, batch_size: int, shuffle: bool, seed: int) -> DataLoader:
    """Stored labels are already class indices (cleaning encodes them); the data is in memory: whole-batch
    indexing, no worker processes."""
    return batch_loader(inputs, torch.tensor(frame[LABEL].to_numpy(dtype="int64")), batch_size, shuffle, seed)


def _history(log_dir: Path) -> pd.DataFrame:
    """Lightning's CSVLogger writes train and val metrics on separate rows; one row per epoch here."""
    metrics = pd.read_csv(next(log_dir.rglob("metrics.csv")))
    return metrics.groupby("epoch")[[c for c in HISTORY_COLUMNS if c in metrics]].first().reset_index()


def _fit_input_statistics(backbone: Any, inputs: torch.Tensor) -> None:
    """Backbones that standardise their input inside (saved with the weights) learn it from training data only."""
    fit = getattr(backbone, "fit_normaliser", None)
    if callable(fit):
        fit(inputs)


def _progress(name: str, report: EpochReport | None) -> list[L.Callback]:
    """A rich progress bar on a terminal; plain per-epoch lines otherwise; the epoch report either way."""
    terminal = sys.stderr.isatty()
    bar = [RichProgressBar(leave=False)] if terminal else []
    return [*bar, EpochReporter(name, HISTORY_COLUMNS, report, plain_lines=not terminal)]


def fit_deep(name: str, config: DeepConfig, trainer_config: TrainerConfig, data: DataContract,
             train: pd.DataFrame, val: pd.DataFrame, seed: int, on_epoch: EpochReport | None = None,
             init: InitWeights | None = None, callbacks: list[L.Callback] | None = None) -> ModelBundle:
    """Seeded, deterministic Lightning fit with early stopping; keeps the best-val-loss weights.
    `on_epoch` receives each epoch's metrics as they come (the MLflow run of the fit); `init` is the parent of a
    fine-tuned model (`models.finetune`), loaded after the input statistics so a parent's own are kept;
    `callbacks` are extra Lightning callbacks (a tuning trial's pruning)."""
    settle_library_logs()  # Lightning set its loggers to INFO when it was imported
    L.seed_everything(seed, workers=True, verbose=False)
    kind = kind_of(data)
    backbone = build_backbone(config, data)
    train_x, val_x = kind.to_tensor(train, data), kind.to_tensor(val, data)
    _fit_input_statistics(backbone, train_x)
    head = warm_start(backbone, init, name, config.freeze) if init is not None else None
    module = Classifier(backbone, len(data.classes), config.optimisation, augment=kind.augmentation(config))
    with tempfile.TemporaryDirectory() as scratch:
        checkpoint = ModelCheckpoint(dirpath=Path(scratch) / "checkpoints", monitor="val_loss", mode="min",
                                     save_top_k=1)
        trainer = L.Trainer(
            accelerator=trainer_config.accelerator, devices=trainer_config.devices,
            strategy=trainer_config.strategy, num_nodes=trainer_config.num_nodes,
            precision=trainer_config.precision,
            deterministic=trainer_config.deterministic, max_epochs=config.max_epochs,
            limit_train_batches=config.limit_train_batches,
            callbacks=[EarlyStopping(monitor="val_loss", mode="min", patience=config.patience), checkpoint,
                       *_progress(name, on_epoch), *(callbacks or [])],
            logger=CSVLogger(scratch, name="logs"), log_every_n_steps=1, enable_progress_bar=sys.stderr.isatty(),
            enable_model_summary=False,
        )
        started = time.perf_counter()
        trainer.fit(module,
                    _loader(train_x, train, config.batch_size, True, seed),
                    _loader(val_x, val, config.batch_size, False, seed))
        fit_seconds = time.perf_counter() - started
        best = torch.load(checkpoint.best_model_path, map_location="cpu", weights_only=True)["state_dict"]
        module.load_state_dict(best)
        history = _history(Path(scratch) / "logs")
    record = TrainRecord(model=name, family=config.family, flavour="torch", fit_seconds=fit_seconds,
                         epochs=trainer.current_epoch, n_parameters=sum(p.numel() for p in backbone.parameters()),
                         size_bytes=0, device=str(trainer.strategy.root_device),
                         **({"parent": init.source, "parent_version": init.version, "parent_sha256": init.digest,
                             "head": head, "freeze": config.freeze} if init is not None else {}))
    manifest = Manifest(name=name, family=config.family, flavour="torch", config=config, dataset=data)
    return ModelBundle(manifest, module.backbone, record, history)
