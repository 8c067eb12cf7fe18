"""Batch scoring on a real project (tiny digits, real MLflow SQLite store, real files, real `cleargate score`
processes): a clean batch is scored chunk by chunk, a corrupt one and a drifted one are refused with one line
and exit 2, every batch is an MLflow run, outputs never collide, and a bad model reference is one line."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from cleargate.cli import app
from cleargate.errors import CleargateError, DataValidationError
from cleargate.tracking import connect, registry
from flows.scoring import score
from tests.projects import load_params

NAME = "digits-classifier"
CLI = "from cleargate.cli import app; app()"


@pytest.fixture(scope="module")
def trained(tmp_path_factory, golden_digits):
    project = golden_digits.clone(tmp_path_factory.mktemp("scoring"))
    params = load_params(project / "params.yaml")
    test = pd.read_parquet(params.layout.split("test")).drop(columns="label")
    return project, params, test


def write(frame: pd.DataFrame, path: Path) -> Path:
    frame.to_parquet(path)
    return path


def drawn(test: pd.DataFrame, rows: int, seed: int = 0) -> pd.DataFrame:
    """A larger batch from the same population: test rows drawn with replacement."""
    return test.iloc[np.random.default_rng(seed).integers(0, len(test), rows)].reset_index(drop=True)


def cleargate(project: Path, *args: str, **kw) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", CLI, *args, "--params", str(project / "params.yaml")],
                          cwd=project, capture_output=True, text=True, timeout=300, **kw)


def scoring_runs(params, **tags: str) -> list:
    client = connect(params)
    experiment = client.get_experiment_by_name(f"{params.experiment}-scoring")
    where = " and ".join(f"tags.{k} = '{v}'" for k, v in tags.items())
    return client.search_runs([experiment.experiment_id], where) if experiment else []


def with_scoring(params, **changes):
    return params.model_copy(update={"scoring": params.scoring.model_copy(update=changes)})


@pytest.mark.slow
def test_clean_batch_is_scored_with_model_version_and_input_hash(trained, tmp_path: Path):
    project, params, test = trained
    clean = write(test.head(150), tmp_path / "clean.parquet")
    result, retrain = score(str(clean), params_path=str(project / "params.yaml"))
    assert not result.refused and not result.drift.is_drifted and retrain is None
    scored = pd.read_parquet(result.out_dir / "predictions.parquet")
    assert len(scored) == 150 and set(scored["model_version"]) == {"1"} and list(scored["row"]) == list(range(150))
    assert set(scored["input_sha256"]) == {result.input_sha256} and scored["prediction"].between(0, 9).all()
    assert (result.out_dir / "report.json").is_file()
    assert result.out_dir == params.paths.scores / f"clean-{result.input_sha256[:12]}" / f"{NAME}-v1"
    assert scoring_runs(params, input_sha256=result.input_sha256, outcome="scored")


@pytest.mark.slow
def test_chunks_give_the_predictions_and_drift_statistics_of_one_pass(trained, tmp_path: Path):
    _, params, test = trained
    from cleargate.scoring import score_file

    batch = write(drawn(test, 1000), tmp_path / "big.parquet")
    one = score_file(with_scoring(params, chunk_rows=5000), batch, f"{NAME}@champion", connect(params))
    whole = one.predictions
    many = score_file(with_scoring(params, chunk_rows=128), batch, f"{NAME}@champion", connect(params))
    assert many.drift == one.drift and many.validation.passed and many.n_rows == 1000
    pd.testing.assert_frame_equal(many.predictions, whole)


@pytest.mark.slow
def test_corrupt_batch_is_refused_before_scoring_and_logged(trained, tmp_path: Path):
    project, params, test = trained
    bad = test.head(50).copy()
    bad.loc[3, "pixel_9"] = 300
    with pytest.raises(DataValidationError, match=r"corrupt.parquet: 1 values fail .*\(pixel_9: rows 3\)") as info:
        score(str(write(bad, tmp_path / "corrupt.parquet")), params_path=str(project / "params.yaml"))
    assert "\n" not in str(info.value), "one line"
    assert not list(params.paths.scores.glob("corrupt-*/*/predictions.parquet"))
    (folder,) = params.paths.scores.glob("corrupt-*/*/")
    assert (folder / "report.json").is_file() and (folder / "validation" / "index.html").is_file()
    (run,) = scoring_runs(params, input_sha256=info.value.result.input_sha256)
    assert run.data.tags["outcome"] == "refused: validation" and "pixel_9: rows 3" in run.data.tags["reason"]


@pytest.mark.slow
def test_drifted_batch_is_refused_and_can_trigger_retraining(trained, tmp_path: Path):
    project, params, test = trained
    inverted = 255 - test.head(150)  # valid pixels, a very different population
    path = write(inverted, tmp_path / "inverted.parquet")
    result, retrain = score(str(path), params_path=str(project / "params.yaml"), retrain_on_drift=True)
    assert result.refused and result.drift.drifted_fraction > 0.5 and result.predictions is None
    assert retrain is not None and set(retrain.values()) == {"skipped"}, "the retrain hook ran the pipeline"
    assert not (result.out_dir / "predictions.parquet").exists()

    cli = CliRunner().invoke(app, ["score", str(path), "--params", str(project / "params.yaml")])
    assert cli.exit_code == 4 and "REFUSED (drift)" in cli.output and "PSI" in cli.output


@pytest.mark.slow
@pytest.mark.parametrize(("change", "expected"), [
    (lambda f: f.drop(columns=["pixel_10"]), "expect_table_columns_to_match_set(64 columns) failed"),
    (lambda f: f.assign(pixel_5=f["pixel_5"].astype("float64").where(f.index != 7, np.nan)),
     "(pixel_5: rows 7)"),
    (lambda f: f.astype("float64"), "cannot take rows 0..59: Incompatible input types for column pixel_0"),
])
def test_a_refused_batch_is_one_line_and_exit_2_from_the_command(trained, tmp_path: Path, change, expected):
    project, params, test = trained
    champion = registry.alias_version(connect(params), NAME, "champion")
    path = write(change(test.head(60)), tmp_path / "refused.parquet")
    done = cleargate(project, "score", str(path))
    assert done.returncode == 4 and done.stdout == ""  # refused input (cleargate.errors)
    assert len(done.stderr.splitlines()) == 1, done.stderr
    (line,) = done.stderr.splitlines()
    assert line.startswith(f"error: {path}: ") and expected in line and "Traceback" not in done.stderr, line
    assert not list(params.paths.scores.glob("refused-*/*/predictions.parquet"))
    assert registry.alias_version(connect(params), NAME, "champion") == champion, "nothing changed"


@pytest.mark.slow
def test_a_bad_model_reference_is_one_line_in_well_under_a_second(trained, tmp_path: Path):
    project, params, test = trained
    from cleargate.scoring import score_file

    path = write(test.head(20), tmp_path / "refs.parquet")
    client = connect(params)
    started = time.perf_counter()
    with pytest.raises(CleargateError, match=rf"^no version 999 of {NAME}; versions: 1(-\d+)?; aliases: champion -> "):
        score_file(params, path, f"{NAME}/999", client)
    assert time.perf_counter() - started < 1.0
    for ref, expected in ((f"{NAME}/999", f"no version 999 of {NAME}; versions: "),
                          (f"{NAME}/abc", f"no version abc of {NAME}; versions: "),
                          (f"{NAME}@best", f"no alias 'best' of {NAME}; versions: ")):
        done = cleargate(project, "score", str(path), "--model", ref)
        assert done.returncode == 2 and done.stdout == "" and len(done.stderr.splitlines()) == 1, done.stderr
        assert done.stderr.startswith(f"error: {expected}") and "aliases: champion -> " in done.stderr
    assert not list(params.paths.scores.glob("refs-*")), "nothing was written"


@pytest.mark.slow
def test_outputs_are_keyed_by_model_version_and_replaced_whole(trained, tmp_path: Path):
    _, params, test = trained
    from cleargate.scoring import BatchRefused, score_file

    client = connect(params)
    v1 = client.get_model_version(NAME, "1")
    v2 = str(client.create_model_version(NAME, v1.source, run_id=v1.run_id).version)  # the same model, again
    batch = write(test.head(100), tmp_path / "shared.parquet")
    first = score_file(params, batch, f"{NAME}/1", client)
    second = score_file(params, batch, f"{NAME}/{v2}", client)
    assert first.out_dir != second.out_dir and first.out_dir.parent == second.out_dir.parent
    assert set(first.predictions["model_version"]) == {"1"} and set(second.predictions["model_version"]) == {v2}

    strict = params.model_copy(update={"drift": params.drift.model_copy(update={"psi_threshold": 1e-9,
                                                                                 "max_drifted_fraction": 0.0})})
    refused = score_file(strict, batch, f"{NAME}/1", client)  # the same input and version, refused this time
    assert refused.refused and refused.out_dir == first.out_dir
    assert not (first.out_dir / "predictions.parquet").exists(), "no predictions of another run stay beside it"
    assert '"outcome": "refused: drift"' in (first.out_dir / "report.json").read_text()
    assert set(second.predictions["model_version"]) == {v2}, "the other version's folder is untouched"

    bad = test.head(100).copy()
    bad.loc[0, "pixel_1"] = -5
    with pytest.raises(BatchRefused):
        score_file(params, write(bad, tmp_path / "shared.parquet"), f"{NAME}/{v2}", client)
    assert set(second.predictions["model_version"]) == {v2}, "another input never lands in this folder"
    assert not [p for p in params.paths.scores.rglob("*.tmp")], "no temp folder is left"


@pytest.mark.slow
def test_kill_9_mid_prediction_keeps_the_previous_result(trained, tmp_path: Path):
    project, params, test = trained
    path = write(drawn(test, 20_000, seed=3), tmp_path / "long.parquet")
    project_params = project / "params.yaml"
    text = project_params.read_text()
    project_params.write_text(text.replace("chunk_rows: 5000", "chunk_rows: 200"))
    try:
        assert cleargate(project, "score", str(path)).returncode == 0
        (folder,) = params.paths.scores.glob("long-*/*/")
        before = {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}
        proc = subprocess.Popen([sys.executable, "-c", CLI, "score", str(path), "--params", str(project_params)],
                                cwd=project, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 240
        while not list(folder.parent.glob(".*.tmp/predictions.parquet")) and proc.poll() is None:
            assert time.monotonic() < deadline
            time.sleep(0.02)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        assert {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()} == before, "nothing lost"
        assert cleargate(project, "score", str(path)).returncode == 0, "the next run goes through"
        assert not list(folder.parent.glob(".*.tmp")), "and clears the dead run's temp folder"
    finally:
        project_params.write_text(text)


@pytest.mark.slow
def test_a_clean_batch_starts_neither_great_expectations_nor_a_second_params_read(trained, tmp_path: Path):
    project, _, test = trained
    path = write(test.head(150), tmp_path / "lean.parquet")
    code = ("import sys; from cleargate.cli import app\n"
            f"try: app(['score', '{path}', '--params', '{project / 'params.yaml'}'])\n"
            "except SystemExit as e: print('exit', e.code)\n"
            "print('ge', 'great_expectations' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], cwd=project, capture_output=True, text=True, timeout=300)
    assert "exit 0" in done.stdout and "ge False" in done.stdout, done.stdout + done.stderr


@pytest.mark.slow
def test_the_scoring_benchmark_runs_at_a_tiny_size(trained, tmp_path: Path):
    project, _, _ = trained
    from benchmarks.scoring_scale import score_sizes, startup, table

    results = score_sizes(project / "params.yaml", [200, 2000], tmp_path)
    print(table(results))
    assert [r["rc"] for r in results] == [0, 0] and all(r["peak_mb"] > 0 for r in results)
    assert results[1]["peak_mb"] < results[0]["peak_mb"] + 150, "memory does not follow the batch"
    start = startup(project / "params.yaml", tmp_path)
    assert start["bad_ref_rc"] == 2 and start["bad_ref_line"].startswith("error: no version 999")
