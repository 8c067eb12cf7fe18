"""split: cleaned records -> data/processed/<name>/{train,val,test}.parquet, seeded; by subject if grouped."""

from __future__ import annotations

from typing import Any

from cleargate.config import Params
from cleargate.datasets.layout import feature_columns
from cleargate.datasets.schema import GROUP, LABEL
from cleargate.errors import DataValidationError
from cleargate.io import read_table, write_json, write_table
from cleargate.split import split_digest, split_records
from cleargate.stages.entry import stage_main, stage_paths
from cleargate.validation import validate_splits


def run(params: Params) -> dict[str, Any]:
    paths = stage_paths(params)
    splits = split_records(read_table(paths["interim"]), params.split.test_size, params.split.val_size,
                           params.seed)
    leakage = validate_splits(splits, params.dataset, feature_columns(params.dataset), str(paths["interim"]))
    if not leakage.success:  # checked before anything is written: no leaked split ever reaches training
        raise DataValidationError(leakage.message())
    for name, part in splits.items():
        write_table(part, paths["processed"] / f"{name}.parquet")
    report = {"sizes": {n: len(p) for n, p in splits.items()},
              "class_counts": {n: {str(k): int(v) for k, v in p[LABEL].value_counts().sort_index().items()}
                               for n, p in splits.items()},
              "groups": {n: int(p[GROUP].nunique()) for n, p in splits.items()} if GROUP in splits["train"] else None,
              "digest": split_digest(splits), "leakage_check": leakage.to_dict()}
    write_json(report, paths["split_report"])
    return report


def main(argv: list[str] | None = None) -> int:
    return stage_main(__doc__ or "", run, argv=argv)


if __name__ == "__main__":
    raise SystemExit(main())
