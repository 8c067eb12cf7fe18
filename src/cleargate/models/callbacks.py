"""Lightning callbacks: what a person (or a tracking store) sees of a fit while it runs."""

from __future__ import annotations

import logging
from collections.abc import Callable

import lightning as L

EpochReport = Callable[[int, dict[str, float]], None]
log = logging.getLogger("cleargate.training")


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
