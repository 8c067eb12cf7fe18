"""split: cleaned records -> data/processed/<d>/{train,val,test}.parquet, seeded; by subject if grouped.

The kind's leakage checks run before anything is written: no leaked split ever reaches training.
"""

from __future__ import annotations

from cleargate.errors import DataValidationError
from cleargate.io import read_table, write_table
from cleargate.params import DatasetParams
from cleargate.preparation.splitting import split_digest, split_records
from cleargate.records import SplitReport
from cleargate.schema import GROUP, LABEL
from cleargate.validation import validate_splits


def run(params: DatasetParams) -> SplitReport:
    layout = params.layout
    splits = split_records(read_table(layout.interim), params.split.test_size, params.split.val_size, params.seed)
    leakage = validate_splits(splits, params.dataset, str(layout.interim))
    if not leakage.passed:
        raise DataValidationError(leakage.message())
    for part, frame in splits.items():
        write_table(frame, layout.split(part))  # type: ignore[arg-type]
    grouped = GROUP in splits["train"]
    report = SplitReport(
        sizes={n: len(p) for n, p in splits.items()},
        class_counts={n: {str(k): int(v) for k, v in p[LABEL].value_counts().sort_index().items()}
                      for n, p in splits.items()},
        groups={n: int(p[GROUP].nunique()) for n, p in splits.items()} if grouped else None,
        digest=split_digest(splits), leakage_check=leakage.to_record().model_dump(mode="json"))
    report.save(layout.split_report)
    return report
