"""What running (dataset, model) fits side by side buys on this machine, and proof it changes nothing.

Run after `make run` (it reads the processed splits):
    .venv/bin/python benchmarks/parallel_fits.py [--workers 2] [--models rehab_lstm,rehab_hgb,...]
Fits the models twice through Prefect's ProcessPoolTaskRunner (what the pipeline uses): once with one
worker (the baseline, measured in the same run), once with --workers; prints both wall times, their
ratio, and whether every model gives the same test-set probabilities in both runs (scikit-learn forests with
n_jobs > 1 sum their trees in thread order, so their probabilities can differ in the last bit even for the
same fitted model: the labels and the largest difference are printed too).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from prefect import flow, task
from prefect.cache_policies import NO_CACHE
from prefect.task_runners import ProcessPoolTaskRunner

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

DEFAULT = "rehab_lstm,rehab_hgb,rehab_rf,rehab_et,covid_hgb,covid_rf,covid_et,breast_cancer_hgb,breast_cancer_rf"


@task(cache_policy=NO_CACHE)
def fit(params_path: str, models_dir: str, model: str) -> float:
    from cleargate.params import load_project
    from cleargate.stages import train

    project = load_project(params_path)
    params = project.scope(project.dataset_of(model))
    params = params.model_copy(update={"paths": params.paths.model_copy(update={"models": Path(models_dir)})})
    started = time.perf_counter()
    train.run(params, model)
    return time.perf_counter() - started


def fit_all(params_path: str, models_dir: Path, models: list[str], workers: int) -> float:
    @flow(name=f"bench-fits-{workers}", task_runner=ProcessPoolTaskRunner(max_workers=workers))
    def run() -> None:
        for future in [fit.submit(params_path, str(models_dir), m) for m in models]:
            future.result()

    started = time.perf_counter()
    run()
    return time.perf_counter() - started


def _test_probabilities(project, models_dir: Path, model: str) -> np.ndarray:
    from cleargate.io import read_table
    from cleargate.models.bundle import load_predictor

    dataset = project.dataset_of(model)
    test = read_table(project.paths.processed / dataset / "test.parquet")
    return load_predictor(models_dir / dataset / model).predict_proba(test)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--models", default=DEFAULT)
    args = parser.parse_args()
    from cleargate.params import load_project
    from cleargate.runtime import apply_offline_env

    apply_offline_env()
    project = load_project(args.params)
    models = args.models.split(",")
    with tempfile.TemporaryDirectory() as tmp:
        times, digests = {}, {}
        for workers in (1, args.workers):
            out = Path(tmp) / f"w{workers}"
            times[workers] = fit_all(str(Path(args.params).resolve()), out, models, workers)
            digests[workers] = {m: _test_probabilities(project, out, m) for m in models}
    same = [m for m in models if np.array_equal(digests[1][m], digests[args.workers][m])]
    labels = [m for m in models if np.array_equal(digests[1][m].argmax(1), digests[args.workers][m].argmax(1))]
    worst = max(float(np.abs(digests[1][m] - digests[args.workers][m]).max()) for m in models)
    print(f"{len(models)} fits on {os.cpu_count()} cores: 1 worker {times[1]:.1f} s, {args.workers} workers "
          f"{times[args.workers]:.1f} s, speed-up {times[1] / times[args.workers]:.2f}x")
    print(f"identical test-set probabilities: {len(same)} of {len(models)}"
          + ("" if len(same) == len(models) else f" (differ: {sorted(set(models) - set(same))})")
          + f"; identical predicted labels: {len(labels)} of {len(models)}; largest probability difference {worst:.1e}")


if __name__ == "__main__":
    main()
