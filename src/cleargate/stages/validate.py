"""validate: the dataset's Great Expectations suites on the raw file; a blocking failure stops the run.

Writes the JSON result, GE data docs and a Markdown summary under reports/validation/<name>/, and the
quarantined rows (with reasons) to data/quarantine/<name>.parquet, before deciding. The raw file is only read.
"""

from __future__ import annotations

import shutil

from cleargate.cleaning import quarantine_frame
from cleargate.config import Params
from cleargate.errors import DataValidationError
from cleargate.io import read_table, write_json, write_table
from cleargate.stages.entry import stage_main, stage_paths
from cleargate.validation import ValidationReport, validate_records


def run(params: Params) -> ValidationReport:
    paths = stage_paths(params)
    frame = read_table(paths["raw"])
    docs = paths["validation_dir"]
    shutil.rmtree(docs, ignore_errors=True)  # a report of this run only
    report = validate_records(frame, params.dataset, params.validation, str(paths["raw"]), docs_dir=docs)
    write_json(report.to_dict(), paths["validation"])
    (docs / "summary.md").write_text(report.markdown())
    write_table(quarantine_frame(frame, report.quarantined), paths["quarantine"])
    if not report.success:
        raise DataValidationError(report.message())
    return report


def main(argv: list[str] | None = None) -> int:
    return stage_main(__doc__ or "", run, argv=argv)


if __name__ == "__main__":
    raise SystemExit(main())
