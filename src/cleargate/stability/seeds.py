"""Seed stability: fit one model with N seeds, evaluate each fit on the test split, summarise the spread.

`measure_seed` is one seed's work (fit in memory, score the test split as the evaluate stage does, log a child
run): the model's registered outputs (its bundle, metrics, plots) are never touched. `summarise_seeds` writes
reports/<d>/stability/<m>.json, which the gates (`max_seed_std`), the leaderboard and the model card read.
The flow `flows/stability.py` (`cleargate stability MODEL --seeds N`) runs the seeds in parallel through the
pipeline's task runner; this module knows nothing of the orchestration.
"""

from __future__ import annotations

import time

from pydantic import BaseModel, ConfigDict

from cleargate.errors import CleargateError, DataError
from cleargate.evaluation.gates import seed_std
from cleargate.evaluation.seed_spread import SeedEvidence, fingerprint, summarise
from cleargate.evaluation.test_set import score_test_set
from cleargate.io import read_table
from cleargate.params import DatasetParams
from cleargate.records import Check, Evaluation, StabilitySummary
from cleargate.stability.seed_runs import close_stability_run, log_seed_run, open_stability_run
from cleargate.training.fit import fit_model

NOT_METRICS = ("fit_seconds", "size_bytes", "n_test", "explain_seconds")   # scalars of cost or size, not quality

__all__ = ["SeedResult", "check_ready", "close_stability_run", "measure_seed", "open_stability_run", "seed_checks",
           "summarise_seeds", "summary_text"]
SHOWN = ("accuracy", "balanced_accuracy", "macro_f1", "roc_auc", "pr_auc", "positive_recall", "ece")


class SeedResult(BaseModel):
    """One seed's scalar test metrics (the evaluation's names, robustness as `robust_<perturbation>`)."""

    model_config = ConfigDict(frozen=True)
    seed: int
    metrics: dict[str, float]
    fit_seconds: float
    run_id: str


def check_ready(params: DatasetParams, model: str, seeds: int) -> None:
    """The model is known, the seeds are at least 2, and its dataset is split (the pipeline ran that far)."""
    params.model(model)  # unknown model: the error lists the known ones
    if seeds < 2:
        raise CleargateError(f"--seeds {seeds}: a spread needs at least 2 seeds (5 is a good start)")
    missing = [p for p in (params.layout.split(part) for part in ("train", "val", "test")) if not p.is_file()]
    if missing:
        raise DataError(f"{missing[0]}: not found; split dataset '{params.dataset.name}' first (`make run`, or "
                        f"`dvc repro split@{params.dataset.name}`), then run `cleargate stability {model}` again")


def measure_seed(params: DatasetParams, model: str, seed: int, parent_id: str) -> SeedResult:
    """Fit `model` with `seed` on the train split (in memory), score the test split, log a child run."""
    layout = params.layout
    train, val, test = (read_table(layout.split(part)) for part in ("train", "val", "test"))
    bundle = fit_model(model, params.model(model), params.trainer, params.dataset, train, val, seed)
    _, metrics, robustness = score_test_set(params, bundle.predictor(), test)
    evaluation = Evaluation(model=model, dataset=params.dataset.name, role=params.model(model).role,
                            family=bundle.record.family, fit_seconds=bundle.record.fit_seconds, size_bytes=0,
                            robustness=robustness, **metrics)
    scalars = {k: v for k, v in evaluation.scalars().items() if k not in NOT_METRICS}
    run_id = log_seed_run(params, model, parent_id, seed, scalars, bundle.record.fit_seconds)
    return SeedResult(seed=seed, metrics=scalars, fit_seconds=bundle.record.fit_seconds, run_id=run_id)


def summarise_seeds(params: DatasetParams, model: str, results: list[SeedResult], parent_id: str,
                    started: float) -> StabilitySummary:
    """Every metric's spread over the seeds, written where the gates look, and logged on the parent run."""
    summary = StabilitySummary(model=model, dataset=params.dataset.name, seeds=sorted(r.seed for r in results),
                               fingerprint=fingerprint(params, model),
                               metrics=summarise({r.seed: r.metrics for r in results}),
                               seconds=time.time() - started, run_id=parent_id)
    summary.save(params.layout.model(model).stability)
    close_stability_run(params, parent_id, summary)
    return summary


def seed_checks(params: DatasetParams, model: str, summary: StabilitySummary) -> list[Check]:
    """The dataset's `max_seed_std` gates on this summary (none when params.yaml sets none)."""
    return seed_std(SeedEvidence(model, summary), params.gates.max_seed_std)


def summary_text(params: DatasetParams, summary: StabilitySummary) -> str:
    """What a person reads: each shown metric's mean +- std and range over the seeds, then the seed-std gates."""
    primary = params.evaluate.primary_metric
    names = [primary, *(m for m in SHOWN if m != primary)]
    names += sorted(m for m in summary.metrics if m.startswith("robust_"))
    lines = [f"{summary.model} ({params.dataset.name}): {len(summary.seeds)} seeds {summary.seeds}, "
             f"{summary.seconds:.0f} s", f"  {'metric':<22} {'mean':>8} {'std':>8} {'min':>8} {'max':>8}"]
    for name in (n for n in names if n in summary.metrics):
        f = summary.metrics[name]
        lines.append(f"  {name:<22} {f.mean:8.4f} {f.std:8.4f} {f.min:8.4f} {f.max:8.4f}")
    checks = seed_checks(params, summary.model, summary)
    lines += [f"  gate {c.name} <= {c.threshold:g}: {'PASS' if c.passed else 'FAIL'} ({c.detail})" for c in checks]
    if not checks:
        lines.append("  no max_seed_std gate in params.yaml (datasets.<d>.gates.max_seed_std)")
    return "\n".join(lines)
