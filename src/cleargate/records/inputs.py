"""What the data stages write: where the raw file came from, what validation found, what cleaning did, the split."""

from __future__ import annotations

from typing import Any

from cleargate.records.record import Record


class IngestRecord(Record):
    """data/raw/<d>.json: where the raw file came from and its content hash (checked before every use)."""

    source: str
    source_path: str | None
    rows: int
    columns: int
    sha256: str


class ValidationRecord(Record):
    """reports/<d>/validation/result.json: every named check and what was quarantined."""

    source: str
    n_rows: int
    passed: bool
    data_docs: str | None
    quarantined: dict[str, Any]
    checks: list[dict[str, Any]]


class CleaningReport(Record):
    """reports/<d>/cleaning.json: every raw row is either cleaned or quarantined, counted by reason."""

    rows_in: int
    quarantined: int
    rows_out: int
    by_reason: dict[str, int] = {}
    details: dict[str, Any] = {}    # what the kind's cleaning did (windows, dropped columns, ...)


class SplitReport(Record):
    sizes: dict[str, int]
    class_counts: dict[str, dict[str, int]]
    groups: dict[str, int] | None
    digest: str                     # equal digests mean identical splits (lineage)
    leakage_check: dict[str, Any]
