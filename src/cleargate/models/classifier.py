"""One LightningModule for every backbone: loss, optimiser, schedule and per-epoch metrics live here once."""

from __future__ import annotations

from collections.abc import Callable

import lightning as L
import torch
from torch import nn
from torchmetrics.classification import MulticlassAccuracy

from cleargate.config.hyperparameters import Optimisation
from cleargate.models.optim import build_optimizer, build_schedule

Augmentation = Callable[[torch.Tensor], torch.Tensor]


class Classifier(L.LightningModule):
    """`augment` is the kind's training-time jitter (`Kind.augmentation`), applied to training batches only;
    `optimisation` the model's optimiser and schedule (`models.optim`); `channels_last`: image batches in
    channels-last memory layout (on a GPU, `training.devices`). Losses are averaged over every process of a
    multi-process fit (`sync_dist`; the accuracy metrics synchronise themselves), so early stopping, the best
    checkpoint and the history see the whole validation split.

    Each step only adds its loss to a running sum on the device and updates the accuracy; the epoch's figures are
    logged once per epoch (each `self.log` is Lightning bookkeeping on every step; the weights and history are
    bit-identical to per-step logging). Lightning reduces them as before: the batch-size weighted
    mean, summed over every process of a multi-process fit."""

    def __init__(self, backbone: nn.Module, n_classes: int, optimisation: Optimisation,
                 augment: Augmentation | None = None, channels_last: bool = False) -> None:
        super().__init__()
        # plain values only: the checkpoint is read back with torch.load(weights_only=True). Not written to the
        # CSV logger too (its hparams.yaml, which nothing reads, cost 0.15 s a fit in a profile)
        self.save_hyperparameters({"n_classes": n_classes, **optimisation.model_dump()}, logger=False)
        self.optimisation = optimisation
        self.backbone = backbone
        self.augment = augment
        self.channels_last = channels_last
        self.loss = nn.CrossEntropyLoss()
        # labels are class indices by construction (cleaning encodes them): no per-step input checks
        self.train_acc = MulticlassAccuracy(num_classes=n_classes, average="micro", validate_args=False)
        self.val_acc = MulticlassAccuracy(num_classes=n_classes, average="micro", validate_args=False)
        self._loss_sum: dict[str, torch.Tensor] = {}   # this epoch's sum of loss x batch size, per stage
        self._rows: dict[str, int] = {}                 # ... and its rows (a Python int: no device sync)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        return self.backbone(x)

    def _step(self, batch: tuple[torch.Tensor, torch.Tensor], stage: str) -> torch.Tensor:
        x, y = batch
        logits = self(x)
        loss = self.loss(logits, y)
        (self.train_acc if stage == "train" else self.val_acc).update(logits, y)  # computed once, at epoch end
        rows = len(y)
        self._loss_sum[stage] = self._loss_sum.get(stage, 0.0) + loss.detach() * rows
        self._rows[stage] = self._rows.get(stage, 0) + rows
        return loss

    def _log_epoch(self, stage: str) -> None:
        """The epoch's mean loss (weighted by batch size, as Lightning's on_epoch mean) and accuracy, logged once:
        Lightning sums value x rows and rows over the processes, so the mean is the whole split's."""
        rows = self._rows.pop(stage)
        self.log(f"{stage}_loss", self._loss_sum.pop(stage) / rows, on_step=False, on_epoch=True, prog_bar=False,
                 sync_dist=True, batch_size=rows)
        self.log(f"{stage}_accuracy", self.train_acc if stage == "train" else self.val_acc, on_step=False,
                 on_epoch=True, prog_bar=False)

    def training_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> torch.Tensor:
        x, y = batch
        if self.augment is not None:
            with torch.no_grad():
                x = self.augment(x)
        loss = self._step((x, y), "train")
        if batch_idx == self.trainer.num_training_batches - 1:  # logged here, not in on_train_epoch_end, which
            self._log_epoch("train")                             # runs after the callbacks that report the epoch
        return loss

    def validation_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> None:
        self._step(batch, "val")

    def on_validation_epoch_end(self) -> None:
        if "val" in self._rows:
            self._log_epoch("val")

    def configure_optimizers(self) -> dict:
        """From params: e.g. AdamW halving the rate when validation loss stalls, or SGD with a cosine schedule.
        Frozen parameters (a fine-tuned model's backbone) are not given to the optimiser."""
        optimizer = build_optimizer([p for p in self.parameters() if p.requires_grad], self.optimisation)
        schedule = build_schedule(optimizer, self.optimisation, lambda: self.trainer.estimated_stepping_batches)
        return {"optimizer": optimizer, **({"lr_scheduler": schedule} if schedule else {})}
