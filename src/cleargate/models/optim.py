"""The optimiser and learning-rate schedule of a deep model, built from its params (`config.models.Optimisation`).

One place for both, so training, and later fine-tuning (other parameter groups, another rate) or a search over
them, build them the same way. Library code only: torch.optim and torch.optim.lr_scheduler.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import torch
from torch.optim import lr_scheduler

from cleargate.config.hyperparameters import Optimisation

WARMUP_START = 0.01   # a linear warm-up starts at this fraction of the learning rate


def build_optimizer(parameters: Iterable[Any], settings: Optimisation) -> torch.optim.Optimizer:
    """`parameters`: tensors or parameter groups (dicts with their own `lr`, as fine-tuning needs)."""
    if settings.optimizer == "sgd":
        return torch.optim.SGD(parameters, lr=settings.learning_rate, momentum=settings.momentum,
                               nesterov=settings.nesterov, weight_decay=settings.weight_decay)
    return torch.optim.AdamW(parameters, lr=settings.learning_rate, weight_decay=settings.weight_decay)


def build_schedule(optimizer: torch.optim.Optimizer, settings: Optimisation,
                   total_steps: Callable[[], float]) -> dict[str, Any] | None:
    """Lightning's `lr_scheduler` entry, or None for a constant rate.

    `plateau` steps once per epoch on the validation loss; the others once per optimiser step, over
    `total_steps()` (the whole of `max_epochs`; early stopping may end the run before the schedule does),
    asked only by the schedules that need it.
    """
    if settings.lr_schedule == "plateau":
        plateau = lr_scheduler.ReduceLROnPlateau(optimizer, mode="min", factor=0.5, patience=1)
        return {"scheduler": plateau, "monitor": "val_loss"}
    if settings.lr_schedule == "none" and not settings.warmup_epochs:
        return None
    total = max(int(total_steps()), 1)
    warmup = min(settings.warmup_epochs * max(total // settings.max_epochs, 1), total - 1)
    if settings.lr_schedule == "onecycle":
        schedule: Any = lr_scheduler.OneCycleLR(
            optimizer, max_lr=[g["lr"] for g in optimizer.param_groups], total_steps=total,
            pct_start=max(warmup, 1) / total, anneal_strategy="cos", cycle_momentum=False)
        return {"scheduler": schedule, "interval": "step"}
    ramp = (lr_scheduler.LinearLR(optimizer, start_factor=WARMUP_START, end_factor=1.0, total_iters=warmup)
            if warmup else None)
    if settings.lr_schedule == "none":  # the warm-up alone; the rate then stays at learning_rate
        return {"scheduler": ramp, "interval": "step"}
    cosine = lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(total - warmup, 1))
    schedule = cosine if ramp is None else lr_scheduler.SequentialLR(optimizer, [ramp, cosine], milestones=[warmup])
    return {"scheduler": schedule, "interval": "step"}
