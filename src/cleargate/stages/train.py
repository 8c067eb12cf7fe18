"""train: fit one model (`--model NAME`, a key of params.yaml `train`) -> its bundle in models/<d>/<m>/."""

from __future__ import annotations

from cleargate.io import read_table
from cleargate.params import DatasetParams
from cleargate.records import TrainRecord
from cleargate.training import fit_model


def run(params: DatasetParams, model: str) -> TrainRecord:
    layout = params.layout
    bundle = fit_model(model, params.model(model), params.trainer, params.dataset, read_table(layout.split("train")),
                       read_table(layout.split("val")), params.seed)
    bundle.save(layout.model(model).dir)
    return bundle.record
