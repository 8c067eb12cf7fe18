"""Attribution maps of a network on images (captum's integrated gradients): per class, which pixels move the
network's score for that class, averaged over test images of the class.

For each class, at most `images_per_class` test images whose true class it is (a seeded choice), integrated
gradients of the class's logit from a black image (all zeros: no ink) to the image in `steps` steps; the
attributions are summed over the colour channels and averaged over the images. Positive: the pixel's value
speaks for the class; negative: against it.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from cleargate.config.judging import AttributionConfig
from cleargate.kinds import DataContract, kind_of

METHOD = "integrated gradients (captum), black-image baseline"


def attribution_maps(network: Any, frame: pd.DataFrame, y: np.ndarray, classes: list[int], data: DataContract,
                     config: AttributionConfig, seed: int) -> tuple[dict[str, list[list[float]]], int]:
    """class name -> its (height, width) mean attribution map, and the most images averaged for a class."""
    import torch
    from captum.attr import IntegratedGradients

    network = network.eval()
    explainer = IntegratedGradients(network)
    rng = np.random.default_rng(seed)
    maps: dict[str, list[list[float]]] = {}
    most = 0
    for index, name in zip(classes, data.classes, strict=True):
        members = np.flatnonzero(y == index)
        if len(members) == 0:
            continue
        chosen = np.sort(rng.choice(members, size=min(config.images_per_class, len(members)), replace=False))
        inputs = kind_of(data).to_tensor(frame.iloc[chosen], data).requires_grad_(True)
        attributions = explainer.attribute(inputs, baselines=torch.zeros_like(inputs), target=int(index),
                                           n_steps=config.steps, internal_batch_size=256)
        mean = attributions.detach().sum(dim=1).mean(dim=0)   # channels summed, images averaged: (h, w)
        maps[str(name)] = mean.numpy().astype(float).round(6).tolist()
        most = max(most, len(chosen))
    return maps, most
