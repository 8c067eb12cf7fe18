import numpy as np
import pandas as pd

from cleargate.io import row_hashes
from cleargate.kinds.image import records_from_arrays
from cleargate.preparation.cleaning import drop_quarantined, quarantine_frame
from cleargate.preparation.splitting import group_split, split_digest, stratified_split


def frame(n: int = 40, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return records_from_arrays(rng.integers(0, 256, size=(n, 2, 2)), np.arange(n) % 2)


def test_every_raw_row_lands_in_exactly_one_place():
    data = frame()
    quarantine = quarantine_frame(data, {3: "values: ...", 7: "duplicates: ..."})
    assert list(quarantine["row"]) == [3, 7] and list(quarantine["reason"]) == ["values: ...", "duplicates: ..."]
    kept, report = drop_quarantined(data, quarantine)
    assert (report.rows_in, report.quarantined, report.rows_out) == (40, 2, 38)
    assert report.by_reason == {"values: ...": 1, "duplicates: ...": 1}
    restored = pd.concat([kept, data.loc[[3, 7]]]).sort_values(list(data.columns)).reset_index(drop=True)
    assert restored.equals(data.sort_values(list(data.columns)).reset_index(drop=True))


def test_nothing_quarantined_keeps_everything():
    data = frame()
    kept, report = drop_quarantined(data, quarantine_frame(data, {}))
    assert kept.equals(data) and report.quarantined == 0


def test_split_is_disjoint_stratified_and_seeded():
    data = frame(200)
    a = stratified_split(data, test_size=0.2, val_size=0.2, seed=1)
    assert {k: len(v) for k, v in a.items()} == {"train": 120, "val": 40, "test": 40}
    hashes = [set(row_hashes(part)) for part in a.values()]
    assert not (hashes[0] & hashes[1] or hashes[0] & hashes[2] or hashes[1] & hashes[2])
    assert all(part["label"].mean() == 0.5 for part in a.values())
    assert split_digest(a) == split_digest(stratified_split(data, 0.2, 0.2, seed=1))
    assert split_digest(a) != split_digest(stratified_split(data, 0.2, 0.2, seed=2))


def test_group_split_keeps_each_subject_in_one_split_and_is_seeded():
    data = frame(300).assign(group=np.arange(300) % 10)
    parts = group_split(data, test_size=0.2, val_size=0.2, seed=3)
    groups = {name: set(part["group"]) for name, part in parts.items()}
    assert {k: len(v) for k, v in groups.items()} == {"train": 6, "val": 2, "test": 2}
    assert not (groups["train"] & groups["val"] or groups["train"] & groups["test"] or groups["val"] & groups["test"])
    assert sum(len(p) for p in parts.values()) == 300
    assert split_digest(parts) == split_digest(group_split(data, 0.2, 0.2, seed=3))
    assert split_digest(parts) != split_digest(group_split(data, 0.2, 0.2, seed=4))


def test_idx_files_as_debian_installs_fashion_mnist(tmp_path):
    """The optional Fashion-MNIST loader reads gzip IDX files (Debian's dataset-fashion-mnist layout)."""
    import gzip

    import pytest

    from cleargate.datasets import load
    from cleargate.errors import DataError
    from cleargate.kinds.image import ImageData

    def write(path, array):
        header = bytes([0, 0, 8, array.ndim]) + np.asarray(array.shape, dtype=">i4").tobytes()
        with gzip.open(path, "wb") as handle:
            handle.write(header + array.astype(np.uint8).tobytes())

    rng = np.random.default_rng(0)
    for part, n in (("train", 6), ("t10k", 4)):
        write(tmp_path / f"{part}-images-idx3-ubyte.gz", rng.integers(0, 256, (n, 28, 28)))
        write(tmp_path / f"{part}-labels-idx1-ubyte.gz", np.arange(n) % 10)
    config = ImageData(name="fashion", kind="image", source="debian_fashion_mnist", source_path=tmp_path,
                       image_shape=(28, 28), classes=list(range(10)), min_class_count=1)
    frame = load(config)
    assert frame.shape == (10, 785) and list(frame["label"]) == [0, 1, 2, 3, 4, 5, 0, 1, 2, 3]
    (tmp_path / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(DataError, match="t10k-labels-idx1-ubyte.gz: not found; install Debian's"):
        load(config)
