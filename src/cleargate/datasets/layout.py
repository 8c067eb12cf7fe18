"""Which columns a model reads, per kind of data: everything else (label, group, ids) is bookkeeping."""

from __future__ import annotations

from cleargate.config import DatasetConfig, ImageData, SequenceData
from cleargate.datasets.schema import pixel_columns


def feature_columns(config: DatasetConfig) -> list[str]:
    """The model's input columns, in the order the model expects them."""
    if isinstance(config, ImageData):
        return pixel_columns(config.n_pixels)
    if isinstance(config, SequenceData):
        from cleargate.sequences import window_columns

        return window_columns(config)
    from cleargate.tabular import feature_columns as tabular_features

    return tabular_features(config)
