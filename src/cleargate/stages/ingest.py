"""ingest: the dataset's source -> data/raw/<d>.parquet and its record (source, rows, sha256), written once.

Raw data is immutable: when the raw file exists it is kept as it is, after checking it is still the file
the record describes (a damaged file is never re-hashed into the record).
"""

from __future__ import annotations

from cleargate import datasets
from cleargate.errors import DataError
from cleargate.io import sha256_file, write_table
from cleargate.params import DatasetParams
from cleargate.preparation.immutable_raw import verify_raw
from cleargate.records import IngestRecord


def run(params: DatasetParams) -> IngestRecord:
    layout, data = params.layout, params.dataset
    source_path = str(data.source_path) if data.source_path else None
    if layout.raw.exists() and layout.raw_meta.exists():
        record = verify_raw(layout)
        if (record.source, record.source_path) != (data.source, source_path):
            raise DataError(f"{layout.raw}: raw data is immutable and was ingested from {record.source}; "
                            f"to ingest {data.source}, add it under a new key of `datasets:` in params.yaml")
        return record
    if layout.raw.exists():
        raise DataError(f"{layout.raw}: exists without its record {layout.raw_meta}; restore both with "
                        f"`dvc checkout {layout.raw} {layout.raw_meta}`, or delete {layout.raw} to ingest again")
    frame = datasets.load(data)
    write_table(frame, layout.raw)
    record = IngestRecord(source=data.source, source_path=source_path, rows=len(frame), columns=frame.shape[1],
                          sha256=sha256_file(layout.raw))
    record.save(layout.raw_meta)
    return record
