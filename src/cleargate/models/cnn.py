"""ConvNet backbone after the seeds' `ConvNet`: conv-bn-relu-pool blocks, then a small MLP head."""

from __future__ import annotations

import torch
from torch import nn

from cleargate.models.normalise import ChannelStandardiser, OptionallyStandardised


def conv_block(in_channels: int, out_channels: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
        nn.MaxPool2d(2),
    )


class ConvNet(OptionallyStandardised):
    """Sized from the input shape, so 28x28 MNIST, 8x8 digits and 3x32x32 colour images use the same code.

    `normalize` standardises each input channel inside (statistics of the training images, saved with the
    weights); off, the network has exactly the parameters and buffers it always had."""

    def __init__(self, image_shape: tuple[int, int], n_classes: int, channels: list[int], hidden: int,
                 dropout: float, in_channels: int = 1, normalize: bool = False) -> None:
        super().__init__()
        self.normaliser = ChannelStandardiser(in_channels, channel_dim=1) if normalize else None
        widths = [in_channels, *channels]
        self.features = nn.Sequential(*(conv_block(a, b) for a, b in zip(widths, widths[1:], strict=False)))
        with torch.no_grad():
            n_flat = self.features(torch.zeros(1, in_channels, *image_shape)).numel()
        self.head = nn.Sequential(
            nn.Flatten(),
            nn.Linear(n_flat, hidden),
            nn.ReLU(inplace=True),
            nn.Dropout(dropout),
            nn.Linear(hidden, n_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.standardised(x)
        return self.head(self.features(x))
