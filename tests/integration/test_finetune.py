"""Fine-tuning end to end on the bundled digits: a warm start pays (fewer epochs to the cold fit's accuracy),
and a fine-tuned model registered through the pipeline names the registered version it started from."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from mlflow.tracking import MlflowClient

from cleargate.datasets import load
from cleargate.params import ProjectParams
from cleargate.records import TrainRecord
from cleargate.stages import evaluate, gate, promote, train
from cleargate.tracking.parent_model import resolve_init
from cleargate.training.finetune import InitWeights
from cleargate.training.fit import fit_model
from tests.projects import load_params, run_stages, tiny_params, write_params


def epochs_to(history, target: float) -> int | None:
    """1-based epoch at which validation accuracy first reaches `target`; None if it never does."""
    reached = history.index[history["val_accuracy"] >= target]
    return int(history.loc[reached[0], "epoch"]) + 1 if len(reached) else None


@pytest.mark.slow
def test_warm_start_from_an_older_model_reaches_the_cold_accuracy_in_fewer_epochs():
    """The monitoring-retrain case: the champion was fitted on older data (40 % of today's training rows);
    today's fit warm-started from it against one from scratch, same config, seed and validation rows."""
    params = ProjectParams.model_validate(tiny_params()).scope("digits")
    raw = load(params.dataset)
    order = np.random.default_rng(0).permutation(len(raw))
    val, rows = raw.iloc[order[:300]].reset_index(drop=True), raw.iloc[order[300:]].reset_index(drop=True)
    config = params.model("cnn")

    def fit(frame, config=config, init=None):
        return fit_model("cnn", config, params.trainer, params.dataset, frame, val, params.seed, init=init)

    cold = fit(rows)
    target = 0.98 * cold.history["val_accuracy"].max()   # 98 % of the best the cold fit reached
    older = fit(rows.iloc[: len(rows) * 4 // 10])
    warm = fit(rows, config.model_copy(update={"init_from": "cnn_older"}),
               InitWeights("cnn_older", None, "-", older.model.state_dict()))
    cold_epochs, warm_epochs = epochs_to(cold.history, target), epochs_to(warm.history, target)
    print(f"target val_accuracy {target:.3f}: cold {cold_epochs} epochs, warm {warm_epochs}")
    assert warm.record.parent == "cnn_older" and warm.record.head == "loaded"
    assert cold_epochs is not None and warm_epochs is not None
    assert warm_epochs < cold_epochs



@pytest.mark.slow
def test_a_fine_tuned_version_names_the_registered_version_it_started_from(tmp_path: Path):
    raw = tiny_params()
    first_run = {**raw, "train": {**raw["train"], "cnn": {**raw["train"]["cnn"],
                                                           "init_from": "models:/digits-classifier@champion"}}}
    assert resolve_init(load_params(write_params(tmp_path / "params.yaml", first_run)), "cnn") is None, \
        "the dataset's own model, nothing registered yet: a first run trains from scratch"
    raw["train"]["cnn"]["max_epochs"] = 3
    raw["datasets"]["digits"]["gates"]["latency_repeats"] = 5   # the release checks are not what is tested here
    del raw["train"]["rf"]
    first = run_stages(load_params(write_params(tmp_path / "params.yaml", raw)))
    assert first.version == "1"

    raw["train"] = {"hgb": raw["train"]["hgb"],
                    "cnn_ft": {**raw["train"]["cnn"], "max_epochs": 2, "learning_rate": 0.001,
                               "init_from": "models:/digits-classifier@champion", "freeze": "backbone"}}
    params = load_params(write_params(tmp_path / "params.yaml", raw))
    train.run(params, "cnn_ft")
    record = TrainRecord.load(params.layout.model("cnn_ft").bundle.train_record)
    assert (record.parent, record.parent_version, record.freeze) == ("models:/digits-classifier/1", "1", "backbone")
    evaluate.run(params, "cnn_ft")
    gate.run(params)
    second = promote.run(params)
    client = MlflowClient(params.tracking.uri)
    tags = client.get_model_version("digits-classifier", second.version).tags
    assert second.version == "2" and tags["model"] == "cnn_ft"
    assert tags["lineage.parent_model"] == "models:/digits-classifier/1" and tags["lineage.parent_version"] == "1"
    assert client.get_run(record.run_id).data.tags["lineage.parent_version"] == "1"

    raw["train"]["cnn_ft"]["init_from"] = "models:/digits-classifier/9"
    with pytest.raises(Exception, match=r"train.cnn_ft.init_from: models:/digits-classifier/9 names nothing in "
                                        r"\S+ \(digits-classifier: versions 1-2\)"):
        train.run(load_params(write_params(tmp_path / "params.yaml", raw)), "cnn_ft")
