"""Per-channel standardisation inside a network: statistics of the training inputs, saved with the weights.

Training calls the backbone's `fit_normaliser(train_inputs)` before the first step
(`training.lightning`); the buffers then travel in the state_dict, so the saved model serves raw
inputs with no separate scaler to ship.
"""

from __future__ import annotations

import torch
from torch import nn


class ChannelStandardiser(nn.Module):
    """(x - mean) / std per channel; `channel_dim` is 1 for images (n, c, h, w), -1 for windows (n, t, c)."""

    def __init__(self, n_channels: int, channel_dim: int) -> None:
        super().__init__()
        self.channel_dim = channel_dim
        self.register_buffer("mean", torch.zeros(n_channels))
        self.register_buffer("std", torch.ones(n_channels))

    @torch.no_grad()
    def fit(self, x: torch.Tensor) -> None:
        """Mean and std of every value of each channel, accumulated in float64 one channel at a time (no copy
        of the whole training tensor); a constant channel keeps std 1, since dividing by ~0 would turn any
        serving-time deviation into a huge input."""
        for c in range(self.mean.numel()):
            values = x.select(self.channel_dim, c)
            mean = values.mean(dtype=torch.float64)
            std = ((values - mean.float()).square().mean(dtype=torch.float64)).sqrt()
            self.mean[c] = mean
            self.std[c] = std if std > 1e-6 else 1.0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shape = [1] * x.dim()
        shape[self.channel_dim] = -1
        return (x - self.mean.view(shape)) / self.std.view(shape)


class OptionallyStandardised(nn.Module):
    """A backbone whose input may be standardised per channel first (`self.normaliser`, None when off)."""

    normaliser: ChannelStandardiser | None

    def fit_normaliser(self, x: torch.Tensor) -> None:
        if self.normaliser is not None:
            self.normaliser.fit(x)

    def standardised(self, x: torch.Tensor) -> torch.Tensor:
        return x if self.normaliser is None else self.normaliser(x)
