"""The transformer encoder the attention backbones share (`vit`, `transformer`): tokens in, one vector out.

Built on torch.nn.TransformerEncoder (pre-norm layers, GELU): positions are added to the tokens (learned,
or fixed sinusoids), an optional class token is prepended, and the output is that token or the mean of the
tokens after a final LayerNorm.
"""

from __future__ import annotations

import math

import torch
from torch import nn


def sinusoidal_positions(n_positions: int, dim: int) -> torch.Tensor:
    """(n_positions, dim): sin on even, cos on odd features, wavelengths from 2*pi to 10000*2*pi."""
    position = torch.arange(n_positions, dtype=torch.float32)[:, None]
    frequency = torch.exp(torch.arange(0, dim, 2, dtype=torch.float32) * (-math.log(10000.0) / dim))
    table = torch.zeros(n_positions, dim)
    table[:, 0::2] = torch.sin(position * frequency)
    table[:, 1::2] = torch.cos(position * frequency)[:, : dim // 2]
    return table


class TokenEncoder(nn.Module):
    """(n, tokens, dim) -> (n, dim)."""

    def __init__(self, n_tokens: int, dim: int, depth: int, heads: int, ff_dim: int, dropout: float,
                 pooling: str, positions: str) -> None:
        super().__init__()
        if pooling not in ("cls", "mean") or positions not in ("learned", "sinusoidal"):
            raise ValueError(f"pooling must be cls|mean and positions learned|sinusoidal, got {pooling}, {positions}")
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim)) if pooling == "cls" else None
        n_positions = n_tokens + (self.cls_token is not None)
        if positions == "learned":
            self.positions = nn.Parameter(torch.empty(1, n_positions, dim))
            nn.init.trunc_normal_(self.positions, std=0.02)
        else:
            self.register_buffer("positions", sinusoidal_positions(n_positions, dim)[None], persistent=False)
        layer = nn.TransformerEncoderLayer(dim, heads, ff_dim, dropout, activation="gelu", batch_first=True,
                                           norm_first=True)
        self.encoder = nn.TransformerEncoder(layer, depth, enable_nested_tensor=False)
        self.dropout = nn.Dropout(dropout)
        self.norm = nn.LayerNorm(dim)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        if self.cls_token is not None:
            tokens = torch.cat([self.cls_token.expand(len(tokens), -1, -1), tokens], dim=1)
        encoded = self.norm(self.encoder(self.dropout(tokens + self.positions)))
        return encoded[:, 0] if self.cls_token is not None else encoded.mean(dim=1)
