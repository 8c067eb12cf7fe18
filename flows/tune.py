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
from prefect.task_runners import ProcessPoolTaskRunner

if __package__ in (None, ""):  # `python flows/tune.py` from the project root
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from cleargate.errors import CleargateError  # noqa: E402
from cleargate.params import load_project  # noqa: E402
from cleargate.runtime import (  # noqa: E402
    apply_offline_env,
    exit_without_heap_walks,
    limit_threads,
    quiet_third_party,
    threads_for,
)
from cleargate.tuning import study  # noqa: E402
from flows.console import quiet_prefect_console  # noqa: E402
from flows.runners import task_runner  # noqa: E402


@task(cache_policy=NO_CACHE)
def trial(params_path: str, model: str, parent_id: str, threads: int) -> None:
    """One trial of the shared study, in a pool worker."""
    quiet_third_party()
    exit_without_heap_walks()
    limit_threads(threads)
    study.run_trials(load_project(Path(params_path)), model, 1, parent_id)


@flow(name="cleargate-tune", task_runner=ProcessPoolTaskRunner(max_workers=1))
def tune(params_path: str, model: str, trials: int) -> list[str]:
    project = load_project(Path(params_path))
    parent_id = study.start(project, model, trials)
    threads = threads_for(project.tuning.workers)  # type: ignore[union-attr]
    futures = [trial.with_options(name=f"trial-{model}").submit(params_path, model, parent_id, threads)
               for _ in range(trials)]
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
    apply_offline_env()
    exit_without_heap_walks()
    quiet_third_party(args.verbose)
    quiet_prefect_console(args.verbose)
    try:
        project = load_project(Path(args.params))
        tuning = project.tuning
        if tuning is None:
            raise CleargateError(f"{args.params}: no `tuning` section (tuning.storage, tuning.space.<model>)")
        lines = tune.with_options(task_runner=task_runner(project, tuning.workers))(
            args.params, args.model, args.trials)
    except CleargateError as exc:
        print(f"cleargate: tune stopped: {exc}", file=sys.stderr)
        return 2
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
