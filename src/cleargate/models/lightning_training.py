"""Fit one deep model (any backbone in `models/backbones.py`) with Lightning; the results land where
`cleargate.training` puts a tree's: weights, model.json, history.csv, train.json under models/<d>/<name>/."""

from __future__ import annotations

import tempfile
import time
from dataclasses import asdict
from pathlib import Path

import lightning as L
import pandas as pd
import torch
from lightning.pytorch.callbacks import EarlyStopping, ModelCheckpoint
from lightning.pytorch.loggers import CSVLogger
from torch.utils.data import DataLoader, TensorDataset

from cleargate.config import CNNConfig, DeepConfig, ImageData, SequenceData, TrainerConfig
from cleargate.datasets.schema import LABEL
from cleargate.io import write_json
from cleargate.models.backbones import build_backbone
from cleargate.models.classifier import Classifier
from cleargate.models.preprocessing import records_to_tensor
from cleargate.training import TrainResult


def _loader(inputs: torch.Tensor, frame: pd.DataFrame, batch_size: int, shuffle: bool, workers: int,
            seed: int) -> DataLoader:
    """Stored labels are already class indices (cleaning encodes them)."""
    labels = torch.tensor(frame[LABEL].to_numpy(dtype="int64"))
    generator = torch.Generator().manual_seed(seed)
    return DataLoader(TensorDataset(inputs, labels), batch_size=batch_size, shuffle=shuffle,
                      num_workers=workers, generator=generator)


def _history(log_dir: Path) -> pd.DataFrame:
    """Lightning's CSVLogger writes train and val metrics on separate rows; one row per epoch here."""
    metrics = pd.read_csv(next(log_dir.rglob("metrics.csv")))
    columns = ["train_loss", "train_accuracy", "val_loss", "val_accuracy"]
    return metrics.groupby("epoch")[[c for c in columns if c in metrics]].first().reset_index()


def fit_deep(name: str, config: DeepConfig, trainer_config: TrainerConfig, dataset: ImageData | SequenceData,
             train: pd.DataFrame, val: pd.DataFrame, seed: int, out_dir: Path) -> TrainResult:
    """Seeded, deterministic Lightning fit with early stopping; keeps the best-val-loss weights.

    The same code trains on one CPU, one GPU or several (`trainer.strategy: ddp`, `devices`, `num_nodes`)."""
    L.seed_everything(seed, workers=True, verbose=False)
    backbone = build_backbone(config, dataset)
    train_x, val_x = records_to_tensor(train, dataset), records_to_tensor(val, dataset)
    if isinstance(dataset, SequenceData):
        backbone.fit_normaliser(train_x)  # type: ignore[operator]  # train statistics only, saved with the weights
    if isinstance(config, CNNConfig):
        augment = {"augment": (config.augment_degrees, config.augment_shift, config.augment_scale)}
    else:
        augment = {"augment_sequence": (config.augment_scale, config.augment_noise)}
    module = Classifier(backbone, len(dataset.classes), config.learning_rate, config.weight_decay, **augment)
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as scratch:
        checkpoint = ModelCheckpoint(dirpath=Path(scratch) / "checkpoints", monitor="val_loss", mode="min",
                                     save_top_k=1)
        trainer = L.Trainer(
            accelerator=trainer_config.accelerator, devices=trainer_config.devices,
            strategy=trainer_config.strategy, num_nodes=trainer_config.num_nodes,
            precision=trainer_config.precision,
            deterministic=trainer_config.deterministic, max_epochs=config.max_epochs,
            limit_train_batches=config.limit_train_batches,
            callbacks=[EarlyStopping(monitor="val_loss", mode="min", patience=config.patience), checkpoint],
            logger=CSVLogger(scratch, name="logs"), log_every_n_steps=1, enable_progress_bar=False,
            enable_model_summary=False,
        )
        started = time.perf_counter()
        trainer.fit(module,
                    _loader(train_x, train, config.batch_size, True, trainer_config.num_workers, seed),
                    _loader(val_x, val, config.batch_size, False, trainer_config.num_workers, seed))
        fit_seconds = time.perf_counter() - started
        best = torch.load(checkpoint.best_model_path, map_location="cpu", weights_only=True)["state_dict"]
        module.load_state_dict(best)
        _history(Path(scratch) / "logs").to_csv(out_dir / "history.csv", index=False)
    weights = out_dir / "model.pt"
    torch.save(module.backbone.state_dict(), weights)
    write_json({"family": config.family, "config": config.model_dump(mode="json"),
                "dataset": dataset.model_dump(mode="json")}, out_dir / "model.json")
    result = TrainResult(name, config.family, fit_seconds, trainer.current_epoch,
                         sum(p.numel() for p in module.backbone.parameters()), weights.stat().st_size,
                         str(trainer.strategy.root_device))
    write_json(asdict(result), out_dir / "train.json")
    return result
