"""One LightningModule for every backbone: loss, optimiser and per-epoch metrics live here once."""

from __future__ import annotations

from collections.abc import Callable

import lightning as L
import torch
from torch import nn
from torchmetrics.classification import MulticlassAccuracy

Augmentation = Callable[[torch.Tensor], torch.Tensor]


class Classifier(L.LightningModule):
    """`augment` is the kind's training-time jitter (`Kind.augmentation`), applied to training batches only."""

    def __init__(self, backbone: nn.Module, n_classes: int, learning_rate: float, weight_decay: float,
                 augment: Augmentation | None = None) -> None:
        super().__init__()
        self.save_hyperparameters(ignore=["backbone", "augment"])
        self.backbone = backbone
        self.augment = augment
        self.loss = nn.CrossEntropyLoss()
        self.train_acc = MulticlassAccuracy(num_classes=n_classes, average="micro")
        self.val_acc = MulticlassAccuracy(num_classes=n_classes, average="micro")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.backbone(x)

    def _step(self, batch: tuple[torch.Tensor, torch.Tensor], stage: str) -> torch.Tensor:
        x, y = batch
        logits = self(x)
        loss = self.loss(logits, y)
        accuracy = self.train_acc if stage == "train" else self.val_acc
        accuracy(logits, y)
        self.log(f"{stage}_loss", loss, on_step=False, on_epoch=True, prog_bar=False)
        self.log(f"{stage}_accuracy", accuracy, on_step=False, on_epoch=True, prog_bar=False)
        return loss

    def training_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> torch.Tensor:
        x, y = batch
        if self.augment is not None:
            with torch.no_grad():
                x = self.augment(x)
        return self._step((x, y), "train")

    def validation_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> None:
        self._step(batch, "val")

    def configure_optimizers(self) -> dict:
        """AdamW, halving the rate when validation loss stalls (small data: val loss is noisy)."""
        optimizer = torch.optim.AdamW(self.parameters(), lr=self.hparams.learning_rate,
                                      weight_decay=self.hparams.weight_decay)
        scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, mode="min", factor=0.5, patience=1)
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "monitor": "val_loss"}}
