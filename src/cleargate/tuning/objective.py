"""One trial: values from the sampler, a fit on the train split, the score on the validation split.

The test split is never read here: it judges the model the pipeline trains with the chosen values, and would
be worth nothing as evidence if it had chosen them (`load_splits` reads train and val only)."""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from typing import Any

import optuna
import pandas as pd
import psutil

from cleargate.evaluation.metrics import classification_metrics
from cleargate.io import read_table
from cleargate.models.bundle import ModelBundle
from cleargate.params import DatasetParams
from cleargate.schema import LABEL
from cleargate.training.fit import fit_model
from cleargate.tuning.space import Space, suggest, with_values
from cleargate.tuning.trial_runs import PRUNED_TAG, trial_run

PRUNE_ON = "val_accuracy"    # reported each epoch by the LightningModule; rises like every primary metric


def load_splits(params: DatasetParams) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The only data a search reads: the train and validation splits."""
    layout = params.layout
    return read_table(layout.split("train")), read_table(layout.split("val"))


def validation_metrics(params: DatasetParams, bundle: ModelBundle, val: pd.DataFrame) -> dict[str, float]:
    """Every scalar metric of the fitted model on the validation split, named `val_<metric>`."""
    predictor = bundle.predictor()
    metrics = classification_metrics(val[LABEL].to_numpy(), predictor.predict_proba(val), predictor.classes,
                                     params.dataset.positive_index, params.evaluate.calibration_bins)
    return {f"val_{k}": float(v) for k, v in metrics.items()
            if isinstance(v, (int, float)) and not isinstance(v, bool)}


def worker_identity() -> dict[str, Any]:
    """Which process ran a trial (host, pid, when the process started): trials fan out over pool or Dask workers."""
    return {"host": socket.gethostname(), "pid": os.getpid(), "process_started": psutil.Process().create_time()}


@dataclass
class Objective:
    params: DatasetParams
    model: str
    space: Space
    parent_id: str
    train: pd.DataFrame
    val: pd.DataFrame
    init: Any = None          # a fine-tuned model's parent (training.finetune.InitWeights)
    prune: bool = True

    def __call__(self, trial: optuna.Trial) -> float:
        params = self.params
        trial.set_user_attr("worker", worker_identity())
        values = suggest(trial, self.space, params.model(self.model))
        config = with_values(self.model, params.model(self.model), values)
        pruning = None
        if self.prune and config.flavour == "torch":
            from cleargate.tuning.pruning import PruneTrial  # imports Lightning: deep models only

            pruning = PruneTrial(trial, PRUNE_ON)
        with trial_run(params, self.parent_id, self.model, trial.number, config, values) as run:
            bundle = fit_model(self.model, config, params.trainer, params.dataset, self.train, self.val,
                               params.seed, on_epoch=run.log_epoch, init=self.init,
                               callbacks=[pruning] if pruning else None)
            metrics = validation_metrics(params, bundle, self.val)
            run.log_epoch(bundle.record.epochs, metrics)
            run.log_fit(bundle.record)
            if pruning is not None and pruning.pruned_at is not None:
                run.set_tags({PRUNED_TAG: str(pruning.pruned_at + 1)})
                raise optuna.TrialPruned(f"val accuracy below the median at epoch {pruning.pruned_at + 1}")
        return metrics[f"val_{params.evaluate.primary_metric}"]
