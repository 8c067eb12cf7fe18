"""ingest: bundled dataset -> data/raw/<name>.parquet, written once and never overwritten."""

from __future__ import annotations

from typing import Any

from cleargate import datasets
from cleargate.config import Params
from cleargate.errors import DataError
from cleargate.io import read_json, sha256_file, write_json, write_table
from cleargate.stages.entry import stage_main, stage_paths


def _source_id(params: Params) -> dict[str, Any]:
    return {"source": params.dataset.source,
            "source_path": str(params.dataset.source_path) if params.dataset.source_path else None}


def run(params: Params) -> dict[str, Any]:
    """Raw data is immutable: an existing raw file is kept as is (validation then judges it)."""
    paths = stage_paths(params)
    raw, meta_path = paths["raw"], paths["raw_meta"]
    if raw.exists() and meta_path.exists():
        previous = read_json(meta_path)
        if {k: previous.get(k) for k in ("source", "source_path")} != _source_id(params):
            raise DataError(f"{raw}: raw data is immutable and was ingested from {previous.get('source')}; "
                            f"to ingest {params.dataset.source}, add it under a new key of `datasets:` in params.yaml")
        meta = {**previous, "sha256": sha256_file(raw)}
    else:
        frame = datasets.load(params.dataset)
        write_table(frame, raw)
        meta = {**_source_id(params), "rows": len(frame), "columns": frame.shape[1], "sha256": sha256_file(raw)}
    write_json(meta, meta_path)
    return meta


def main(argv: list[str] | None = None) -> int:
    return stage_main(__doc__ or "", run, argv=argv)


if __name__ == "__main__":
    raise SystemExit(main())
