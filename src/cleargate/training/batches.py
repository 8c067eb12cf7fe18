"""Batches of tensors already in memory, indexed whole: `x[indices]` instead of one sample at a time.

A `TensorDataset` behind a `DataLoader` fetches every sample separately and stacks them (default collation):
for small networks that costs as much as the forward pass. Here the sampler yields a batch of indices and
the dataset returns the batch in one indexing operation, on whatever device the tensors live. The order is
exactly the one `DataLoader(shuffle=True, generator=...)` gives, so results do not change.
"""

from __future__ import annotations

import torch
from torch.utils.data import BatchSampler, DataLoader, Dataset, RandomSampler, SequentialSampler


class TensorBatches(Dataset):
    def __init__(self, inputs: torch.Tensor, labels: torch.Tensor) -> None:
        self.inputs, self.labels = inputs, labels

    def __len__(self) -> int:
        return len(self.inputs)

    def __getitem__(self, indices: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
        index = torch.as_tensor(indices, device=self.inputs.device)
        return self.inputs[index], self.labels[index]


def batch_loader(inputs: torch.Tensor, labels: torch.Tensor, batch_size: int, shuffle: bool, seed: int,
                 pin_memory: bool = False, workers: int = 0) -> DataLoader:
    """`pin_memory` and `workers` for data kept in host memory while the model is on a GPU (`training.devices`)."""
    dataset = TensorBatches(inputs, labels)
    order = (RandomSampler(dataset, generator=torch.Generator().manual_seed(seed)) if shuffle
             else SequentialSampler(dataset))
    return DataLoader(dataset, sampler=BatchSampler(order, batch_size, drop_last=False), batch_size=None,
                      pin_memory=pin_memory, num_workers=workers, persistent_workers=workers > 0)
