"""Every stage in order on real digits, a real SQLite MLflow store, and the registered model served."""

from pathlib import Path

import mlflow
import pandas as pd
import pytest
from mlflow.tracking import MlflowClient

from cleargate.errors import DataError
from cleargate.models.bundle import load_predictor
from cleargate.serving.loading import load_served
from cleargate.stages import clean, evaluate, gate, ingest, promote, split, train, validate
from cleargate.tracking import registry
from tests.projects import load_params, run_stages, tiny_params, write_params


@pytest.mark.slow
def test_pipeline_registers_a_champion_that_serves_raw_rows(tmp_path: Path):
    params = load_params(write_params(tmp_path / "params.yaml", tiny_params()))
    result = run_stages(params)
    assert result.passed and result.champion == result.version == "1" and result.outcome == "promoted"
    reports = params.paths.reports / "digits"
    for path in ("validation/result.json", "validation/index.html", "cleaning.json", "split.json",
                 "metrics/cnn.json", "plots/cnn/confusion.png", "plots/cnn/roc.csv", "gate.json", "gate.md",
                 "leaderboard.md", "leaderboard.csv", "leaderboard.json"):
        assert (reports / path).is_file(), path
    curves = pd.read_csv(params.layout.model("cnn").curves)
    assert len(curves) >= 2 and {"epoch", "train_loss", "val_loss", "val_accuracy"} <= set(curves.columns)
    assert pd.read_csv(params.layout.model("rf").curves).empty, "a tree has no epochs: header only"
    board = pd.read_csv(reports / "leaderboard.csv")
    assert list(board["model"])[0] == "cnn" and board["macro_f1"].is_monotonic_decreasing

    mlflow.set_tracking_uri(params.tracking.uri)

    mlflow.set_registry_uri(params.tracking.uri)
    model = mlflow.pyfunc.load_model("models:/digits-classifier@champion")
    raw = pd.read_parquet(params.paths.raw / "digits.parquet")
    predicted = model.predict(raw.drop(columns="label").head(200))
    assert (predicted == raw["label"].head(200).to_numpy()).mean() > 0.9
    assert model.metadata.metadata["input_columns"][:2] == ["pixel_0", "pixel_1"]
    shuffled = raw.drop(columns="label").head(200)
    shuffled = shuffled[list(reversed(shuffled.columns))].assign(extra=1)  # other order, one column more
    assert (model.predict(shuffled) == predicted).all()
    with pytest.raises(Exception, match=r"Model is missing inputs \['pixel_7'\]"):  # MLflow checks the signature
        model.predict(raw.drop(columns=["label", "pixel_7"]).head(1))
    assert model.metadata.get_input_schema().input_names()[:2] == ["pixel_0", "pixel_1"], "a schema the UI shows"
    served, _ = load_served("models:/digits-classifier@champion")  # cleargate's own callers: the model's check
    with pytest.raises(ValueError, match="input lacks 1 of the model's 64 columns: pixel_7"):
        served.predict(raw.drop(columns=["label", "pixel_7"]).head(1))
    as_array = raw.drop(columns="label").head(200).to_numpy()  # rows without names, in the signature's order
    assert (served.predict(as_array) == predicted).all()

    client = MlflowClient(params.tracking.uri)
    version = client.get_model_version("digits-classifier", "1")
    assert version.tags["gate.passed"] == "true" and version.tags["gate.accuracy"] == "pass"
    assert len(version.tags["lineage.raw_data_sha256"]) == 64
    run = client.get_run(result.run_id)
    assert run.data.metrics["test_accuracy"] > 0.85
    assert len(client.get_metric_history(result.run_id, "val_loss")) >= 2, "per-epoch curves logged"
    parent = client.get_run(result.pipeline_run_id)
    assert parent.inputs.dataset_inputs, "dataset logged with mlflow.log_input"

    # A weakened model is registered as challenger, blocked, and champion stays at v1.
    weak = tiny_params()
    weak["datasets"]["digits"]["gates"]["minimum"]["accuracy"] = 0.999
    weak_params = load_params(write_params(tmp_path / "params.yaml", weak))
    gate.run(weak_params)
    blocked = promote.run(weak_params)  # a verdict, not an exception
    assert blocked.outcome == "blocked" and not blocked.moved
    assert "failed gate(s): accuracy" in blocked.message() and "champion is v1" in blocked.message()
    assert registry.alias_version(client, "digits-classifier", "champion") == "1"
    assert registry.alias_version(client, "digits-classifier", "challenger") == "2"
    assert client.get_model_version("digits-classifier", "2").tags["gate.accuracy"] == "fail"


@pytest.mark.slow
def test_bad_raw_file_stops_at_validation_and_nothing_downstream_runs(tmp_path: Path):
    from cleargate.datasets import load
    from cleargate.errors import DataValidationError

    good = load_params(write_params(tmp_path / "params.yaml", tiny_params())).dataset
    frame = load(good)
    frame.loc[7, "pixel_3"] = 300
    frame.to_parquet(tmp_path / "source.parquet")
    raw = tiny_params()
    raw["datasets"]["digits"]["data"].update(source="parquet", source_path=str(tmp_path / "source.parquet"))
    params = load_params(write_params(tmp_path / "params.yaml", raw))
    ingest.run(params)
    ingest.run(params)  # raw data is immutable: ingest keeps the recorded file for validation to judge

    with pytest.raises(DataValidationError, match=r"digits.parquet: 1 values fail .*\(pixel_3: rows 7\)"):
        validate.run(params)
    assert not (params.paths.interim / "digits.parquet").exists() and not params.paths.models.exists()


def test_a_damaged_raw_file_is_never_recorded_and_says_how_to_restore_it(tmp_path: Path):
    params = load_params(write_params(tmp_path / "params.yaml", tiny_params()))
    record = ingest.run(params)
    layout = params.layout
    layout.raw.write_bytes(layout.raw.read_bytes()[:-100])  # truncated after ingest
    for stage in (ingest, validate):
        with pytest.raises(DataError) as err:
            stage.run(params)
        message = str(err.value)
        assert f"{layout.raw}: sha256" in message and f"dvc checkout --force {layout.raw}" in message
        assert "dvc repro ingest@digits" in message
    assert layout.raw_meta.read_text().count(record.sha256) == 1, "the recorded hash is never overwritten"


@pytest.mark.slow
def test_a_resnet_is_one_params_entry(tmp_path: Path):
    """A new model is an entry in params.yaml `train`; the same stages train, evaluate and serve it."""
    raw = tiny_params()
    raw["train"]["res"] = {**raw["train"]["cnn"], "family": "resnet", "channels": [16, 32], "max_epochs": 4}
    params = load_params(write_params(tmp_path / "params.yaml", raw))
    for stage in (ingest, validate, clean, split):
        stage.run(params)
    train.run(params, "res")
    metrics = evaluate.run(params, "res")
    assert metrics.family == "resnet" and metrics.accuracy > 0.5
    assert type(load_predictor(params.paths.models / "digits" / "res").network).__name__ == "SmallResNet"
