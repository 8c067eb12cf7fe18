"""From validated raw data to model-ready records, per kind; every raw row is accounted for.

Images: the raw rows minus the quarantined ones. Sequences: recordings resampled and cut into fixed
windows (`cleargate.sequences`). Tabular: identifiers and non-features dropped, excluded outcomes
removed, labels encoded (`cleargate.tabular`). Raw data is never modified.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from cleargate.config import DatasetConfig, ImageData, SequenceData
from cleargate.datasets.schema import LABEL

QUARANTINE_COLUMNS = ["row", "reason"]


@dataclass(frozen=True)
class CleaningReport:
    rows_in: int
    quarantined: int
    rows_out: int
    by_reason: dict[str, int] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, object]:
        return {**self.details, "rows_in": self.rows_in, "quarantined": self.quarantined,
                "rows_out": self.rows_out, "by_reason": self.by_reason}


def quarantine_frame(frame: pd.DataFrame, reasons: dict[int, str]) -> pd.DataFrame:
    """The offending rows as they were, with their row number in the raw file and why they were set aside."""
    rows = sorted(reasons)
    out = frame.reset_index(drop=True).loc[rows].astype(str)
    out.insert(0, "reason", [reasons[r] for r in rows])
    out.insert(0, "row", rows)
    return out.reset_index(drop=True)


def drop_quarantined(frame: pd.DataFrame, quarantine: pd.DataFrame) -> tuple[pd.DataFrame, CleaningReport]:
    """Every raw row ends up in exactly one place: the cleaned frame or the quarantine file."""
    frame = frame.reset_index(drop=True)
    rows = set(quarantine["row"].astype(int)) if len(quarantine) else set()
    kept = frame.loc[~frame.index.isin(rows)].reset_index(drop=True)
    by_reason = quarantine["reason"].value_counts().to_dict() if len(quarantine) else {}
    return kept, CleaningReport(len(frame), len(rows), len(kept), {str(k): int(v) for k, v in by_reason.items()})


def clean(raw: pd.DataFrame, quarantine: pd.DataFrame, config: DatasetConfig) -> tuple[pd.DataFrame, CleaningReport]:
    """Quarantined rows out, then the kind's own cleaning; the report counts both."""
    kept, report = drop_quarantined(raw, quarantine)
    if isinstance(config, ImageData):
        kept[LABEL] = kept[LABEL].map({c: i for i, c in enumerate(config.classes)}).astype("int64")
        return kept, report
    if isinstance(config, SequenceData):
        from cleargate.sequences import windows_from_recordings

        windows = windows_from_recordings(kept, config)
        details = {"recordings": int(kept["recording"].nunique()), "windows": len(windows),
                   "window_seconds": config.window / config.resample_hz, "resample_hz": config.resample_hz}
        return windows, CleaningReport(report.rows_in, report.quarantined, len(windows), report.by_reason, details)
    from cleargate.tabular import clean_records

    records, details = clean_records(kept, config)
    details = {k: v for k, v in details.items() if k not in ("rows_in", "rows_out")}
    return records, CleaningReport(report.rows_in, report.quarantined, len(records), report.by_reason, details)
