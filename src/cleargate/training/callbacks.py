"""Lightning callbacks: what a person (or a tracking store) sees of a fit while it runs."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable

import lightning as L

EpochReport = Callable[[int, dict[str, float]], None]
log = logging.getLogger("cleargate.training.fit")


class EpochReporter(L.Callback):
    """After each epoch (validation included): the epoch's metrics to `report` (e.g. an MLflow run), and one
    plain, parseable log line when no progress bar is shown (CI, Prefect workers, files)."""

    def __init__(self, name: str, keys: list[str], report: EpochReport | None, plain_lines: bool) -> None:
        self.name, self.keys, self.report, self.plain_lines = name, keys, report, plain_lines

    def on_train_epoch_end(self, trainer: L.Trainer, module: L.LightningModule) -> None:
        if trainer.sanity_checking or not trainer.is_global_zero:
            return
        metrics = {k: float(v) for k, v in trainer.callback_metrics.items() if k in self.keys}
        if self.report is not None:
            self.report(trainer.current_epoch, metrics)
        if self.plain_lines:
            figures = " ".join(f"{k}={v:.4f}" for k, v in sorted(metrics.items()))
            log.info("%s epoch %d/%d %s", self.name, trainer.current_epoch + 1, trainer.max_epochs, figures)


class RankReport(L.Callback):
    """On a fit of several processes, one line per process when it starts and when it ends (its rank, device
    and the batches it trained), so a log shows that every rank took part."""

    def __init__(self, name: str) -> None:
        self.name, self.batches = name, 0

    def on_train_batch_end(self, trainer: L.Trainer, *args: object) -> None:
        self.batches += 1

    def on_train_start(self, trainer: L.Trainer, module: L.LightningModule) -> None:
        log.info("%s rank %d/%d (pid %d) on %s: fit started", self.name, trainer.global_rank, trainer.world_size,
                 os.getpid(), trainer.strategy.root_device)

    def on_train_end(self, trainer: L.Trainer, module: L.LightningModule) -> None:
        log.info("%s rank %d/%d: fit done, %d training batches in %d epochs", self.name, trainer.global_rank,
                 trainer.world_size, self.batches, trainer.current_epoch)


class DeviceMemoryReport(L.Callback):
    """On a GPU, each epoch's peak memory the fit allocated there (`gpu_memory_peak_mb`) to `report`, beside
    MLflow's system metrics (whose GPU utilisation needs NVML, i.e. nvidia-ml-py, installed)."""

    def __init__(self, report: EpochReport) -> None:
        self.report = report

    def on_train_epoch_end(self, trainer: L.Trainer, module: L.LightningModule) -> None:
        device = trainer.strategy.root_device
        if trainer.sanity_checking or not trainer.is_global_zero or device.type != "cuda":
            return
        import torch

        self.report(trainer.current_epoch, {"gpu_memory_peak_mb": torch.cuda.max_memory_allocated(device) / 2**20})
        torch.cuda.reset_peak_memory_stats(device)
