"""A small ResNet-style backbone: residual blocks (the seeds' description of ResNet), sized for small images."""

from __future__ import annotations

import torch
from torch import nn

from cleargate.models.normalise import ChannelStandardiser, OptionallyStandardised


class ResidualBlock(nn.Module):
    """conv-bn-relu-conv-bn plus the input (projected with a 1x1 conv when the shape changes)."""

    def __init__(self, in_channels: int, out_channels: int, stride: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, bias=False),
            nn.BatchNorm2d(out_channels),
            nn.ReLU(inplace=True),
            nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=False),
            nn.BatchNorm2d(out_channels),
        )
        self.skip = nn.Identity() if stride == 1 and in_channels == out_channels else nn.Sequential(
            nn.Conv2d(in_channels, out_channels, 1, stride=stride, bias=False), nn.BatchNorm2d(out_channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.body(x) + self.skip(x))


class SmallResNet(OptionallyStandardised):
    """Stem, one residual block per entry of `channels` (each halves the resolution), pooled head.
    `normalize`: per-channel standardisation inside, as in ConvNet."""

    def __init__(self, n_classes: int, channels: list[int], dropout: float, in_channels: int = 1,
                 normalize: bool = False) -> None:
        super().__init__()
        self.normaliser = ChannelStandardiser(in_channels, channel_dim=1) if normalize else None
        self.stem = nn.Sequential(nn.Conv2d(in_channels, channels[0], 3, padding=1, bias=False),
                                  nn.BatchNorm2d(channels[0]), nn.ReLU(inplace=True))
        widths = [channels[0], *channels]
        self.blocks = nn.Sequential(*(ResidualBlock(a, b, stride=2) for a, b in zip(widths, widths[1:], strict=False)))
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(dropout),
                                  nn.Linear(channels[-1], n_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.standardised(x)
        return self.head(self.blocks(self.stem(x)))
