"""Small random affine jitter of image batches (rotation, shift, scale) in pure torch.

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
