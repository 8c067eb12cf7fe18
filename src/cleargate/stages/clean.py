"""clean: validated raw rows minus the quarantined ones, made model-ready by the kind -> data/interim/<d>.parquet."""

from __future__ import annotations

import pandas as pd

from cleargate.errors import DataValidationError
from cleargate.io import write_table
from cleargate.params import DatasetParams
from cleargate.preparation.cleaning import clean
from cleargate.preparation.immutable_raw import read_raw
from cleargate.records import CleaningReport, ValidationRecord


def run(params: DatasetParams) -> CleaningReport:
    layout = params.layout
    if not ValidationRecord.load(layout.validation_result).passed:
        raise DataValidationError(f"{layout.validation_result}: validation did not pass; run the validate stage")
    quarantine = pd.read_parquet(layout.quarantine)  # written by validate; may hold no rows
    frame, report = clean(read_raw(layout), quarantine, params.dataset)
    write_table(frame, layout.interim)
    report.save(layout.cleaning)
    return report
