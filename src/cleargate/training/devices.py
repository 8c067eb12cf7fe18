"""What a fit does differently on the device it runs on: numeric precision, memory layout, where the data lives.

Each decision is a small pure function of the device (so all of them are tested on a CPU-only machine); the
fit asks them once the trainer knows its device.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import torch

from cleargate.runtime import threads_for

DEVICE_MEMORY_SHARE = 0.5  # a split is moved onto the accelerator whole when it takes at most this of free memory
LOADER_WORKERS_MAX = 4     # batches prepared beside the accelerator when the data stays in host memory


def precision_for(setting: str, device: torch.device, bf16_supported: bool | None = None) -> str:
    """`auto`: bf16 mixed precision on a GPU that supports it, full 32-bit floats otherwise (CPU, GPUs before
    Ampere: fp16 would need loss scaling and can change results);
    any other value of params.yaml `trainer.precision` is taken as written."""
    if setting != "auto":
        return setting
    if device.type != "cuda":
        return "32-true"
    supported = torch.cuda.is_bf16_supported() if bf16_supported is None else bf16_supported
    return "bf16-mixed" if supported else "32-true"


def channels_last(inputs: torch.Tensor, device: torch.device) -> bool:
    """Image batches (N, C, H, W) run in channels-last layout on a GPU: tensor cores' native layout."""
    return device.type == "cuda" and inputs.dim() == 4


@dataclass(frozen=True)
class Placement:
    """Where a split's tensors live during the fit and how its batches reach the device."""

    device: torch.device     # the tensors are moved here once
    pin_memory: bool
    workers: int

    @property
    def resident(self) -> bool:
        return self.device.type != "cpu"


def placement(device: torch.device, nbytes: int, free_bytes: int | None = None, processes: int = 1) -> Placement:
    """On a GPU the whole split moves once when it fits (batches are then indexed on the device: no copy per
    step); else it stays in pinned host memory and worker processes assemble the batches. On a CPU the data
    already is where the model is."""
    cpu = torch.device("cpu")
    if device.type != "cuda":
        return Placement(cpu, pin_memory=False, workers=0)
    free = torch.cuda.mem_get_info(device)[0] if free_bytes is None else free_bytes
    if nbytes <= DEVICE_MEMORY_SHARE * free:
        return Placement(device, pin_memory=False, workers=0)
    workers = max(1, min(LOADER_WORKERS_MAX, threads_for(processes) - 1))
    return Placement(cpu, pin_memory=True, workers=workers)


def deterministic_for(setting: bool, device: torch.device) -> bool | str:
    """`deterministic: true` on a GPU: deterministic algorithms wherever torch has one, a warning where it has
    none (e.g. the backward pass of the ResNet's adaptive average pooling), instead of stopping the fit."""
    return "warn" if setting and device.type == "cuda" else setting


@contextmanager
def unfilled_new_tensors() -> Iterator[None]:
    """Deterministic algorithms (the Trainer's `deterministic`) without torch's debugging aid that fills every
    new tensor with NaN first (`torch.utils.deterministic.fill_uninitialized_memory`, on by default with them):
    no kernel a fit uses reads memory it did not write, so the weights are bit-identical with or without it,
    and the fill slows every training step (a plain PyTorch loop pays none of it). The tests of seeded,
    repeatable fits guard the first claim."""
    import torch.utils.deterministic as settings

    before = settings.fill_uninitialized_memory
    settings.fill_uninitialized_memory = False
    try:
        yield
    finally:
        settings.fill_uninitialized_memory = before


def sync_batchnorm_for(processes: bool, device: torch.device) -> bool:
    """Batch norm statistics over every rank of a multi-process fit: on GPUs (torch's SyncBatchNorm has no CPU
    kernel, so CPU ranks (gloo) normalise over their own batch, as the 1-process fit does)."""
    return processes and device.type == "cuda"
