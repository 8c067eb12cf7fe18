"""The test split logged as an MLflow dataset input by several evaluations at once (a dataset's models are evaluated
side by side): every run links to the one dataset row, and no evaluation fails on the store's unique key. The same
race against the team stack's MLflow server on PostgreSQL is in tests/ops/test_registry_postgres.py."""

from __future__ import annotations

from pathlib import Path

import mlflow
import pytest
from mlflow.exceptions import MlflowException

from cleargate.tracking.model_runs import DUPLICATE_DATASET, log_test_input
from tests.dataset_inputs import log_at_once, split


def test_evaluations_logging_the_same_split_at_once_all_link_to_one_dataset(tmp_path: Path):
    """Unguarded, 4 evaluations at once collide on SQLite in about half the rounds (12 of 20 when measured)."""
    client = mlflow.MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")
    log_at_once(client, rounds=20, evaluations=4, dataset=split(), prefix="round")


def test_a_failure_other_than_the_duplicate_dataset_is_raised_as_it_is(tmp_path: Path):
    client = mlflow.MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")
    mlflow.set_tracking_uri(client.tracking_uri)
    mlflow.set_experiment("refused")   # not whichever experiment an earlier test in this process left active
    with mlflow.start_run() as run:
        client.delete_run(run.info.run_id)   # the store refuses inputs to a deleted run: not a duplicate, no retry
        with pytest.raises(MlflowException, match="active") as refused:
            log_test_input(split())
        client.restore_run(run.info.run_id)   # so that the run can end
    assert not DUPLICATE_DATASET.search(str(refused.value))


@pytest.mark.parametrize("message", [
    "(sqlite3.IntegrityError) UNIQUE constraint failed: datasets.experiment_id, datasets.name, datasets.digest",
    '(psycopg2.errors.UniqueViolation) duplicate key value violates unique constraint "dataset_pk"',
    "(pymysql.err.IntegrityError) (1062, \"Duplicate entry '1-demo-test-ab12' for key 'datasets.PRIMARY'\")",
])
def test_the_duplicate_dataset_is_recognised_in_each_sql_store(message: str):
    assert DUPLICATE_DATASET.search(message)
    assert not DUPLICATE_DATASET.search("UNIQUE constraint failed: experiments.workspace, experiments.name")
