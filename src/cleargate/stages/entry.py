"""Shared command-line shell of the stage modules: parse, load params, report errors in one line."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cleargate.config import Params, load_project
from cleargate.errors import CleargateError, GateError
from cleargate.runtime import apply_offline_env


def stage_main(description: str, run: Callable[..., Any], with_model: bool = False,
               argv: list[str] | None = None) -> int:
    """`python -m cleargate.stages.X --dataset NAME` or `... --model NAME`; exit 2 on a user error.

    A candidate blocked at its gates exits 0: the stage did its job (the verdict is in the registry and
    reports/<dataset>/promotion.json), and one blocked dataset must not stop `dvc repro` for the others."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--params", type=Path, default=Path("params.yaml"))
    if with_model:
        parser.add_argument("--model", required=True, help="a key of params.yaml `train`")
    else:
        parser.add_argument("--dataset", help="a key of params.yaml `datasets` (optional if there is one)")
    args = parser.parse_args(argv)
    apply_offline_env()
    try:
        project = load_project(args.params)
        if with_model:
            run(project.scope(project.dataset_of(args.model)), args.model)
        else:
            dataset = args.dataset or (next(iter(project.datasets)) if len(project.datasets) == 1 else None)
            if dataset is None:
                raise CleargateError(f"{args.params}: declares datasets {', '.join(project.datasets)}; "
                                     "pass --dataset NAME")
            run(project.scope(dataset))
    except GateError as exc:  # a verdict, not a failure: recorded in the registry and promotion.json
        print(f"blocked: {exc}", file=sys.stderr)
        return 0
    except CleargateError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


def stage_paths(params: Params) -> dict[str, Path]:
    """Every file the pipeline writes for one dataset, from params.paths; dvc.yaml names the same files."""
    p, name = params.paths, params.dataset.name
    reports = p.reports / name
    return {
        "raw": p.raw / f"{name}.parquet",
        "raw_meta": p.raw / f"{name}.json",
        "quarantine": p.quarantine / f"{name}.parquet",
        "validation_dir": reports / "validation",
        "validation": reports / "validation" / "result.json",
        "interim": p.interim / f"{name}.parquet",
        "cleaning": reports / "cleaning.json",
        "processed": p.processed / name,
        "models": p.models / name,
        "split_report": reports / "split.json",
        "metrics_dir": reports / "metrics",
        "plots_dir": reports / "plots",
        "predictions_dir": reports / "predictions",
        "gate": reports / "gate.json",
        "leaderboard": reports / "leaderboard.md",
        "leaderboard_csv": reports / "leaderboard.csv",
        "leaderboard_json": reports / "leaderboard.json",
        "promotion": reports / "promotion.json",
        "release_gate": reports / "release_gate.md",
    }


def model_paths(params: Params, model: str) -> dict[str, Path]:
    paths = stage_paths(params)
    return {
        "dir": params.paths.models / params.dataset.name / model,
        "metrics": paths["metrics_dir"] / f"{model}.json",
        "plots": paths["plots_dir"] / model,
        "predictions": paths["predictions_dir"] / f"{model}.parquet",
    }
