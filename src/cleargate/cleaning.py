"""Set aside the rows validation quarantined; count every one. Raw data is never modified."""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

QUARANTINE_COLUMNS = ["row", "reason"]


@dataclass(frozen=True)
class CleaningReport:
    rows_in: int
    quarantined: int
    rows_out: int
    by_reason: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, object]:
        return {"rows_in": self.rows_in, "quarantined": self.quarantined, "rows_out": self.rows_out,
                "by_reason": self.by_reason}


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
