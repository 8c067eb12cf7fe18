"""Fashion-MNIST as Debian's `dataset-fashion-mnist` package installs it: IDX files, read with numpy.

Optional: present only where the package is installed (`dpkg -L dataset-fashion-mnist`); a dataset entry
with `source: debian_fashion_mnist` enables it. Train and test files are concatenated (70,000 images);
the pipeline makes its own seeded split like for every other dataset.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pandas as pd

from cleargate.errors import DataError
from cleargate.kinds.image import ImageData, records_from_arrays

DEBIAN_DIR = Path("/usr/share/datasets/fashion-mnist")
PARTS = ("train", "t10k")


def read_idx(path: Path) -> np.ndarray:
    """IDX: 2 zero bytes, a type byte (0x08 = uint8), the number of dimensions, big-endian int32 sizes."""
    try:
        with gzip.open(path, "rb") as handle:
            raw = handle.read()
    except (OSError, EOFError) as exc:
        raise DataError(f"{path}: not a readable gzip IDX file ({exc})") from None
    if len(raw) < 4 or raw[:2] != b"\x00\x00" or raw[2] != 0x08:
        raise DataError(f"{path}: not an unsigned-byte IDX file (bad magic number)")
    ndim = raw[3]
    shape = tuple(int(d) for d in np.frombuffer(raw, dtype=">i4", count=ndim, offset=4))
    data = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim)
    if data.size != int(np.prod(shape)):
        raise DataError(f"{path}: holds {data.size} values, its header says {shape}; the file is truncated")
    return data.reshape(shape)


def load_debian_fashion_mnist(config: ImageData) -> pd.DataFrame:
    folder = config.source_path or DEBIAN_DIR
    images, labels = [], []
    for part in PARTS:
        image_file, label_file = folder / f"{part}-images-idx3-ubyte.gz", folder / f"{part}-labels-idx1-ubyte.gz"
        for path in (image_file, label_file):
            if not path.is_file():
                raise DataError(f"{path}: not found; install Debian's dataset-fashion-mnist package "
                                "(apt-get install dataset-fashion-mnist) or set source_path to its folder")
        images.append(read_idx(image_file))
        labels.append(read_idx(label_file))
    stacked = np.concatenate(images)
    if stacked.shape[1:] != tuple(config.image_shape):
        raise DataError(f"{folder}: images have shape {stacked.shape[1:]}, expected {tuple(config.image_shape)}")
    return records_from_arrays(stacked.astype(np.int64), np.concatenate(labels))
