"""Reading and writing stage files, with errors that name the file and the fix."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa

from cleargate.errors import DataError


def sha256_file(path: Path) -> str:
    """Content hash of a file, recorded as lineage (what DVC's md5 is to DVC)."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def row_hashes(frame: pd.DataFrame) -> pd.Series:
    """A content hash per row (label excluded), so leakage means 'same sample', whatever its label."""
    from cleargate.schema import LABEL

    return pd.util.hash_pandas_object(frame.drop(columns=[LABEL], errors="ignore"), index=False)


def read_table(path: Path) -> pd.DataFrame:
    """Read a parquet or CSV table; any failure becomes a DataError naming the file."""
    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: file not found; run the stage that writes it (see dvc.yaml) or fix the path")
    if path.is_dir():
        raise DataError(f"{path}: is a folder, expected a .parquet or .csv file")
    if path.stat().st_size == 0:
        raise DataError(f"{path}: file is empty; re-create it from its source")
    suffix = path.suffix.lower()
    try:
        if suffix == ".parquet":
            frame = pd.read_parquet(path)
        elif suffix in (".csv", ".gz"):
            frame = pd.read_csv(path)
        else:
            raise DataError(f"{path}: unsupported file type '{suffix}'; use .parquet or .csv")
    except DataError:
        raise
    except (pa.ArrowException, OSError, ValueError, pd.errors.ParserError, UnicodeDecodeError) as exc:
        kind = "parquet" if suffix == ".parquet" else "CSV"
        raise DataError(f"{path}: not a readable {kind} file ({type(exc).__name__}: {exc}); "
                        "the file is truncated or corrupt, re-create it from its source") from None
    if frame.empty:
        raise DataError(f"{path}: holds no rows; re-create it from its source")
    return frame


@contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """A temporary name beside `path`, renamed over it only when the block completes: a reader (or a later
    run after a crash) sees the old file or the new one, never half of one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_table(frame: pd.DataFrame, path: Path) -> Path:
    with atomic_path(path) as tmp:
        frame.to_parquet(tmp, index=False)
    return path


def write_text(text: str, path: Path) -> Path:
    with atomic_path(path) as tmp:
        tmp.write_text(text)
    return path


def write_json(payload: Any, path: Path) -> Path:
    return write_text(json.dumps(payload, indent=2, sort_keys=True, default=str) + "\n", path)


def read_json(path: Path) -> Any:
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: file not found; run the stage that writes it (see dvc.yaml)")
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise DataError(f"{path}: not valid JSON ({exc}); re-run the stage that writes it") from None
