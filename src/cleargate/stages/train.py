"""train: fit one model (`--model NAME`, a key of params.yaml `train`) -> its bundle in models/<d>/<m>/.

The model's MLflow run is open while it fits: loss and accuracy per epoch and the machine's CPU, memory
(and GPU) appear in the MLflow UI as it trains; the run id is kept in train.json for evaluate and release.

With `trainer.devices` N > 1 and `strategy: ddp`, this same command is every process of the fit (Lightning's
launcher re-runs it for ranks 1..N-1; or `torchrun --nproc_per_node=N -m cleargate.stages train --model X`):
every rank trains, rank 0 alone tracks and writes (`training.distributed`), so the outputs are those of a
one-device fit.

A fine-tuned model (`init_from`) starts from its parent's weights; train.json and the run's `lineage.parent_*`
tags name the parent (the registered version it resolved to), and so, at promotion, do the version's tags.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from cleargate.io import read_table, write_text
from cleargate.params import DatasetParams
from cleargate.records import TrainRecord
from cleargate.tracking.lineage import parent_tags
from cleargate.tracking.model_runs import training_run
from cleargate.tracking.parent_model import resolve_init
from cleargate.training.distributed import is_global_zero
from cleargate.training.fit import fit_model

CURVES = ["epoch", "train_loss", "train_accuracy", "val_loss", "val_accuracy"]


def write_curves(history: pd.DataFrame | None, path: Path) -> None:
    """Loss and accuracy per epoch for `dvc plots show`; a tree has no epochs (header only)."""
    frame = history if history is not None else pd.DataFrame(columns=CURVES)
    write_text(frame.to_csv(index=False), path)


def run(params: DatasetParams, model: str) -> TrainRecord:
    layout = params.layout
    train, val = read_table(layout.split("train")), read_table(layout.split("val"))
    init = resolve_init(params, model)  # a fine-tuned model's parent (train.<m>.init_from), before any fit
    if not is_global_zero():  # a rank > 0 of a multi-process fit: it trains, rank 0 tracks and writes
        return fit_model(model, params.model(model), params.trainer, params.dataset, train, val, params.seed,
                         init=init).record
    with training_run(params, model) as tracked:
        bundle = fit_model(model, params.model(model), params.trainer, params.dataset, train, val, params.seed,
                           on_epoch=tracked.log_epoch, init=init)
        tracked.set_tags(parent_tags(bundle.record))
        bundle.record = bundle.record.model_copy(update={"run_id": tracked.id})
        bundle.save(layout.model(model).dir)
        tracked.log_fit(bundle.record)
    write_curves(bundle.history, layout.model(model).curves)
    return bundle.record
