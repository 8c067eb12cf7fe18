"""The Prefect flow on a real ephemeral API, in a real git + DVC repo."""

import json
import re
from pathlib import Path

import pandas as pd
import pytest
import yaml
from mlflow.tracking import MlflowClient

from cleargate.errors import DataValidationError
from flows.pipeline import pipeline
from tests.projects import load_params, make_project, run


@pytest.mark.slow
def test_flow_leaves_dvc_clean_then_skips_everything(golden_digits, tmp_path: Path, capsys):
    """The golden digits project's build was the first run of the flow; this goes on from a copy of it."""
    from flows.pipeline import main

    assert "stages ran: 12; up to date, skipped: 0" in golden_digits.output
    project = golden_digits.clone(tmp_path)
    assert "up to date" in run(["dvc", "status"], project).stdout
    second = pipeline(str(project / "params.yaml"))
    assert set(second.values()) == {"skipped"}, second
    params = load_params(project / "params.yaml")
    client = MlflowClient(params.tracking.uri)
    assert len(client.search_model_versions("name='digits-classifier'")) == 1, "unchanged: nothing new"

    third = pipeline(str(project / "params.yaml"), rerun=["promote"])  # re-judge the unchanged model
    assert third["promote@digits"] == "ran" and list(third.values()).count("skipped") == 11
    promotion = json.loads((params.paths.reports / "digits" / "promotion.json").read_text())
    assert promotion["version"] == "2" and promotion["champion"] == "1" and not promotion["moved"]
    assert promotion["reason"] == "identical to champion v1"
    assert str(client.get_model_version_by_alias("digits-classifier", "challenger").version) == "2"
    assert client.get_model_version("digits-classifier", "2").tags["gate.champion_non_inferior"] == "pass"

    # A stricter gate blocks the candidate: a verdict, not an error. The run completes and prints this run's
    # table naming the failing gate; --strict (CI, release schedules) turns the verdict into exit 3.
    strict = yaml.safe_load((project / "params.yaml").read_text())
    strict["datasets"]["digits"]["gates"]["minimum"]["accuracy"] = 0.999
    (project / "params.yaml").write_text(yaml.safe_dump(strict, sort_keys=False))
    capsys.readouterr()
    assert main(["--params", str(project / "params.yaml"), "--strict"]) == 3
    out, err = capsys.readouterr()
    assert "stages ran: 2;" in out and re.search(r"gate@digits +[\d.]+ s  ran", out)
    assert re.search(r"promote@digits +[\d.]+ s  blocked: failed gate\(s\): accuracy", out)
    assert re.search(r"^ *1 +cnn .* FAIL:", out, re.M) and "champion v1 (failed gate(s): accuracy)" in out, out
    assert "blocked at the gate (champion unchanged): digits" in err
    assert registry_champion(client) == "1"
    assert main(["--params", str(project / "params.yaml")]) == 0, "unchanged and blocked: nothing to do, exit 0"
    assert "stages ran: 0" in capsys.readouterr().out, "the blocked verdict is recorded; it is not re-judged"


@pytest.mark.slow
def test_flow_stops_at_validation_on_a_corrupt_label(tmp_path: Path):
    source = tmp_path / "user_digits.parquet"
    from sklearn.datasets import load_digits

    from cleargate.kinds.image import records_from_arrays

    digits = load_digits()
    frame = records_from_arrays((digits.images * 15).astype("int64"), digits.target)
    frame.loc[42, "label"] = 12
    frame.to_parquet(source)
    from tests.projects import tiny_params

    params = tiny_params()
    params["datasets"]["digits"]["data"].update({"source": "parquet", "source_path": str(source)})
    project = make_project(tmp_path, params)
    with pytest.raises(DataValidationError, match=r"digits.parquet: 1 rows fail expect_column_values_to_be_in_set"
                                                  r"\(label, in \[0, .*\]\) \(rows 42\)"):
        pipeline(str(project / "params.yaml"))
    loaded = load_params(project / "params.yaml")
    assert (loaded.paths.reports / "digits" / "validation" / "index.html").is_file(), "report kept"
    assert pd.read_parquet(loaded.paths.raw / "digits.parquet").equals(frame), "raw data untouched"
    assert not loaded.paths.models.exists(), "nothing trained"
    store = project / "mlflow.db"  # the preflight creates an empty store before any stage runs
    uri = f"sqlite:///{store}"
    assert not store.exists() or not MlflowClient(uri, uri).search_registered_models(), "nothing promoted"


def registry_champion(client: MlflowClient) -> str:
    return str(client.get_model_version_by_alias("digits-classifier", "champion").version)


@pytest.mark.slow
def test_flow_runs_two_kinds_in_parallel_fits_and_a_blocked_dataset_holds_back_no_other(tmp_path: Path, capsys):
    """Sequences and tabular records in one flow, fits two at a time in worker processes; results
    equal a sequential in-process fit; one dataset blocked at its gate, the others promoted."""
    import numpy as np

    from cleargate.models.bundle import load_predictor
    from cleargate.params import load_project
    from cleargate.stages import train
    from flows.pipeline import main
    from tests.projects import tiny_params

    raw = tiny_params("rehab", "breast_cancer", digits=False)  # images: the test above
    raw["orchestration"]["fit_workers"] = 2
    raw["datasets"]["rehab"]["gates"]["minimum"]["macro_f1"] = 0.999  # the tiny LSTM cannot meet this
    project = make_project(tmp_path, raw)
    assert main(["--params", str(project / "params.yaml")]) == 0
    out, err = capsys.readouterr()
    assert "rehab (sequence)" in out and "breast_cancer (tabular)" in out, out
    assert "blocked at the gate (champion unchanged): rehab" in err
    client = MlflowClient(f"sqlite:///{project / 'mlflow.db'}")
    assert str(client.get_model_version_by_alias("breast-cancer-classifier", "champion").version) == "1"
    assert str(client.get_model_version_by_alias("rehab-exercise-classifier", "challenger").version) == "1"
    assert not client.get_registered_model("rehab-exercise-classifier").aliases.get("champion")
    assert "up to date" in run(["dvc", "status"], project).stdout, "a blocked verdict is recorded, not re-run"

    loaded = load_project(project / "params.yaml")
    rehab, cancer = loaded.scope("rehab"), loaded.scope("breast_cancer")
    split = json.loads((project / "reports" / "rehab" / "split.json").read_text())
    assert split["groups"] == {"train": 7, "val": 1, "test": 2}, "whole patients held out"
    lstm = json.loads((project / "reports" / "rehab" / "metrics" / "lstm.json").read_text())
    assert lstm["family"] == "lstm" and lstm["macro_f1"] > 2 / 7, "well above chance (1/7) on unseen patients"
    board = pd.read_csv(project / "reports" / "breast_cancer" / "leaderboard.csv")
    assert set(board["model"]) == {"cancer_hgb", "cancer_rf"} and board["pr_auc"].is_monotonic_decreasing
    assert {"positive_recall", "balanced_accuracy", "pr_auc", "fit_seconds", "size_mb"} <= set(board.columns)
    experiments = {e.name for e in client.search_experiments()}
    assert {"cleargate-test-rehab", "cleargate-test-breast_cancer"} <= experiments
    _served_and_scored(rehab, cancer, tmp_path)

    for model, config in loaded.train.items():
        params = loaded.scope(config.dataset)
        sequential = params.model_copy(update={"paths": params.paths.model_copy(update={"models": tmp_path / "seq"})})
        train.run(sequential, model)
        test = pd.read_parquet(params.paths.processed / config.dataset / "test.parquet")
        again = load_predictor(tmp_path / "seq" / config.dataset / model).predict_proba(test)
        flow = pd.read_parquet(params.paths.reports / config.dataset / "predictions" / f"{model}.parquet")
        assert np.allclose(flow.drop(columns="label").to_numpy(), again, atol=1e-6), \
            f"{model}: the parallel fit differs from a sequential one"


def _served_and_scored(rehab, cancer, tmp_path: Path) -> None:
    """The registered models take stored records; batch scoring validates with each dataset's own suite."""
    import mlflow

    from cleargate.errors import DataValidationError
    from cleargate.kinds.windows import window_columns
    from cleargate.scoring import score_file
    from cleargate.tracking import connect

    connect(cancer)
    served = mlflow.pyfunc.load_model("models:/breast-cancer-classifier@champion")
    test = pd.read_parquet(cancer.paths.processed / "breast_cancer" / "test.parquet")
    assert (served.predict(test.drop(columns="label")) == test["label"]).mean() > 0.9
    records = tmp_path / "patients.parquet"
    test.drop(columns="label").head(40).to_parquet(records)
    scored = score_file(cancer, records, "breast-cancer-classifier@champion", connect(cancer))
    assert scored.validation.passed and (scored.refused or len(scored.predictions) == 40)

    windows = pd.read_parquet(rehab.paths.processed / "rehab" / "test.parquet")[window_columns(rehab.dataset)]
    lstm_model = mlflow.pyfunc.load_model("models:/rehab-exercise-classifier/1")
    assert lstm_model.predict(windows.head(20)).shape == (20,)
    batch = windows.head(30).copy()
    batch.loc[7, "wx_3"] = 1e4  # a sensor fault
    batch.to_parquet(tmp_path / "windows.parquet")
    with pytest.raises(DataValidationError, match=r"windows.parquet: 1 values fail .*\(wx_3: rows 7\)"):
        score_file(rehab, tmp_path / "windows.parquet", "rehab-exercise-classifier/1", connect(rehab))
