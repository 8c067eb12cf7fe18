"""A transformer encoder over sensor windows: (n, time, channels) raw values in, class logits out.

Each token is `patch_size` consecutive time steps of every channel, projected linearly (patch 1: a linear
projection of the channels at each step); then the shared encoder (`models.encoder`) and a linear head.
Like the recurrent backbone it standardises its input inside (statistics of the training windows, saved
with the weights), so it serves raw sensor values.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from cleargate.models.encoder import TokenEncoder
from cleargate.models.normalise import ChannelStandardiser


class SequenceTransformer(nn.Module):
    def __init__(self, n_channels: int, window: int, n_classes: int, patch_size: int, dim: int, depth: int,
                 heads: int, ff_dim: int, dropout: float, pooling: str, positions: str) -> None:
        super().__init__()
        self.patch_size = patch_size
        self.padding = -window % patch_size     # trailing zeros (after standardising) to fill the last token
        self.standardise = ChannelStandardiser(n_channels, channel_dim=-1)
        self.embed = nn.Linear(patch_size * n_channels, dim)
        self.encoder = TokenEncoder(math.ceil(window / patch_size), dim, depth, heads, ff_dim, dropout, pooling,
                                    positions)
        self.head = nn.Linear(dim, n_classes)

    def fit_normaliser(self, x: torch.Tensor) -> None:
        self.standardise.fit(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.standardise(x)
        if self.padding:
            x = F.pad(x, (0, 0, 0, self.padding))
        n, steps, channels = x.shape
        tokens = x.reshape(n, steps // self.patch_size, self.patch_size * channels)
        return self.head(self.encoder(self.embed(tokens)))
