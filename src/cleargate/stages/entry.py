"""Shared command-line shell of the stage modules: parse, load params, report errors in one line."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cleargate.config import Params, load_params
from cleargate.errors import CleargateError
from cleargate.runtime import apply_offline_env


def stage_main(description: str, run: Callable[..., Any], with_model: bool = False,
               argv: list[str] | None = None) -> int:
    """`python -m cleargate.stages.X [--params params.yaml] [--model NAME]`; exit 2 on a user error."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--params", type=Path, default=Path("params.yaml"))
    if with_model:
        parser.add_argument("--model", required=True)
    args = parser.parse_args(argv)
    apply_offline_env()
    try:
        params = load_params(args.params)
        if with_model:
            params.model(args.model)
            run(params, args.model)
        else:
            run(params)
    except CleargateError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


def stage_paths(params: Params) -> dict[str, Path]:
    """Every file the pipeline writes, derived from params.paths; dvc.yaml names the same files."""
    p, name = params.paths, params.dataset.name
    return {
        "raw": p.raw / f"{name}.parquet",
        "raw_meta": p.raw / f"{name}.json",
        "quarantine": p.quarantine / f"{name}.parquet",
        "validation_dir": p.reports / "validation" / name,
        "validation": p.reports / "validation" / name / "result.json",
        "interim": p.interim / f"{name}.parquet",
        "cleaning": p.reports / "cleaning.json",
        "processed": p.processed,
        "split_report": p.reports / "split.json",
        "gate": p.reports / "gate.json",
        "promotion": p.reports / "promotion.json",
    }


def model_paths(params: Params, model: str) -> dict[str, Path]:
    p = params.paths
    return {
        "dir": p.models / model,
        "metrics": p.reports / "metrics" / f"{model}.json",
        "plots": p.reports / "plots" / model,
        "predictions": p.reports / "predictions" / f"{model}.parquet",
    }
