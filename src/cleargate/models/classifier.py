"""One LightningModule for every backbone: loss, optimiser and per-epoch metrics live here once."""

from __future__ import annotations

import lightning as L
import torch
from torch import nn
from torchmetrics.classification import MulticlassAccuracy

from cleargate.models.augment import random_affine, random_amplitude


class Classifier(L.LightningModule):
    def __init__(self, backbone: nn.Module, n_classes: int, learning_rate: float, weight_decay: float,
                 augment: tuple[float, float, float] = (0.0, 0.0, 0.0),
                 augment_sequence: tuple[float, float] = (0.0, 0.0)) -> None:
        super().__init__()
        self.save_hyperparameters(ignore=["backbone"])
        self.backbone = backbone
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
        with torch.no_grad():
            x = random_affine(x, *self.hparams.augment) if x.dim() == 4 else random_amplitude(
                x, *self.hparams.augment_sequence)
        return self._step((x, y), "train")

    def validation_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> None:
        self._step(batch, "val")

    def configure_optimizers(self) -> dict:
        """AdamW, halving the rate when validation loss stalls (small data: val loss is noisy)."""
        optimizer = torch.optim.AdamW(self.parameters(), lr=self.hparams.learning_rate,
                                      weight_decay=self.hparams.weight_decay)
        scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, mode="min", factor=0.5, patience=1)
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "monitor": "val_loss"}}
