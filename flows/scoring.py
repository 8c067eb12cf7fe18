"""Batch scoring as a Prefect flow: validate, check drift, score with the champion, report.

`python flows/scoring.py INPUT [--model mnist-classifier@champion] [--retrain-on-drift]`
With --retrain-on-drift, a drifted batch triggers the training pipeline as a subflow (the hook a
schedule or an event can use); the batch itself is still refused or flagged per `drift.on_drift`.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from prefect import flow, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE

from cleargate.errors import REFUSED, CleargateError
from cleargate.params import DatasetParams, load_project
from cleargate.scoring import ScoreResult, log_scoring_run, progress_for, score_file
from cleargate.tracking import connect
from flows.pipeline import pipeline


@task(cache_policy=NO_CACHE)
def score_task(params: DatasetParams, input_path: str, model: str) -> ScoreResult:
    """A refused batch raises after logging its own run; a scored (or drift-refused) one is logged here."""
    result = score_file(params, Path(input_path), model, connect(params), progress=progress_for(sys.stderr))
    log_scoring_run(params, result)
    return result


@flow(name="cleargate-score")
def score(input_path: str, model: str | None = None, params_path: str = "params.yaml",
          retrain_on_drift: bool = False) -> tuple[ScoreResult, dict[str, str] | None]:
    """Returns the scoring result and, when drift triggered it, the retraining run's stage outcomes."""
    params = load_project(Path(params_path)).scope_registered(model)  # the model names the dataset
    result = score_task(params, input_path, model or f"{params.registry.model_name}@champion")
    create_markdown_artifact(key="scoring-report", markdown=f"**{result.summary()}**",
                             description="Batch scoring outcome")
    retrain = (pipeline(params_path, datasets=[params.dataset.name])
               if result.drift.is_drifted and retrain_on_drift else None)
    return result, retrain


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("input")
    parser.add_argument("--model", default=None, help="NAME@ALIAS or NAME/VERSION (default: the champion)")
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--retrain-on-drift", action="store_true")
    args = parser.parse_args(argv)
    try:
        result, _ = score(args.input, args.model, args.params, args.retrain_on_drift)
    except CleargateError as exc:
        print(f"cleargate: batch refused: {exc}", file=sys.stderr)
        return exc.exit_code
    print(result.summary())
    return REFUSED if result.refused else 0

