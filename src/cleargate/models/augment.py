"""Training-time jitter in pure torch: affine moves for image batches, amplitude and noise for sensor windows.

Training-only; no gradient flows through it, so CPU and GPU runs stay deterministic under a seed.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F


def random_affine(images: torch.Tensor, max_degrees: float, max_shift: float, max_scale: float) -> torch.Tensor:
    """Each image gets its own rotation (+-max_degrees), shift (+-max_shift of size) and zoom."""
    if max_degrees == 0 and max_shift == 0 and max_scale == 0:
        return images
    n = images.shape[0]
    uniform = lambda: torch.rand(n, device=images.device) * 2 - 1  # noqa: E731
    angle = uniform() * math.radians(max_degrees)
    scale = 1 + uniform() * max_scale
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
    theta = torch.stack([torch.stack([cos, -sin, uniform() * 2 * max_shift], dim=1),
                         torch.stack([sin, cos, uniform() * 2 * max_shift], dim=1)], dim=1)
    grid = F.affine_grid(theta, list(images.shape), align_corners=False)
    return F.grid_sample(images, grid, align_corners=False, padding_mode="zeros")


def random_amplitude(windows: torch.Tensor, max_scale: float, noise: float) -> torch.Tensor:
    """Sensor windows (n, time, channels): each window and channel scaled by 1 +- max_scale (sensor gain,
    how hard a patient moves) plus Gaussian noise of `noise` x the batch's per-channel std."""
    if max_scale == 0 and noise == 0:
        return windows
    n, _, c = windows.shape
    gain = 1 + (torch.rand(n, 1, c, device=windows.device) * 2 - 1) * max_scale
    spread = windows.std(dim=(0, 1), keepdim=True)
    return windows * gain + torch.randn_like(windows) * spread * noise
