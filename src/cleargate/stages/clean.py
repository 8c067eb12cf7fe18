"""clean: validated raw data minus the quarantined rows, made model-ready per kind -> data/interim/<name>.parquet."""

from __future__ import annotations

import pandas as pd

from cleargate.cleaning import CleaningReport, clean
from cleargate.config import Params
from cleargate.errors import DataValidationError
from cleargate.io import read_json, read_table, write_json, write_table
from cleargate.stages.entry import stage_main, stage_paths


def run(params: Params) -> CleaningReport:
    paths = stage_paths(params)
    if not read_json(paths["validation"]).get("success"):
        raise DataValidationError(f"{paths['validation']}: validation did not pass; run the validate stage")
    quarantine = pd.read_parquet(paths["quarantine"])  # written by validate; may hold no rows
    frame, report = clean(read_table(paths["raw"]), quarantine, params.dataset)
    write_table(frame, paths["interim"])
    write_json(report.to_dict(), paths["cleaning"])
    return report


def main(argv: list[str] | None = None) -> int:
    return stage_main(__doc__ or "", run, argv=argv)


if __name__ == "__main__":
    raise SystemExit(main())
