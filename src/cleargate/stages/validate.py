"""validate: the dataset's Great Expectations suites on the raw file; a blocking failure stops the run."""

from __future__ import annotations

import shutil

from cleargate.config import Params
from cleargate.errors import DataValidationError
from cleargate.io import read_table, write_json
from cleargate.stages.entry import stage_main, stage_paths
from cleargate.validation import ValidationReport, validate_records


def run(params: Params) -> ValidationReport:
    """Write the JSON result and data docs first, then raise if any blocking expectation failed."""
    paths = stage_paths(params)
    frame = read_table(paths["raw"])
    docs = paths["validation_dir"]
    shutil.rmtree(docs, ignore_errors=True)  # a report of this run only; the raw data is untouched
    report = validate_records(frame, params.dataset, params.validation, str(paths["raw"]), docs_dir=docs)
    write_json(report.to_dict(), paths["validation"])
    if not report.success:
        raise DataValidationError(report.message())
    return report


def main(argv: list[str] | None = None) -> int:
    return stage_main(__doc__ or "", run, argv=argv)


if __name__ == "__main__":
    raise SystemExit(main())
