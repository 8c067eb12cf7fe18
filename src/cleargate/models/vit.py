"""A small vision transformer: square patches embedded linearly (a strided convolution), the shared encoder,
a linear head. Images whose sides are not a multiple of the patch are zero-padded on the right and bottom."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from cleargate.models.encoder import TokenEncoder
from cleargate.models.normalise import ChannelStandardiser, OptionallyStandardised


class VisionTransformer(OptionallyStandardised):
    """(n, c, h, w) images in [0, 1] -> class logits; `normalize` standardises each channel inside."""

    def __init__(self, image_shape: tuple[int, int, int], n_classes: int, patch_size: int, dim: int, depth: int,
                 heads: int, ff_dim: int, dropout: float, pooling: str, positions: str, normalize: bool) -> None:
        super().__init__()
        channels, height, width = image_shape
        self.normaliser = ChannelStandardiser(channels, channel_dim=1) if normalize else None
        self.padding = (0, -width % patch_size, 0, -height % patch_size)
        n_tokens = math.ceil(height / patch_size) * math.ceil(width / patch_size)
        self.embed = nn.Conv2d(channels, dim, kernel_size=patch_size, stride=patch_size)
        self.encoder = TokenEncoder(n_tokens, dim, depth, heads, ff_dim, dropout, pooling, positions)
        self.head = nn.Linear(dim, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.standardised(x)
        if any(self.padding):
            x = F.pad(x, self.padding)
        tokens = self.embed(x).flatten(2).transpose(1, 2)   # (n, patches, dim), row-major patches
        return self.head(self.encoder(tokens))
