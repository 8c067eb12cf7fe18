"""Seed stability as a Prefect flow: one model fitted with N seeds, side by side, through the pipeline's task
runner (flows/runners.py: a process pool of `fit_workers`, or Dask); one MLflow parent run with a child run per seed.

Run it: `cleargate stability MODEL --seeds 5` (which runs this file) or `python flows/stability.py --model MODEL
--seeds 5`. Writes reports/<d>/stability/<m>.json and, when the dataset's gate has run before, re-runs the gate
stage so the leaderboard and the `max_seed_std` verdicts use the new summary (`promote` re-judges on the next
run). The flow only wires: the work is `cleargate.stability.seeds`. The pipeline flow runs the same `run_seeds` for
every candidate with `--stability-seeds N`.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from prefect import flow, task
from prefect.cache_policies import NO_CACHE
from prefect.task_runners import TaskRunner

from cleargate.errors import CleargateError
from cleargate.evaluation.seed_spread import stability_seeds
from cleargate.graph import stage
from cleargate.params import ProjectParams, load_project
from cleargate.records import StabilitySummary
from cleargate.runtime import limit_threads, start_process, threads_for
from cleargate.stability.seeds import (
    SeedResult,
    check_ready,
    close_stability_run,
    measure_seed,
    open_stability_run,
    seed_checks,
    summarise_seeds,
    summary_text,
)
from cleargate.stages.entry import run_stage
from cleargate.tracking import check_store
from flows.runners import task_runner


@task(cache_policy=NO_CACHE)
def fit_seed(project: ProjectParams, model: str, seed: int, parent_id: str, threads: int) -> SeedResult:
    """One seed's fit and test scores, in a pool worker (its CPU threads limited like the pipeline's fits)."""
    start_process()  # a pool worker starts fresh: offline, quiet, a quick exit, like the run's own process
    limit_threads(threads)
    return measure_seed(project.scope(project.dataset_of(model)), model, seed, parent_id)


def run_seeds(project: ProjectParams, model: str, n_seeds: int, workers: int, runner: TaskRunner) -> StabilitySummary:
    """Inside a flow: the seeds go to `runner` (the pipeline's fits' runner); the parent run is closed whatever
    happens."""
    params = project.scope(project.dataset_of(model))
    check_ready(params, model, n_seeds)
    seeds, started = stability_seeds(project.seed, n_seeds), time.time()
    parent = open_stability_run(params, model, seeds)
    threads = threads_for(min(workers, n_seeds))
    try:
        futures = [runner.submit(fit_seed.with_options(name=f"stability@{model}-seed-{s}"),
                                 {"project": project, "model": model, "seed": s, "parent_id": parent,
                                  "threads": threads}) for s in seeds]
        results = [f.result() for f in futures]
    except BaseException:
        close_stability_run(params, parent, None, failed=True)
        raise
    return summarise_seeds(params, model, results, parent, started)


@flow(name="cleargate-stability")
def stability(params_path: str, model: str, seeds: int) -> dict[str, Any]:
    """Measure, then refresh the dataset's gate (when it has run) so its verdicts see the summary."""
    project = load_project(Path(params_path))
    dataset = project.dataset_of(model)
    params = project.scope(dataset)
    check_ready(params, model, seeds)
    check_store(params)
    with task_runner(project) as runner:  # the pipeline's fits' runner: a local pool, or Dask
        summary = run_seeds(project, model, seeds, project.orchestration.fit_workers, runner)
    if params.layout.gate.is_file():
        run_stage(stage("gate"), project, dataset)
    return summary.dump()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--model", required=True, help="a key of params.yaml `train`")
    parser.add_argument("--seeds", type=int, default=5, help="how many seeds (the project seed, then the next)")
    parser.add_argument("--strict", action="store_true", help="exit 3 when a max_seed_std gate fails")
    parser.add_argument("-v", "--verbose", action="store_true", help="show every library's log lines and warnings")
    args = parser.parse_args(argv)
    try:
        project = load_project(Path(args.params))
        check_ready(project.scope(project.dataset_of(args.model)), args.model, args.seeds)  # before Prefect starts
        summary = StabilitySummary.model_validate(stability(args.params, args.model, args.seeds))
        params = project.scope(project.dataset_of(args.model))
        print(summary_text(params, summary))
        print(f"summary: {params.layout.model(args.model).stability}; MLflow parent run {summary.run_id}")
        failed = [c for c in seed_checks(params, args.model, summary) if not c.passed]
    except CleargateError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    if failed:
        print(f"blocked: {args.model} fails {', '.join(c.name for c in failed)} (its score depends on the seed)",
              file=sys.stderr)
        return 3 if args.strict else 0
    return 0

