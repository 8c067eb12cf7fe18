"""Seed stability: the summary maths, the max_seed_std gate (pass, block, missing and stale evidence), and the
leaderboard and model-card figures."""

import numpy as np
import pytest

from cleargate.config.judging import ChampionGate, GateThresholds
from cleargate.evaluation.gates import evaluate_gates, seed_std
from cleargate.evaluation.leaderboard import leaderboard, leaderboard_markdown, leaderboard_metrics
from cleargate.evaluation.seed_spread import SeedEvidence, spread, stability_seeds, summarise
from cleargate.records import Evaluation, StabilitySummary

GATES = GateThresholds(must_beat_baselines=False, max_latency_p95_ms_single=50, max_latency_p95_ms_batch=500,
                       max_model_size_mb=50, latency_batch_size=256, latency_repeats=30,
                       champion=ChampionGate(metric="macro_f1", margin=0.01, n_resamples=1000, confidence=0.95),
                       max_seed_std={"macro_f1": 0.01, "accuracy": 0.02})
METRICS = {"macro_f1": 0.95, "accuracy": 0.95, "ece": 0.0, "per_class_recall": {"0": 1.0}}


def summary(values: dict[int, dict[str, float]], model: str = "rf") -> StabilitySummary:
    return StabilitySummary(model=model, dataset="digits", seeds=sorted(values), fingerprint="f",
                            metrics=summarise(values), seconds=1.0)


def test_spread_is_mean_sample_std_and_range():
    s = spread([0.90, 0.92, 0.97])
    assert s.mean == pytest.approx(0.93) and s.std == pytest.approx(np.std([0.90, 0.92, 0.97], ddof=1))
    assert (s.min, s.max, s.range) == (0.90, 0.97, pytest.approx(0.07)) and s.values == [0.90, 0.92, 0.97]
    assert spread([0.5]).std == 0.0, "one seed: no spread, not NaN"
    assert spread([0.8, 0.8, 0.8]).std == 0.0


def test_summarise_keeps_metrics_every_seed_has_in_seed_order():
    per_seed = {44: {"accuracy": 0.9, "macro_f1": 0.8}, 42: {"accuracy": 0.7, "macro_f1": 0.6, "robust_noise": 0.5},
                43: {"accuracy": 0.8, "macro_f1": 0.7}}
    result = summarise(per_seed)
    assert sorted(result) == ["accuracy", "macro_f1"], "robust_noise is missing for two seeds"
    assert result["accuracy"].values == [0.7, 0.8, 0.9] and result["accuracy"].mean == pytest.approx(0.8)
    assert stability_seeds(42, 3) == [42, 43, 44], "the project seed first: seed 42 is the registered model's"


def test_seed_std_gate_passes_and_blocks_per_metric():
    steady = summary({42: {"macro_f1": 0.95, "accuracy": 0.95}, 43: {"macro_f1": 0.951, "accuracy": 0.96}})
    checks = {c.name: c for c in seed_std(SeedEvidence("rf", steady), GATES.max_seed_std)}
    assert set(checks) == {"seed_std_macro_f1", "seed_std_accuracy"} and all(c.passed for c in checks.values())
    assert "2 seeds: mean 0.9505 +- 0.0007" in checks["seed_std_macro_f1"].detail
    lucky = summary({42: {"macro_f1": 0.95, "accuracy": 0.95}, 43: {"macro_f1": 0.90, "accuracy": 0.955}})
    report = evaluate_gates("rf", METRICS, {}, GATES, "macro_f1", seeds=SeedEvidence("rf", lucky))
    assert [c.name for c in report.failed] == ["seed_std_macro_f1"], "accuracy's std is within its limit"
    assert report.failed[0].value == pytest.approx(np.std([0.95, 0.90], ddof=1))


def test_seed_std_gate_fails_closed_and_names_the_command_without_a_current_summary():
    for evidence, why in ((None, "no seed-stability summary"), (SeedEvidence("rf", None), "no seed-stability summary"),
                          (SeedEvidence("rf", summary({42: {"accuracy": 1.0}, 43: {"accuracy": 1.0}}), stale=True),
                           "stale")):
        report = evaluate_gates("rf", METRICS, {}, GATES, "macro_f1", seeds=evidence)
        failed = {c.name: c for c in report.failed}
        assert set(failed) == {"seed_std_macro_f1", "seed_std_accuracy"}
        assert why in failed["seed_std_macro_f1"].detail
        assert "run `cleargate stability rf --seeds N`" in failed["seed_std_macro_f1"].detail
        assert "\n" not in failed["seed_std_macro_f1"].detail, "one line"
    partial = seed_std(SeedEvidence("rf", summary({42: {"accuracy": 1.0}, 43: {"accuracy": 1.0}})),
                       {"macro_f1": 0.5})
    assert not partial[0].passed and "missing from the seed-stability summary" in partial[0].detail
    off = evaluate_gates("rf", METRICS, {}, GATES.model_copy(update={"max_seed_std": {}}), "macro_f1")
    assert not [c for c in off.checks if c.name.startswith("seed_std")], "off unless params.yaml sets it"


def evaluation(name: str, f1: float, robustness: dict[str, float] | None) -> Evaluation:
    return Evaluation(model=name, dataset="digits", role="candidate", family="random_forest", fit_seconds=1.0,
                      size_bytes=10**6, accuracy=f1, balanced_accuracy=f1, macro_f1=f1, roc_auc=0.99, pr_auc=0.99,
                      log_loss=0.1, ece=0.01, min_class_recall=0.9, per_class_recall={"0": 0.9},
                      confusion_matrix=[[1]], n_test=10, robustness=robustness)


def test_leaderboard_shows_robustness_and_seed_spread_when_measured():
    evaluations = {"rf": evaluation("rf", 0.95, {"shift": 0.80, "noise": 0.93}), "hgb": evaluation("hgb", 0.90, None)}
    stable = summary({42: {"macro_f1": 0.94}, 43: {"macro_f1": 0.96}, 44: {"macro_f1": 0.95}})
    board = leaderboard(evaluations, "macro_f1", stability={"rf": stable})
    rf = board.set_index("model").loc["rf"]
    assert rf["worst_perturbed"] == 0.80 and rf["robust_drop"] == pytest.approx(0.15)
    assert rf["seed_mean"] == pytest.approx(0.95) and rf["seed_std"] == pytest.approx(0.01) and rf["seeds"] == 3
    assert np.isnan(board.set_index("model").loc["hgb", "seed_std"]), "no summary, no figure"
    assert evaluations["rf"].scalars()["robust_shift"] == 0.80, "logged to MLflow as test_robust_shift"
    text = leaderboard_markdown(board, "digits")
    lines = [[c.strip() for c in line.split("|")[1:-1]] for line in text.splitlines()[2:]]
    rows = {cells[1]: dict(zip(lines[0], cells, strict=True)) for cells in lines[2:]}
    assert rows["rf"]["seeds"] == "3" and rows["rf"]["seed_std"] == "0.0100"
    assert rows["hgb"]["seed_std"] == "-", "not measured: a dash, not nan"
    metrics = leaderboard_metrics(board, "macro_f1")
    assert metrics["rf"]["seed_std"] == pytest.approx(0.01) and "seed_std" not in metrics["hgb"]


def test_model_card_shows_robustness_next_to_the_clean_figure_and_the_seed_spread(tmp_path):
    from cleargate.release.modelcard import robustness_lines, stability_lines
    from tests.projects import load_params, tiny_params, write_params

    params = load_params(write_params(tmp_path / "params.yaml", tiny_params()))   # robustness: shift 2, noise 0.1
    lines = robustness_lines(params, evaluation("rf", 0.95, {"shift": 0.80, "noise": 0.93}))
    assert lines[2:] == ["| none | - | 0.9500 | - |", "| shift | 2 | 0.8000 | +0.1500 |",
                         "| noise | 0.1 | 0.9300 | +0.0200 |"]
    assert "not measured" in robustness_lines(params, evaluation("rf", 0.95, None))[0]
    card = stability_lines(summary({42: {"macro_f1": 0.94, "accuracy": 0.9}, 43: {"macro_f1": 0.96, "accuracy": 0.9}}))
    assert card[0] == "Fitted with 2 seeds (42, 43), same data and params:"
    assert "| accuracy | 0.9000 | 0.0000 | 0.9000 | 0.9000 |" in card and "| macro_f1 | 0.9500 | 0.0141 |" in card[-1]
    assert "cleargate stability" in stability_lines(None)[0]


def test_cli_refuses_bad_input_in_one_line_before_starting_anything(tmp_path):
    from typer.testing import CliRunner

    from cleargate.cli import app
    from tests.projects import tiny_params, write_params

    path = write_params(tmp_path / "params.yaml", tiny_params())
    cases = {("nope", "3"): (2, "unknown model 'nope': params.yaml train defines cnn, hgb, rf"),
             ("rf", "1"): (2, "--seeds 1: a spread needs at least 2 seeds"),
             ("rf", "3"): (4, "train.parquet: not found; split dataset 'digits' first")}  # usage 2, refused 4
    for (model, seeds), (code, message) in cases.items():
        result = CliRunner().invoke(app, ["stability", model, "--seeds", seeds, "--params", str(path)])
        assert result.exit_code == code and message in result.output, result.output
        assert len(result.output.strip().splitlines()) == 1 and "Traceback" not in result.output
