"""Recurrent backbone for sensor windows: (n, time, channels) raw values in, class logits out."""

from __future__ import annotations

import torch
from torch import nn

CELLS: dict[str, type[nn.RNNBase]] = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}  # rnn: Elman, tanh


class RecurrentNet(nn.Module):
    """Elman RNN, LSTM or GRU over the window, pooled over time, then a linear head.

    Mean and max pooling over every time step (not the last hidden state) make the prediction robust to
    where in the window the movement happens; the mean sees the whole window, the max its strongest moment.
    The input is standardised inside the model (buffers `mean`, `std`), so the saved state_dict serves raw
    sensor values with no separate scaler to ship.
    """

    def __init__(self, n_channels: int, n_classes: int, hidden: int, layers: int, bidirectional: bool,
                 dropout: float, cell: str) -> None:
        super().__init__()
        if cell not in CELLS:
            raise ValueError(f"cell must be one of {sorted(CELLS)}, got '{cell}'")
        self.register_buffer("mean", torch.zeros(n_channels))
        self.register_buffer("std", torch.ones(n_channels))
        self.rnn = CELLS[cell](n_channels, hidden, num_layers=layers, batch_first=True,
                               bidirectional=bidirectional, dropout=dropout if layers > 1 else 0.0)
        width = hidden * (2 if bidirectional else 1)
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(2 * width, n_classes))

    @torch.no_grad()
    def fit_normaliser(self, x: torch.Tensor) -> None:
        """Per-channel mean/std of training windows (n, time, channels); a constant channel keeps std 1,
        since dividing by ~0 would turn any serving-time deviation into a huge input."""
        flat = x.reshape(-1, x.shape[-1]).to(self.mean.dtype)
        std = flat.std(dim=0)
        self.mean.copy_(flat.mean(dim=0))
        self.std.copy_(torch.where(std > 1e-6, std, torch.ones_like(std)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out, _ = self.rnn((x - self.mean) / self.std)
        pooled = torch.cat([out.mean(dim=1), out.amax(dim=1)], dim=1)
        return self.head(pooled)
