"""Hyper-parameter search as a Prefect flow: the trials of `cleargate tune`, `tuning.workers` at a time, each in
its own process through the same task runner as the pipeline's fits (flows/runners.py: a process pool or Dask).

Run it: `python flows/tune.py mnist_cnn --trials 20`. Every worker asks the shared study (an RDB storage:
SQLite under the project, or the team stack's PostgreSQL) for its next trial, so workers never repeat one
another's values, and the study resumes on the next run. The flow only wires: `cleargate.tuning.study` does it.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from prefect import flow, task
from prefect.cache_policies import NO_CACHE

from cleargate.errors import CleargateError
from cleargate.params import load_project
from cleargate.runtime import limit_threads, start_process, threads_for
from cleargate.tuning import study
from flows.runners import task_runner


@task(cache_policy=NO_CACHE)
def trial(params_path: str, model: str, parent_id: str, threads: int) -> None:
    """One trial of the shared study, in a pool worker."""
    start_process()  # a pool worker starts fresh: offline, quiet, a quick exit, like the run's own process
    limit_threads(threads)
    study.run_trials(load_project(Path(params_path)), model, 1, parent_id)


@flow(name="cleargate-tune")
def tune(params_path: str, model: str, trials: int) -> list[str]:
    """`tuning.workers` trials at once, on the pipeline's kind of runner (a local pool, or Dask)."""
    project = load_project(Path(params_path))
    parent_id = study.start(project, model, trials)
    workers = project.tuning.workers  # type: ignore[union-attr]
    with task_runner(project, workers) as runner:
        futures = [runner.submit(trial.with_options(name=f"trial-{model}"), {"params_path": params_path,
                   "model": model, "parent_id": parent_id, "threads": threads_for(workers)}) for _ in range(trials)]
        for future in futures:
            future.wait()
    failed = [f for f in futures if f.state.is_failed()]
    result = study.finish(project, model, parent_id)
    if failed:
        raise CleargateError(f"{len(failed)} of {trials} trials failed: {failed[0].state.message}")
    return result.lines()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("model")
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args(argv)
    try:
        project = load_project(Path(args.params))
        tuning = project.tuning
        if tuning is None:
            raise CleargateError(f"{args.params}: no `tuning` section (tuning.storage, tuning.space.<model>)")
        lines = tune(args.params, args.model, args.trials)
    except CleargateError as exc:
        print(f"cleargate: tune stopped: {exc}", file=sys.stderr)
        return exc.exit_code
    print("\n".join(lines))
    return 0

