"""Evaluations that log the same test split at the same instant, as a dataset's models evaluated side by side do:
one thread per evaluation, released together by a barrier, against whatever store the client names."""

from __future__ import annotations

import threading
import warnings

import mlflow
import pandas as pd

from cleargate.tracking.model_runs import log_test_input


def split(name: str = "demo-test") -> mlflow.data.Dataset:
    frame = pd.DataFrame({"x": [float(i) for i in range(60)], "label": [0, 1, 2] * 20})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # MLflow's hint about integer columns
        return mlflow.data.from_pandas(frame, source="data/split/test.parquet", targets="label", name=name)


def _evaluate(run_id: str, dataset: mlflow.data.Dataset, barrier: threading.Barrier, errors: list) -> None:
    barrier.wait()
    try:
        with mlflow.start_run(run_id=run_id):
            log_test_input(dataset)
    except Exception as error:
        errors.append(error)   # the caller's assertion names it


def log_at_once(client: mlflow.MlflowClient, rounds: int, evaluations: int, dataset: mlflow.data.Dataset,
                prefix: str) -> None:
    """`rounds` new experiments (a new dataset row to race for each time), `evaluations` runs in each logging the
    split at once; asserts that none failed and that every run links the one dataset once, with its context."""
    mlflow.set_tracking_uri(client.tracking_uri)
    for r in range(rounds):
        experiment = client.create_experiment(f"{prefix}-{r}")
        mlflow.set_experiment(experiment_id=experiment)   # as the evaluate stage's `connect` does
        runs = [client.create_run(experiment).info.run_id for _ in range(evaluations)]
        barrier, errors = threading.Barrier(evaluations), []
        threads = [threading.Thread(target=_evaluate, args=(run_id, dataset, barrier, errors)) for run_id in runs]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert not errors, f"round {r}: {errors[0]}"
        inputs = [client.get_run(run_id).inputs.dataset_inputs for run_id in runs]
        assert all(len(i) == 1 for i in inputs), f"round {r}: each run links the split once"
        assert {(i[0].dataset.name, i[0].dataset.digest) for i in inputs} == {(dataset.name, dataset.digest)}
        assert all(i[0].tags[0].value == "test" for i in inputs), "the context is kept"
