"""Pruning a deep trial from Lightning: after each validation, the monitored value is reported to the Optuna
trial; when the pruner says stop, the fit stops there (`trainer.should_stop`) and the objective raises
`optuna.TrialPruned` after it. Written here (a few lines) because optuna-integration, which ships
`PyTorchLightningPruningCallback`, is not a dependency of the project."""

from __future__ import annotations

from typing import TYPE_CHECKING

import lightning as L

if TYPE_CHECKING:
    import optuna


class PruneTrial(L.Callback):
    """`monitor` must move in the study's direction (val accuracy for a study that maximises)."""

    def __init__(self, trial: optuna.Trial, monitor: str) -> None:
        self.trial, self.monitor, self.pruned_at = trial, monitor, None

    def on_validation_end(self, trainer: L.Trainer, module: L.LightningModule) -> None:
        value = trainer.callback_metrics.get(self.monitor)
        if trainer.sanity_checking or value is None:
            return
        self.trial.report(float(value), trainer.current_epoch)
        if self.trial.should_prune():
            self.pruned_at = trainer.current_epoch
            trainer.should_stop = True
