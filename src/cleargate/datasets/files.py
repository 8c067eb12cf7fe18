"""A user's own data: a parquet/CSV table in the kind's raw layout, or images in an .npz (`images`, `labels`):
`images` (n, h, w) for grey images (`image_shape: [h, w]`), (n, c, h, w) for `image_shape: [c, h, w]`."""

from __future__ import annotations

import zipfile
from typing import Any

import numpy as np
import pandas as pd

from cleargate.errors import DataError
from cleargate.io import read_table
from cleargate.kinds.image import ImageData, records_from_arrays


def load_table(config: Any) -> pd.DataFrame:
    """Any kind: the file named by `source_path`, in that kind's raw layout (params.yaml declares its columns)."""
    if config.source_path is None:  # also refused by the data contract; kept for type checkers
        raise DataError(f"dataset '{config.name}': source '{config.source}' needs data.source_path in params.yaml")
    return read_table(config.source_path)


def load_npz(config: ImageData) -> pd.DataFrame:
    path = config.source_path
    assert path is not None
    if not path.is_file():
        raise DataError(f"{path}: file not found; set datasets.{config.name}.data.source_path in params.yaml")
    try:
        with np.load(path, allow_pickle=False) as arrays:
            missing = {"images", "labels"} - set(arrays.files)
            if missing:
                raise DataError(f"{path}: missing array(s) {sorted(missing)}; save with "
                                "np.savez(path, images=..., labels=...)")
            images, labels = arrays["images"], arrays["labels"]
    except (zipfile.BadZipFile, ValueError, OSError, EOFError) as exc:
        raise DataError(f"{path}: not a readable .npz file ({exc}); re-save it with np.savez") from None
    expected = tuple(config.image_shape)
    if images.shape[1:] != expected:
        raise DataError(f"{path}: images have shape {images.shape[1:]}, expected {expected} "
                        f"(datasets.{config.name}.data.image_shape in params.yaml)")
    if len(images) != len(labels):
        raise DataError(f"{path}: {len(images)} images but {len(labels)} labels")
    return records_from_arrays(images, labels)
