"""CIFAR-10's binary distribution in miniature, written in the exact format: `cifar-10-batches-bin/` with
data_batch_1..5.bin and test_batch.bin, each a run of 3,073-byte records (label byte, then the 1,024 red,
1,024 green and 1,024 blue bytes of a 32x32 image), and the same folder as a .tar.gz.

Each class has its own colour (plus per-pixel noise and a left-to-right ramp), so a tiny network learns it
in a few epochs and a horizontal flip changes the image.
"""

from __future__ import annotations

import tarfile
from pathlib import Path

import numpy as np

FOLDER = "cifar-10-batches-bin"
FILES = tuple(f"data_batch_{i}.bin" for i in range(1, 6)) + ("test_batch.bin",)
NAMES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
PALETTE = np.array([[200, 40, 40], [40, 200, 40], [40, 40, 200], [200, 200, 40], [200, 40, 200],
                    [40, 200, 200], [120, 120, 120], [230, 140, 30], [30, 140, 230], [140, 30, 230]], dtype=float)


def colour_images(labels: np.ndarray, rng: np.random.Generator, noise: float = 30.0) -> np.ndarray:
    """(n, 3, 32, 32) uint8: the class colour, a ramp across the columns, Gaussian noise."""
    ramp = np.linspace(-30, 30, 32)[None, None, None, :]
    images = PALETTE[labels][:, :, None, None] + ramp + rng.normal(0, noise, (len(labels), 3, 32, 32))
    return np.clip(np.rint(images), 0, 255).astype(np.uint8)


def records(labels: np.ndarray, images: np.ndarray, label_bytes: int = 1) -> bytes:
    """The binary layout: label byte(s) then the image's 3,072 bytes, channel-major, for each image."""
    head = np.repeat(labels.astype(np.uint8)[:, None], label_bytes, axis=1)
    return np.concatenate([head, images.reshape(len(images), -1)], axis=1).tobytes()


def write_cifar10(root: Path, per_class: int = 1, seed: int = 0) -> Path:
    """The six batch files with `per_class` images of every class each; returns the cifar-10-batches-bin folder."""
    folder = root / FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for name in FILES:
        labels = rng.permutation(np.repeat(np.arange(10), per_class))
        (folder / name).write_bytes(records(labels, colour_images(labels, rng)))
    (folder / "batches.meta.txt").write_text("\n".join(NAMES) + "\n")
    return folder


def archive(folder: Path, path: Path) -> Path:
    """`folder` as cifar-10-binary.tar.gz holds it: every file under `cifar-10-batches-bin/`."""
    with tarfile.open(path, "w:gz") as tar:
        tar.add(folder, arcname=FOLDER)
    return path


def read_records(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Labels and flat pixel rows of one batch file, read independently of the code under test."""
    table = np.frombuffer(path.read_bytes(), dtype=np.uint8).reshape(-1, 3073)
    return table[:, 0], table[:, 1:]
