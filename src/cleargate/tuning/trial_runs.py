"""The MLflow side of a search: one parent run per `cleargate tune`, one child run per trial (its full entry as
params, the epochs' curves, the validation metrics as `val_*`), so MLflow's compare view lines the trials up.
Runs are created through the client (no active-run stack), so any process can add a trial to a parent."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from cleargate.config.common import dotted
from cleargate.config.hyperparameters import ModelConfig
from cleargate.params import DatasetParams
from cleargate.tracking.model_runs import PARENT_TAG, TrainingRun
from cleargate.tracking.store import connect, ensure_experiment, store_errors

PRUNED_TAG = "optuna.pruned_at_epoch"
SEARCH_STAGE, TRIAL_STAGE = "tune", "tune-trial"   # the `stage` tag of a search's parent run and of its trials


def start_search(params: DatasetParams, model: str, study: str, storage: str, trials: int) -> str:
    """The parent run of one search; returns its id."""
    client = connect(params)
    with store_errors(params):
        run = client.create_run(ensure_experiment(params, client, params.experiment), run_name=f"tune-{model}",
                                tags={"stage": SEARCH_STAGE, "model": model, "dataset": params.dataset.name,
                                      "optuna.study": study, "optuna.storage": storage})
        client.log_param(run.info.run_id, "trials", trials)
        client.log_param(run.info.run_id, "objective", f"val_{params.evaluate.primary_metric}")
        return run.info.run_id


def finish_search(params: DatasetParams, parent_id: str, best: dict[str, Any], value: float | None) -> None:
    """The best trial's values and score on the parent run, which ends FINISHED."""
    client = connect(params)
    with store_errors(params):
        for key, chosen in best.items():
            client.log_param(parent_id, f"best.{key}", chosen)
        if value is not None:
            client.log_metric(parent_id, f"best_val_{params.evaluate.primary_metric}", value)
        client.set_terminated(parent_id, "FINISHED")


def fail_search(params: DatasetParams, parent_id: str) -> None:
    client = connect(params)
    with store_errors(params):
        client.set_terminated(parent_id, "FAILED")


@contextmanager
def trial_run(params: DatasetParams, parent_id: str, model: str, number: int, config: ModelConfig,
              values: dict[str, Any]) -> Iterator[TrainingRun]:
    """A child run of `parent_id` open while the trial fits; FAILED if the trial raises (a pruned trial,
    `optuna.TrialPruned`, ends FINISHED with the epoch it stopped at as a tag)."""
    import optuna

    client = connect(params)
    with store_errors(params):
        run = client.create_run(ensure_experiment(params, client, params.experiment),
                                run_name=f"{model}-trial-{number}",
                                tags={PARENT_TAG: parent_id, "stage": TRIAL_STAGE, "model": model,
                                      "optuna.trial": str(number), "tuned": ",".join(values)})
        run_id = run.info.run_id
        for key, value in dotted(config.model_dump(mode="json")).items():
            client.log_param(run_id, key, value)
    status = "FAILED"
    try:
        yield TrainingRun(run_id, client)
        status = "FINISHED"
    except optuna.TrialPruned:
        status = "FINISHED"
        raise
    finally:
        with store_errors(params):
            client.set_terminated(run_id, status)
