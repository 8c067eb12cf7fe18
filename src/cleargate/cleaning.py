"""Remove what validation allowed through but training must not see; count every removed row."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from cleargate.config import DatasetConfig
from cleargate.datasets.schema import LABEL, pixel_columns
from cleargate.errors import DataValidationError


@dataclass(frozen=True)
class CleaningReport:
    rows_in: int
    duplicates_dropped: int
    invalid_dropped: int
    rows_out: int

    def to_dict(self) -> dict[str, int]:
        return {"rows_in": self.rows_in, "duplicates_dropped": self.duplicates_dropped,
                "invalid_dropped": self.invalid_dropped, "rows_out": self.rows_out}


def invalid_mask(frame: pd.DataFrame, config: DatasetConfig) -> pd.Series:
    """Rows with a null/non-numeric/out-of-range pixel or an unknown label."""
    pixels = frame[pixel_columns(config.n_pixels)].apply(pd.to_numeric, errors="coerce")
    bad_pixel = pixels.isna().any(axis=1) | ~pixels.ge(config.pixel_min).all(axis=1) \
        | ~pixels.le(config.pixel_max).all(axis=1)
    return bad_pixel | ~frame[LABEL].isin(config.classes)


def clean_records(frame: pd.DataFrame, config: DatasetConfig, max_drop_fraction: float,
                  source: str = "records") -> tuple[pd.DataFrame, CleaningReport]:
    """Drop exact duplicates (first copy kept) and invalid rows; refuse if too much would go."""
    duplicated = frame.duplicated(keep="first")
    invalid = invalid_mask(frame, config) & ~duplicated
    dropped = int(duplicated.sum() + invalid.sum())
    if dropped > max_drop_fraction * len(frame):
        raise DataValidationError(
            f"{source}: cleaning would drop {dropped} of {len(frame)} rows ({int(duplicated.sum())} duplicates, "
            f"{int(invalid.sum())} invalid), over validation.max_drop_fraction={max_drop_fraction}; "
            "fix the source data or raise the limit in params.yaml")
    kept = frame.loc[~(duplicated | invalid)].reset_index(drop=True)
    kept = kept.astype({c: "float32" if kept[c].dtype.kind == "f" else "int64" for c in kept.columns})
    return kept, CleaningReport(len(frame), int(duplicated.sum()), int(invalid.sum()), len(kept))
