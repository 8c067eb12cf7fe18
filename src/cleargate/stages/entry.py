"""The command-line shell every stage shares: parse, load params, run the stage, say what happened in one line."""

from __future__ import annotations

import argparse
import importlib
import sys
from pathlib import Path
from typing import Any

from cleargate.errors import CleargateError
from cleargate.graph import STAGES, Stage, stage
from cleargate.params import ProjectParams, load_project
from cleargate.records import ReleaseDecision
from cleargate.runtime import start_process


def run_stage(s: Stage, project: ProjectParams, dataset: str | None = None, model: str | None = None,
              **extra: Any) -> Any:
    """Call the stage's `run` with its dataset's params (and its model, for per-model stages)."""
    function = importlib.import_module(s.module).run
    if s.per == "model":
        if model is None:
            raise CleargateError(f"stage '{s.name}' runs per model: pass --model NAME")
        return function(project.scope(project.dataset_of(model)), model, **extra)
    if dataset is None:
        if len(project.datasets) != 1:
            raise CleargateError(f"params.yaml declares datasets {', '.join(project.datasets)}; pass --dataset NAME")
        dataset = next(iter(project.datasets))
    return function(project.scope(dataset), **extra)


def main(argv: list[str] | None = None) -> int:
    """Exit 0 when the stage did its job, 2 with one line on a user error (never a traceback).

    A candidate blocked at its gates exits 0 with a `blocked:` line: the verdict is recorded (registry,
    promotion.json), and one blocked dataset must not stop `dvc repro` for the others."""
    parser = argparse.ArgumentParser(prog="python -m cleargate.stages", description=__doc__)
    parser.add_argument("stage", choices=[s.name for s in STAGES])
    parser.add_argument("--params", type=Path, default=Path("params.yaml"))
    target = parser.add_mutually_exclusive_group()
    target.add_argument("--dataset", help="a key of params.yaml `datasets` (per-dataset stages)")
    target.add_argument("--model", help="a key of params.yaml `train` (per-model stages)")
    args = parser.parse_args(argv)
    start_process(args.params.resolve().parent)  # cleargate's own lines (epochs, ranks); CLEARGATE_VERBOSE: all
    try:
        result = run_stage(stage(args.stage), load_project(args.params), args.dataset, args.model)
    except CleargateError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    if isinstance(result, ReleaseDecision) and result.blocked:
        print(f"blocked: {result.message()}", file=sys.stderr)
    return 0
