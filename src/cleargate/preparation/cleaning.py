"""From validated raw data to model-ready records: quarantined rows out, then the kind's own cleaning.

Every raw row ends up in exactly one place, the cleaned records or the quarantine file; the report counts
both. Raw data is never modified.
"""

from __future__ import annotations

import pandas as pd

from cleargate.kinds import DataContract, kind_of
from cleargate.records import CleaningReport
from cleargate.schema import ROW


def quarantine_frame(frame: pd.DataFrame, reasons: dict[int, str]) -> pd.DataFrame:
    """The offending rows as they were, with their row number in the raw file and why they were set aside."""
    rows = sorted(reasons)
    out = frame.reset_index(drop=True).loc[rows].astype(str)
    out.insert(0, "reason", [reasons[r] for r in rows])
    out.insert(0, ROW, rows)
    return out.reset_index(drop=True)


def drop_quarantined(frame: pd.DataFrame, quarantine: pd.DataFrame) -> tuple[pd.DataFrame, CleaningReport]:
    frame = frame.reset_index(drop=True)
    rows = set(quarantine[ROW].astype(int)) if len(quarantine) else set()
    kept = frame.loc[~frame.index.isin(rows)].reset_index(drop=True)
    by_reason = quarantine["reason"].value_counts().to_dict() if len(quarantine) else {}
    return kept, CleaningReport(rows_in=len(frame), quarantined=len(rows), rows_out=len(kept),
                                by_reason={str(k): int(v) for k, v in by_reason.items()})


def clean(raw: pd.DataFrame, quarantine: pd.DataFrame, data: DataContract) -> tuple[pd.DataFrame, CleaningReport]:
    """Quarantined rows out, then the kind's cleaning (labels encoded, windows cut, identifiers dropped, ...)."""
    kept, report = drop_quarantined(raw, quarantine)
    records, details = kind_of(data).clean(kept, data)
    return records, report.model_copy(update={"rows_out": len(records), "details": details})
