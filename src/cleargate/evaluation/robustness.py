"""Robustness: the primary metric on perturbed copies of the test split, next to the clean figure.

Each dataset names its kind's perturbations and their strengths (params.yaml `evaluate.robustness`: image
shifts and noise, sensor noise and time warping, missing values). One prediction pass per perturbation; each
copy is seeded from the project seed and the perturbation's name, so a re-run measures the same copies.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Mapping

import numpy as np
import pandas as pd

from cleargate.kinds.protocol import Perturbation


def perturbation_rng(seed: int, name: str) -> np.random.Generator:
    """The generator of one perturbation: the same for the same seed and name, whatever else is measured."""
    return np.random.default_rng([seed, zlib.crc32(name.encode())])


def perturbed_scores(test: pd.DataFrame, predict_proba: Callable[[pd.DataFrame], np.ndarray],
                     score: Callable[[np.ndarray], float], perturbations: Mapping[str, Perturbation],
                     strengths: Mapping[str, float], seed: int) -> dict[str, float]:
    """Perturbation name -> `score` of the model's probabilities on the test split perturbed that way."""
    return {name: score(predict_proba(perturbations[name](test, strength, perturbation_rng(seed, name))))
            for name, strength in strengths.items()}

