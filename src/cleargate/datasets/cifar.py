"""CIFAR-10 from its **binary** distribution, read with numpy; never the Python-pickle one (loading a pickle
runs code from the file).

`source_path` names either the folder `cifar-10-batches-bin` (or a folder holding it) or the archive
`cifar-10-binary.tar.gz` as distributed; the archive is read in place, nothing is extracted or downloaded.
Each of `data_batch_1.bin` .. `data_batch_5.bin` and `test_batch.bin` is a run of 3,073-byte records: one
label byte (0-9), then 3,072 pixel bytes, the 1,024 red, 1,024 green and 1,024 blue values of a 32x32 image,
row-major. The records keep that byte order as `pixel_0..pixel_3071` (`kinds.image`). Training and test
batches are concatenated (60,000 images); the pipeline makes its own seeded split, like for every dataset.
"""

from __future__ import annotations

import tarfile
from pathlib import Path, PurePosixPath

import numpy as np
import pandas as pd

from cleargate.errors import DataError
from cleargate.kinds.image import ImageData, records_from_arrays

FOLDER = "cifar-10-batches-bin"
FILES = tuple(f"data_batch_{i}.bin" for i in range(1, 6)) + ("test_batch.bin",)
SHAPE = (3, 32, 32)
RECORD = 1 + 3 * 32 * 32          # 3,073 bytes
CIFAR100_RECORD = RECORD + 1      # coarse and fine label bytes
N_CLASSES = 10
WHERE = ("put the six .bin files of CIFAR-10's binary version (cifar-10-binary.tar.gz from "
         "https://www.cs.toronto.edu/~kriz/cifar.html, folder cifar-10-batches-bin) there, or point "
         "datasets.{name}.data.source_path at that folder or at the .tar.gz")


def parse_records(raw: bytes, source: str) -> tuple[np.ndarray, np.ndarray]:
    """One batch file's bytes -> images (n, 3, 32, 32) uint8 and labels (n,); every fault is one line."""
    if not raw:
        raise DataError(f"{source}: empty file; it holds no {RECORD:,}-byte CIFAR-10 records")
    if len(raw) % RECORD:
        if len(raw) % CIFAR100_RECORD == 0:
            raise DataError(f"{source}: {len(raw):,} bytes are {CIFAR100_RECORD:,}-byte records (CIFAR-100's "
                            f"layout, two label bytes), not CIFAR-10's {RECORD:,}; use CIFAR-10's binary version")
        raise DataError(f"{source}: {len(raw):,} bytes are not whole {RECORD:,}-byte records (1 label byte + "
                        f"3,072 pixel bytes): {len(raw) // RECORD:,} records and {len(raw) % RECORD:,} bytes "
                        "over; the file is truncated or not CIFAR-10 binary, copy it again")
    table = np.frombuffer(raw, dtype=np.uint8).reshape(-1, RECORD)
    labels = table[:, 0]
    bad = np.flatnonzero(labels >= N_CLASSES)
    if bad.size:
        raise DataError(f"{source}: record {bad[0]} has label byte {labels[bad[0]]} (CIFAR-10 labels are 0-9; "
                        f"{bad.size} records like it): wrong record size or not a CIFAR-10 binary file")
    return table[:, 1:].reshape(-1, *SHAPE), labels.astype(np.int64)


def _read_folder(folder: Path, name: str) -> list[tuple[str, bytes]]:
    """(where, bytes) of the six files, in order."""
    if (folder / FOLDER).is_dir():
        folder = folder / FOLDER
    missing = [f for f in FILES if not (folder / f).is_file()]
    if missing:
        raise DataError(f"{folder}: missing {', '.join(missing)}; {WHERE.format(name=name)}")
    return [(str(folder / f), (folder / f).read_bytes()) for f in FILES]


def _read_archive(path: Path, name: str) -> list[tuple[str, bytes]]:
    """The six members by file name, wherever they sit in the archive; only regular files are read, in
    memory (nothing is extracted to disk)."""
    found: dict[str, bytes] = {}
    try:
        with tarfile.open(path, "r:*") as archive:
            for member in archive.getmembers():
                base = PurePosixPath(member.name).name
                if base in FILES and member.isfile() and base not in found:
                    handle = archive.extractfile(member)
                    assert handle is not None  # a regular file always has a stream
                    found[base] = handle.read()
    except (tarfile.TarError, OSError, EOFError) as exc:
        reason = str(exc).splitlines()[0].rstrip(":") if str(exc) else type(exc).__name__
        raise DataError(f"{path}: not a readable .tar.gz archive ({reason}); copy cifar-10-binary.tar.gz "
                        "again") from None
    missing = [f for f in FILES if f not in found]
    if missing:
        raise DataError(f"{path}: the archive lacks {', '.join(missing)}; it is not CIFAR-10's binary version "
                        f"(the python version holds pickles, which are never read); {WHERE.format(name=name)}")
    return [(f"{path}:{f}", found[f]) for f in FILES]


def read_cifar10(path: Path, name: str = "cifar10") -> tuple[np.ndarray, np.ndarray]:
    """All six batches, in order: images (n, 3, 32, 32) uint8 and labels."""
    if path.is_dir():
        files = _read_folder(path, name)
    elif path.is_file():
        files = _read_archive(path, name)
    else:
        raise DataError(f"{path}: not found; {WHERE.format(name=name)}")
    parts = [parse_records(raw, where) for where, raw in files]
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])


def load_cifar10_binary(config: ImageData) -> pd.DataFrame:
    assert config.source_path is not None  # required by the data contract
    images, labels = read_cifar10(Path(config.source_path), config.name)
    return records_from_arrays(images, labels)
