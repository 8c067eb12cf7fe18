"""Fit one deep model (any backbone in `models/backbones.py`) with Lightning and return its bundle."""

from __future__ import annotations

import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import lightning as L
import pandas as pd
import torch
from lightning.pytorch.callbacks import EarlyStopping, ModelCheckpoint, RichProgressBar
from lightning.pytorch.loggers import CSVLogger
from torch.utils.data import DataLoader

from cleargate.config.hyperparameters import DeepConfig
from cleargate.config.trainer import TrainerConfig
from cleargate.kinds import DataContract, kind_of
from cleargate.models.backbones import build_backbone
from cleargate.models.bundle import Manifest, ModelBundle
from cleargate.models.classifier import Classifier
from cleargate.records import TrainRecord
from cleargate.runtime import limit_threads, settle_library_logs, threads_for
from cleargate.schema import LABEL
from cleargate.training.batches import batch_loader
from cleargate.training.callbacks import DeviceMemoryReport, EpochReport, EpochReporter, RankReport
from cleargate.training.devices import (
    Placement,
    channels_last,
    deterministic_for,
    placement,
    precision_for,
    sync_batchnorm_for,
    unfilled_new_tensors,
)
from cleargate.training.distributed import join_launched_ranks, multi_process
from cleargate.training.finetune import InitWeights, warm_start

HISTORY_COLUMNS = ["train_loss", "train_accuracy", "val_loss", "val_accuracy"]


def _loader(inputs: torch.Tensor, frame: pd.DataFrame, batch_size: int, shuffle: bool, seed: int,
            where: Placement) -> DataLoader:
    """Stored labels are already class indices (cleaning encodes them); the data is in memory, moved once to
    the device when it fits there (`training.devices.placement`): whole-batch indexing, no copy per step."""
    labels = torch.tensor(frame[LABEL].to_numpy(dtype="int64"))
    return batch_loader(inputs.to(where.device), labels.to(where.device), batch_size, shuffle, seed,
                        pin_memory=where.pin_memory, workers=where.workers)


def _history(log_dir: Path) -> pd.DataFrame:
    """Lightning's CSVLogger (rank 0 only) writes train and val metrics on separate rows; one row per epoch."""
    metrics = pd.read_csv(log_dir / "metrics.csv")
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
    memory = [DeviceMemoryReport(report)] if report is not None else []
    return [*bar, EpochReporter(name, HISTORY_COLUMNS, report, plain_lines=not terminal), *memory]


@dataclass(frozen=True)
class Runtime:
    """What the Trainer does differently on its device (`training.devices`)."""

    precision: str
    deterministic: bool | str
    sync_batchnorm: bool


def _trainer(name: str, config: DeepConfig, trainer_config: TrainerConfig, scratch: str,
             on_epoch: EpochReport | None, runtime: Runtime,
             extra: list[L.Callback]) -> tuple[L.Trainer, ModelCheckpoint]:
    """The checkpoint folder is left to Lightning: it takes rank 0's logger folder and broadcasts it, so every
    rank of a multi-process fit agrees on one folder (rank 0's scratch) for the best weights."""
    # the best weights only (read back as `state_dict`): not the optimiser's state, twice the weights' size
    checkpoint = ModelCheckpoint(monitor="val_loss", mode="min", save_top_k=1, save_weights_only=True)
    callbacks = [EarlyStopping(monitor="val_loss", mode="min", patience=config.patience), checkpoint,
                 *_progress(name, on_epoch), *([RankReport(name)] if multi_process(trainer_config) else []), *extra]
    trainer = L.Trainer(
        accelerator=trainer_config.accelerator, devices=trainer_config.devices,
        strategy=trainer_config.strategy, num_nodes=trainer_config.num_nodes, precision=runtime.precision,
        sync_batchnorm=runtime.sync_batchnorm, deterministic=runtime.deterministic, max_epochs=config.max_epochs,
        limit_train_batches=config.limit_train_batches, callbacks=callbacks,
        logger=CSVLogger(scratch, name="logs"), log_every_n_steps=1, enable_progress_bar=sys.stderr.isatty(),
        enable_model_summary=False, num_sanity_val_steps=0,
    )
    return trainer, checkpoint


def _device_trainer(name: str, config: DeepConfig, trainer_config: TrainerConfig, scratch: str,
                    on_epoch: EpochReport | None, extra: list[L.Callback]) -> tuple[L.Trainer, ModelCheckpoint]:
    """The Trainer with the precision, determinism and batch norm of the device its strategy resolved
    (`precision: auto`: bf16 on a GPU that has it; `training.devices`); a Trainer is cheap to build before
    `fit`, so a device that resolves otherwise builds it again."""
    first = Runtime("32-true" if trainer_config.precision == "auto" else trainer_config.precision,
                    trainer_config.deterministic, sync_batchnorm=False)
    trainer, checkpoint = _trainer(name, config, trainer_config, scratch, on_epoch, first, extra)
    device = trainer.strategy.root_device
    chosen = Runtime(precision_for(trainer_config.precision, device),
                     deterministic_for(trainer_config.deterministic, device),
                     sync_batchnorm_for(trainer.num_devices * trainer.num_nodes > 1, device))
    if chosen != first:
        trainer, checkpoint = _trainer(name, config, trainer_config, scratch, on_epoch, chosen, extra)
    return trainer, checkpoint


def fit_deep(name: str, config: DeepConfig, trainer_config: TrainerConfig, data: DataContract,
             train: pd.DataFrame, val: pd.DataFrame, seed: int, on_epoch: EpochReport | None = None,
             init: InitWeights | None = None, callbacks: list[L.Callback] | None = None) -> ModelBundle:
    """Seeded, deterministic Lightning fit with early stopping; keeps the best-val-loss weights.
    `on_epoch` receives each epoch's metrics as they come (the MLflow run of the fit).

    With `trainer.devices` N > 1 (strategy ddp) this runs in each of the N processes: rank 0 alone reads the
    history and the best weights, every rank waits at a barrier before rank 0's scratch folder (the shared
    checkpoint folder) goes, and the launching process fails if a rank it launched failed. Every rank returns
    a bundle; the caller writes rank 0's (`training.distributed.is_global_zero`).
    `init` is the parent of a fine-tuned model (`training.finetune`), loaded after the input statistics so a
    parent's own are kept; `callbacks` are extra Lightning callbacks (a tuning trial's pruning)."""
    settle_library_logs()  # Lightning set its loggers to INFO when it was imported
    L.seed_everything(seed, workers=True, verbose=False)
    kind = kind_of(data)
    backbone = build_backbone(config, data)
    train_x, val_x = kind.to_tensor(train, data), kind.to_tensor(val, data)
    _fit_input_statistics(backbone, train_x)
    head = warm_start(backbone, init, name, config.freeze) if init is not None else None
    with tempfile.TemporaryDirectory() as scratch:
        trainer, checkpoint = _device_trainer(name, config, trainer_config, scratch, on_epoch, callbacks or [])
        device = trainer.strategy.root_device
        if device.type == "cpu" and trainer.num_devices > 1:  # each rank its share of the cores, never all of them
            limit_threads(threads_for(trainer.num_devices))
        module = Classifier(backbone, len(data.classes), config.optimisation, augment=kind.augmentation(config),
                            channels_last=channels_last(train_x, device))
        if module.channels_last:
            module = module.to(memory_format=torch.channels_last)
        if trainer_config.compile:
            module.backbone.compile()
        where = placement(device, train_x.nbytes + val_x.nbytes, processes=trainer.num_devices)
        started = time.perf_counter()
        with unfilled_new_tensors():
            trainer.fit(module,
                        _loader(train_x, train, config.batch_size, True, seed, where),
                        _loader(val_x, val, config.batch_size, False, seed, where))
        fit_seconds = time.perf_counter() - started
        history = None
        if trainer.is_global_zero:
            best = torch.load(checkpoint.best_model_path, map_location="cpu", weights_only=True)["state_dict"]
            module.load_state_dict(best)
            history = _history(Path(checkpoint.dirpath).parent)
        trainer.strategy.barrier("cleargate-fit-done")  # no rank still needs the checkpoint folder
    join_launched_ranks(trainer, name)
    device_name = str(device) if trainer.world_size == 1 else f"{device.type} x{trainer.world_size}"
    record = TrainRecord(model=name, family=config.family, flavour="torch", fit_seconds=fit_seconds,
                         epochs=trainer.current_epoch, n_parameters=sum(p.numel() for p in backbone.parameters()),
                         size_bytes=0, device=device_name,
                         **({"parent": init.source, "parent_version": init.version, "parent_sha256": init.digest,
                             "head": head, "freeze": config.freeze} if init is not None else {}))
    manifest = Manifest(name=name, family=config.family, flavour="torch", config=config, dataset=data)
    return ModelBundle(manifest, module.backbone.to(memory_format=torch.contiguous_format), record, history)
