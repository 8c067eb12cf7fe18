"""The raw file of a dataset is immutable: read only after its content matches the hash ingest recorded."""

from __future__ import annotations

import pandas as pd

from cleargate.errors import DataError
from cleargate.io import read_table, sha256_file
from cleargate.layout import DatasetLayout
from cleargate.records import IngestRecord


def restore_hint(layout: DatasetLayout) -> str:
    return (f"restore it from the DVC cache with `dvc checkout --force {layout.raw}`, or delete {layout.raw} and "
            f"{layout.raw_meta} and re-ingest it from its source with `dvc repro ingest@{layout.name}`")


def verify_raw(layout: DatasetLayout) -> IngestRecord:
    """The ingest record, after checking the raw file is the one it describes (never re-hashing a damaged file
    into the record)."""
    record = IngestRecord.load(layout.raw_meta)
    if not layout.raw.is_file():
        raise DataError(f"{layout.raw}: file not found; {restore_hint(layout)}")
    actual = sha256_file(layout.raw)
    if actual != record.sha256:
        raise DataError(f"{layout.raw}: sha256 {actual[:12]} differs from {record.sha256[:12]} recorded in "
                        f"{layout.raw_meta}: the raw file is damaged or was replaced; {restore_hint(layout)}")
    return record


def read_raw(layout: DatasetLayout) -> pd.DataFrame:
    verify_raw(layout)
    return read_table(layout.raw)
