"""Batch scoring with the champion: a clean batch is scored, a corrupt one and a drifted one are refused."""

from pathlib import Path

import pandas as pd
import pytest
from flows.pipeline import pipeline
from flows.scoring import score
from typer.testing import CliRunner

from cleargate.cli import app
from cleargate.errors import DataValidationError
from cleargate.params import load_params
from tests.conftest import make_project


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    project = make_project(tmp_path_factory.mktemp("scoring"))
    pipeline(str(project / "params.yaml"))
    params = load_params(project / "params.yaml")
    test = pd.read_parquet(params.paths.processed / "digits" / "test.parquet").drop(columns="label")
    return project, params, test


def write(frame: pd.DataFrame, path: Path) -> Path:
    frame.to_parquet(path)
    return path


@pytest.mark.slow
def test_clean_batch_is_scored_with_model_version_and_input_hash(trained, tmp_path: Path):
    project, params, test = trained
    clean = write(test.head(150), tmp_path / "clean.parquet")
    result, retrain = score(str(clean), params_path=str(project / "params.yaml"))
    assert not result.refused and not result.drift.is_drifted and retrain is None
    scored = pd.read_parquet(result.out_dir / "predictions.parquet")
    assert len(scored) == 150 and set(scored["model_version"]) == {"1"}
    assert set(scored["input_sha256"]) == {result.input_sha256} and scored["prediction"].between(0, 9).all()
    assert (result.out_dir / "report.json").is_file()


@pytest.mark.slow
def test_corrupt_batch_is_refused_before_scoring(trained, tmp_path: Path):
    project, params, test = trained
    bad = test.head(50).copy()
    bad.loc[3, "pixel_9"] = 300
    with pytest.raises(DataValidationError, match=r"corrupt.parquet: 1 values fail .*\(pixel_9: rows 3\)"):
        score(str(write(bad, tmp_path / "corrupt.parquet")), params_path=str(project / "params.yaml"))
    assert not list(params.paths.scores.glob("corrupt-*/predictions.parquet"))


@pytest.mark.slow
def test_drifted_batch_is_refused_and_can_trigger_retraining(trained, tmp_path: Path):
    project, params, test = trained
    inverted = 255 - test.head(150)  # valid pixels, a very different population
    path = write(inverted, tmp_path / "inverted.parquet")
    result, retrain = score(str(path), params_path=str(project / "params.yaml"), retrain_on_drift=True)
    assert result.refused and result.drift.drifted_fraction > 0.5 and result.predictions is None
    assert retrain is not None and set(retrain.values()) == {"skipped"}, "the retrain hook ran the pipeline"

    cli = CliRunner().invoke(app, ["score", str(path), "--params", str(project / "params.yaml")])
    assert cli.exit_code == 2 and "REFUSED (drift)" in cli.output and "PSI" in cli.output
