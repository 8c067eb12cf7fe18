"""`cleargate stability` end to end on tiny digits: a real subprocess chain (CLI -> Prefect flow -> process
pool), a real SQLite MLflow store, the summary file, the gate that reads it, and the leaderboard."""

import json
import os
import shutil
import sys
from pathlib import Path

import pandas as pd
import pytest
from mlflow.tracking import MlflowClient

from cleargate.records import Evaluation, GateDecision, StabilitySummary
from cleargate.stages import clean, evaluate, gate, ingest, split, train, validate
from tests.projects import ROOT, load_params, run, tiny_params, write_params


@pytest.mark.slow
def test_stability_measures_three_seeds_logs_them_nested_and_the_gate_blocks_a_lucky_score(tmp_path: Path):
    config = tiny_params()
    config["train"] = {"rf": {**config["train"]["rf"], "role": "candidate"}}   # a tree: seconds per fit
    config["datasets"]["digits"]["gates"].update({"must_beat_baselines": False, "max_seed_std": {"macro_f1": 1e-6}})
    path = write_params(tmp_path / "params.yaml", config)
    shutil.copytree(ROOT / "flows", tmp_path / "flows", ignore=shutil.ignore_patterns("__pycache__"))
    params = load_params(path)
    for stage in (ingest, validate, clean, split):
        stage.run(params)
    train.run(params, "rf")
    registered = evaluate.run(params, "rf")
    assert set(registered.robustness or {}) == {"shift", "noise"}, "evaluate measures each perturbation"
    before = GateDecision.load(params.layout.gate) if gate.run(params) else None
    missing = {c.name: c for c in before.candidates["rf"].checks}["seed_std_macro_f1"]
    assert not missing.passed and missing.detail == ("no seed-stability summary: run `cleargate stability rf "
                                                     "--seeds N`"), "configured, no evidence: fails, says how"

    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    result = run([sys.executable, "-c", "from cleargate.cli import app; app()", "stability", "rf", "--seeds", "3",
                  "--strict", "--params", str(path)], tmp_path, check=False, env=env, timeout=300)
    assert result.returncode == 3, result.stdout + result.stderr
    assert "blocked: rf fails seed_std_macro_f1" in result.stderr and "Traceback" not in result.stderr
    assert "gate seed_std_macro_f1 <= 1e-06: FAIL" in result.stdout

    summary = StabilitySummary.load(params.layout.model("rf").stability)
    assert summary.seeds == [42, 43, 44] and len(summary.metrics["macro_f1"].values) == 3
    assert summary.metrics["macro_f1"].std > 1e-6, "three trees: the seed shows"
    assert summary.metrics["macro_f1"].values[0] == pytest.approx(registered.macro_f1), "seed 42 is the registered fit"
    assert {"robust_shift", "robust_noise", "accuracy", "ece"} <= set(summary.metrics)
    assert Evaluation.load(params.layout.model("rf").metrics) == registered, "the registered outputs are untouched"

    client = MlflowClient(params.tracking.uri)
    parent = client.get_run(summary.run_id)
    assert parent.info.status == "FINISHED" and parent.info.run_name == "stability-rf"
    assert parent.data.metrics["macro_f1_std"] == pytest.approx(summary.metrics["macro_f1"].std)
    children = client.search_runs([parent.info.experiment_id], f"tags.mlflow.parentRunId = '{summary.run_id}'")
    assert sorted(int(c.data.params["seed"]) for c in children) == [42, 43, 44]
    assert all("test_macro_f1" in c.data.metrics and c.info.status == "FINISHED" for c in children)

    after = {c.name: c for c in GateDecision.load(params.layout.gate).candidates["rf"].checks}
    assert not after["seed_std_macro_f1"].passed and after["seed_std_macro_f1"].value == pytest.approx(
        summary.metrics["macro_f1"].std), "the flow re-ran the gate with the new summary"
    board = pd.read_csv(params.layout.leaderboard_csv).set_index("model")
    assert board.loc["rf", "seeds"] == 3 and board.loc["rf", "seed_std"] == pytest.approx(
        summary.metrics["macro_f1"].std) and board.loc["rf", "robust_drop"] == pytest.approx(
        registered.macro_f1 - min(registered.robustness.values()))
    assert "seed_std" in json.loads(params.layout.leaderboard_json.read_text())["rf"]

    config["train"]["rf"]["n_estimators"] = 4   # another model: the summary no longer describes it
    stale = load_params(write_params(path, config))
    gate.run(stale)
    check = {c.name: c for c in GateDecision.load(stale.layout.gate).candidates["rf"].checks}["seed_std_macro_f1"]
    assert not check.passed and "stale" in check.detail


@pytest.mark.slow
def test_the_pipeline_measures_seeds_before_the_gate_and_skips_them_when_current(tmp_path: Path, capsys):
    """`python flows/pipeline.py --stability-seeds 2`: the candidate's seeds run through the flow's pool after its
    fit and before its dataset's gate, whose verdict then reads the summary; a second run finds it current."""
    from flows.pipeline import main
    from tests.projects import make_project

    config = tiny_params()
    config["train"] = {"rf": {**config["train"]["rf"], "role": "candidate"}}
    config["datasets"]["digits"]["gates"].update({"must_beat_baselines": False, "max_seed_std": {"macro_f1": 1.0}})
    project = make_project(tmp_path, config)
    assert main(["--params", str(project / "params.yaml"), "--stability-seeds", "2"]) == 0
    out = capsys.readouterr().out
    assert "stability@rf: 2 seeds in" in out, out
    assert out.index("train@rf") < out.index("stability@rf") < out.index("gate@digits"), out
    params = load_params(project / "params.yaml")
    summary = StabilitySummary.load(params.layout.model("rf").stability)
    check = {c.name: c for c in GateDecision.load(params.layout.gate).candidates["rf"].checks}["seed_std_macro_f1"]
    assert summary.seeds == [42, 43] and check.passed and check.value == pytest.approx(
        summary.metrics["macro_f1"].std), "the gate read the summary measured in this run"
    assert main(["--params", str(project / "params.yaml"), "--stability-seeds", "2"]) == 0
    assert "stability@rf: current (2 seeds), skipped" in capsys.readouterr().out
