"""MLflow runs of a seed-stability measurement: one parent run per model and measurement, one child per seed.

The parent opens before the seeds are fitted (their runs nest under it as they finish, from whichever process
fits them) and closes with the summary: each metric's mean, std, min and max, and the summary file.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from cleargate.config.common import dotted
from cleargate.params import DatasetParams
from cleargate.records import StabilitySummary
from cleargate.tracking.model_runs import PARENT_TAG
from cleargate.tracking.store import connect, ensure_experiment, store_errors

STAGE = "stability"   # the `stage` tag of a measurement's parent run and of each seed's run


def _tags(params: DatasetParams, model: str) -> dict[str, str]:
    config = params.model(model)
    return {"model": model, "family": config.family, "role": config.role, "dataset": params.dataset.name,
            "stage": STAGE}


def open_stability_run(params: DatasetParams, model: str, seeds: list[int]) -> str:
    """The parent run (`stability-<model>`), running until `close_stability_run`; returns its id."""
    from mlflow.entities import Param

    client = connect(params)
    with store_errors(params):
        experiment = ensure_experiment(params, client, params.experiment)
        run = client.create_run(experiment, run_name=f"stability-{model}", tags=_tags(params, model))
        values = {**dotted(params.model(model).model_dump(mode="json")), "seeds": ",".join(map(str, seeds)),
                  "n_seeds": len(seeds)}
        client.log_batch(run.info.run_id, params=[Param(k, str(v)[:6000]) for k, v in values.items()])
    return run.info.run_id


def log_seed_run(params: DatasetParams, model: str, parent_id: str, seed: int, metrics: dict[str, float],
                 fit_seconds: float) -> str:
    """One seed's finished child run: its seed and its test metrics (`test_*`)."""
    from mlflow.entities import Metric, Param

    client = connect(params)
    stamp = int(pd.Timestamp.now().timestamp() * 1000)
    with store_errors(params):
        experiment = ensure_experiment(params, client, params.experiment)
        run = client.create_run(experiment, run_name=f"{model}-seed-{seed}",
                                tags={**_tags(params, model), PARENT_TAG: parent_id, "seed": str(seed)})
        client.log_batch(run.info.run_id, params=[Param("seed", str(seed))],
                         metrics=[Metric(f"test_{k}", float(v), stamp, 0) for k, v in metrics.items()]
                         + [Metric("fit_seconds", fit_seconds, stamp, 0)])
        client.set_terminated(run.info.run_id, "FINISHED")
    return run.info.run_id


def close_stability_run(params: DatasetParams, parent_id: str, summary: StabilitySummary | None,
                        failed: bool = False) -> None:
    """The spread of every metric (`<metric>_mean`, `_std`, `_min`, `_max`) and the summary on the parent run."""
    from mlflow.entities import Metric

    client: Any = connect(params)
    stamp = int(pd.Timestamp.now().timestamp() * 1000)
    with store_errors(params):
        if summary is not None:
            metrics = [Metric(f"{name}_{stat}", getattr(figures, stat), stamp, 0)
                       for name, figures in summary.metrics.items() for stat in ("mean", "std", "min", "max")]
            client.log_batch(parent_id, metrics=metrics)
            client.log_dict(parent_id, summary.dump(), "stability.json")
        client.set_terminated(parent_id, "FAILED" if failed else "FINISHED")
