"""The batch to score, streamed in chunks of rows with pyarrow: never held whole, so memory follows
`scoring.chunk_rows`, not the file. Errors name the file and the fix, like `cleargate.io.read_table`."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from cleargate.errors import DataError

READ_ROWS = 2048               # rows per parquet read (fewer cost more per row), assembled into chunks
CSV_BLOCK_BYTES = 2 << 20


class BatchSource:
    """A .parquet (or .csv / .csv.gz) file of records: its schema now, its rows chunk by chunk."""

    def __init__(self, path: Path, chunk_rows: int) -> None:
        self.path, self.chunk_rows = Path(path), chunk_rows
        if not self.path.exists():
            raise DataError(f"{self.path}: file not found; check the path")
        if self.path.is_dir():
            raise DataError(f"{self.path}: is a folder, expected a .parquet or .csv file")
        if self.path.stat().st_size == 0:
            raise DataError(f"{self.path}: file is empty; re-create it from its source")
        self.suffix = self.path.suffix.lower()
        if self.suffix not in (".parquet", ".csv", ".gz"):
            raise DataError(f"{self.path}: unsupported file type '{self.suffix}'; use .parquet or .csv")
        with self._reading():
            if self.suffix == ".parquet":
                import pyarrow.parquet as pq

                meta = pq.ParquetFile(self.path)
                self.schema: pa.Schema = meta.schema_arrow
                self.n_rows: int | None = meta.metadata.num_rows
            else:
                reader = self._csv()
                self.schema, self.n_rows = reader.schema, None  # a CSV's length is known once it is read
                reader.close()
        if self.n_rows == 0:
            raise DataError(f"{self.path}: holds no rows; re-create it from its source")

    def empty(self) -> pd.DataFrame:
        """No rows, every column with the type pandas gives it when the file is read."""
        return self.schema.empty_table().to_pandas().reset_index(drop=True)

    def chunks(self, columns: list[str] | None = None) -> Iterator[pd.DataFrame]:
        """Frames of up to `chunk_rows` rows, indexed by their rows' positions in the file; with `columns`, only
        those, in that order."""
        offset = 0
        with self._reading():
            for frame in _frames(self._batches(columns), self.chunk_rows):
                frame.index = pd.RangeIndex(offset, offset + len(frame))
                offset += len(frame)
                yield frame
        if offset == 0:
            raise DataError(f"{self.path}: holds no rows; re-create it from its source")
        self.n_rows = offset

    def _batches(self, columns: list[str] | None) -> Iterator[pa.Table]:
        if self.suffix == ".parquet":
            import pyarrow.parquet as pq

            # pre_buffer=False: pyarrow's pre-buffering keeps what it read for the whole file, so memory grew
            # with the file (iterating 100k / 400k MNIST rows: 169 / 257 MB with it, 165 / 169 MB without)
            parquet = pq.ParquetFile(self.path, pre_buffer=False)
            names = None if columns is None else [*columns, *_index_columns(self.schema)]
            batches = parquet.iter_batches(batch_size=min(READ_ROWS, self.chunk_rows), columns=names)
            yield from (_table(b, columns) for b in batches)
            return
        reader = self._csv(columns)
        try:
            yield from (_table(b, columns) for b in reader)
        finally:
            reader.close()

    def _csv(self, columns: list[str] | None = None):
        from pyarrow import csv

        convert = csv.ConvertOptions(include_columns=columns) if columns is not None else None
        return csv.open_csv(self.path, read_options=csv.ReadOptions(block_size=CSV_BLOCK_BYTES),
                            convert_options=convert)

    def _reading(self) -> _Reading:
        return _Reading(self.path, "parquet" if self.suffix == ".parquet" else "CSV")


class _Reading:
    """Any read failure, at open or in the middle of the file, becomes one DataError naming the file."""

    def __init__(self, path: Path, kind: str) -> None:
        self.path, self.kind = path, kind

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: object) -> bool:
        if isinstance(exc, (pa.ArrowException, OSError, ValueError, UnicodeDecodeError)):
            raise DataError(f"{self.path}: not a readable {self.kind} file ({type(exc).__name__}: "
                            f"{str(exc).splitlines()[0][:300]}); the file is truncated or corrupt, or its "
                            "column types change part-way; re-create it from its source") from None
        return False


def _to_frame(table: pa.Table) -> pd.DataFrame:
    """The frame `table.to_pandas()` gives; a table of one numeric type without nulls (pixels, sensor
    windows) goes straight into one 2-D array, a column at a time, skipping pandas' consolidation."""
    types = set(table.schema.types)
    kind = next(iter(types)) if len(types) == 1 else None
    numeric = kind is not None and (pa.types.is_integer(kind) or pa.types.is_floating(kind))
    if not numeric or _index_columns(table.schema) or any(c.null_count for c in table.columns):
        return table.to_pandas()
    out = np.empty((table.num_rows, table.num_columns), dtype=kind.to_pandas_dtype(), order="F")
    for j, column in enumerate(table.columns):
        start = 0
        for piece in column.chunks:  # each piece is a view of arrow's buffer: one copy, into `out`
            out[start:start + len(piece), j] = piece.to_numpy()
            start += len(piece)
    return pd.DataFrame(out, columns=table.column_names, copy=False)  # one block, a view of `out`


def _index_columns(schema: pa.Schema) -> list[str]:
    """Columns pandas stored as the index (read with the features so the frame is the one pandas gives)."""
    meta = schema.pandas_metadata or {}
    return [c for c in meta.get("index_columns", []) if isinstance(c, str)]


def _table(batch: pa.RecordBatch, columns: list[str] | None) -> pa.Table:
    table = pa.Table.from_batches([batch])
    return table if columns is None else table.select(columns)


def _frames(tables: Iterator[pa.Table], rows: int) -> Iterator[pd.DataFrame]:
    """Frames of exactly `rows` rows (the last one shorter) from the reader's small tables. Each frame is
    built before it is yielded and the arrow data it came from is dropped: only the frame stays in memory
    while the caller works on it (and at most one small reader batch)."""
    pending: list[pa.Table] = []
    held = 0
    for table in tables:
        pending.append(table)
        held += table.num_rows
        del table
        while held >= rows:
            whole = pa.concat_tables(pending)  # no copy; a slice keeps only the batches it spans
            chunk, rest = whole.slice(0, rows), whole.slice(rows)
            del whole
            pending, held = ([rest] if rest.num_rows else []), rest.num_rows
            del rest
            frame = _to_frame(chunk)
            del chunk
            yield frame
    if held:
        frame = _to_frame(pa.concat_tables(pending))
        pending.clear()
        yield frame
