"""validate: the kind's Great Expectations suite on the raw file; a blocking failure stops the dataset.

Writes reports/<d>/validation/ (result.json, GE data docs index.html, summary.md) and the quarantined rows,
with their reasons, to data/quarantine/<d>.parquet, before deciding. The raw file is only read.
"""

from __future__ import annotations

import shutil

from cleargate.errors import DataValidationError
from cleargate.io import write_table, write_text
from cleargate.params import DatasetParams
from cleargate.preparation.cleaning import quarantine_frame
from cleargate.preparation.immutable_raw import read_raw
from cleargate.validation import ValidationReport, validate_records


def run(params: DatasetParams) -> ValidationReport:
    layout = params.layout
    frame = read_raw(layout)
    shutil.rmtree(layout.validation_dir, ignore_errors=True)  # a report of this run only
    report = validate_records(frame, params.dataset, params.validation, str(layout.raw),
                              docs_dir=layout.validation_dir)
    report.to_record().save(layout.validation_result)
    write_text(report.markdown(), layout.validation_summary)
    write_table(quarantine_frame(frame, report.quarantined), layout.quarantine)
    if not report.passed:
        raise DataValidationError(report.message())
    return report
