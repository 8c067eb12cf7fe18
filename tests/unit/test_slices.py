"""Judging by subgroup: slices cut by value, band and patient; the primary metric per slice with its interval; a
candidate fine overall and poor on one slice is blocked, its verdict naming the slice; a slice under min_rows is
reported and never gates; the slice gates fail closed."""

import math

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

from cleargate.config.judging import ChampionGate, GateThresholds, SlicesConfig, SliceSpec
from cleargate.errors import DataError
from cleargate.evaluation.bootstrap import Difference
from cleargate.evaluation.gates import ChampionComparison, ReleaseEvidence, evaluate_gates
from cleargate.evaluation.metrics import classification_metrics, metric_score
from cleargate.evaluation.slice_gates import max_slice_gap, min_slice, slice_vs_champion
from cleargate.evaluation.slices import MISSING, slice_report, slice_values
from cleargate.records import Predictions, SliceFigure, SliceReport
from cleargate.release.promotion import failed_reason

GATES = GateThresholds(minimum={"pr_auc": 0.8}, must_beat_baselines=False, max_latency_p95_ms_single=50,
                       max_latency_p95_ms_batch=500, max_model_size_mb=50, latency_batch_size=16, latency_repeats=3,
                       champion=ChampionGate(metric="balanced_accuracy", margin=0.02, n_resamples=200,
                                             confidence=0.95),
                       min_slice=0.7)
FINE = {"pr_auc": 0.9, "ece": 0.01, "per_class_recall": {"0": 0.9, "1": 0.9}}   # overall evidence that passes
SLICES = SlicesConfig(by={"site": SliceSpec(column="site"), "age": SliceSpec(column="age", bands=[0, 18, 65, 120])},
                      min_rows=30, n_resamples=100, confidence=0.95)


def test_slices_by_value_band_and_group():
    frame = pd.DataFrame({"site": ["a", None, "b"], "age": [17.9, 120.0, 130.0], "group": [7, 7, 9]})
    assert list(slice_values(frame, SliceSpec(column="site"), "t")) == ["a", MISSING, "b"]
    bands = slice_values(frame, SliceSpec(column="age", bands=[0, 18, 65, 120]), "t")
    assert list(bands) == ["0-18", "65-120", MISSING], "[a, b) bands, the last one closed, outside: missing"
    assert list(slice_values(frame, SliceSpec(group=True), "t")) == ["7", "7", "9"]
    with pytest.raises(DataError, match="column 'site' holds values that are not numbers"):
        slice_values(frame, SliceSpec(column="site", bands=[0, 1]), "test.parquet")
    with pytest.raises(DataError, match="test.parquet: no column 'gender' to slice by"):
        slice_values(frame, SliceSpec(column="gender"), "test.parquet")


def test_a_slice_metric_is_the_evaluation_metric_on_its_rows_and_undefined_without_both_classes():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 300)
    proba = np.clip(np.c_[1 - y * 0.6, y * 0.6] + rng.random((300, 2)) * 0.5, 0, None)
    proba /= proba.sum(axis=1, keepdims=True)
    full = classification_metrics(y, proba, [0, 1], 1, 10)
    for name in ("accuracy", "balanced_accuracy", "macro_f1", "roc_auc", "pr_auc", "positive_recall"):
        assert metric_score(name, y, proba, [0, 1], 1) == pytest.approx(full[name]), name
    negatives = y == 0
    assert math.isnan(metric_score("pr_auc", y[negatives], proba[negatives], [0, 1], 1))
    assert math.isnan(metric_score("roc_auc", y[negatives], proba[negatives], [0, 1], 1))


def crafted() -> tuple[pd.DataFrame, Predictions]:
    """A real classifier that is right at sites a and b and wrong at site c (its relation there is inverted), plus
    site d: 10 rows, all wrong, too few to judge."""
    rng = np.random.default_rng(1)
    sites = np.repeat(["a", "b", "c", "d"], [400, 300, 120, 10])
    x = rng.normal(size=len(sites))
    y = (x + rng.normal(scale=0.3, size=len(sites)) > 0).astype(int)
    flipped = np.isin(sites, ["c", "d"])
    fitted = LogisticRegression().fit(x[~flipped, None], y[~flipped])
    y[flipped] = 1 - y[flipped]
    frame = pd.DataFrame({"site": sites, "age": rng.uniform(0, 100, len(sites)), "label": y})
    return frame, Predictions(y, fitted.predict_proba(x[:, None]), [0, 1])


def test_a_candidate_fine_overall_and_poor_on_one_slice_is_blocked_naming_the_slice():
    frame, predictions = crafted()
    overall = classification_metrics(predictions.y_true, predictions.proba, [0, 1], 1, 10)
    report = slice_report(frame, predictions, 1, "pr_auc", SLICES, seed=42, where="test.parquet")
    figures = {f.name: f for f in report.figures}
    assert overall["pr_auc"] > 0.8, "fine overall"
    assert figures["site=c"].judged and figures["site=c"].metric < 0.5 < figures["site=a"].metric
    low, high = figures["site=c"].low, figures["site=c"].high
    assert low is not None and high is not None and low <= figures["site=c"].metric <= high, "its bootstrap interval"
    small = figures["site=d"]
    assert not small.judged and small.rows == 10 and small.note == "10 rows < min_rows 30" and small.low is None
    assert set(figures["site=a"].recall) == {"0", "1"}, "recall of each class the slice holds"

    verdict = evaluate_gates("crafted", {**overall, "slices": report.model_dump()}, {}, GATES, "pr_auc")
    failed = {c.name: c for c in verdict.failed}
    assert list(failed) == ["min_slice"], "the overall gates pass; the slice gate blocks"
    assert failed["min_slice"].slice_name == "site=c" and "worst slice site=c" in failed["min_slice"].detail
    assert failed_reason(verdict) == "failed gate(s): min_slice (site=c)"
    assert "1 of" in failed["min_slice"].detail and "not gated" in failed["min_slice"].detail

    without_c = frame["site"] != "c"
    kept = Predictions(predictions.y_true[without_c], predictions.proba[without_c], [0, 1])
    by_site = SLICES.model_copy(update={"by": {"site": SliceSpec(column="site")}})
    report = slice_report(frame[without_c].reset_index(drop=True), kept, 1, "pr_auc", by_site, 42, "t")
    assert evaluate_gates("crafted", {**FINE, "slices": report.model_dump()}, {}, GATES, "pr_auc").passed, \
        "site d, 10 rows all wrong, is reported and never blocks"


def figure(slicing: str, value: str, metric: float | None, rows: int = 100, judged: bool = True) -> SliceFigure:
    return SliceFigure(slicing=slicing, value=value, rows=rows, metric=metric, judged=judged)


def test_the_gap_is_within_one_slicing_and_the_slice_gates_fail_closed():
    report = SliceReport(metric="macro_f1", min_rows=30, n_resamples=100, confidence=0.95, figures=[
        figure("patient", "1", 0.9), figure("patient", "2", 0.55), figure("age", "0-18", 0.3, rows=5, judged=False),
        figure("gender", "f", 0.8)])
    gap = max_slice_gap(report, 0.3)
    assert not gap.passed and gap.value == pytest.approx(0.35) and gap.slice_name == "patient=2"
    assert "patient=1 0.9000 vs patient=2 0.5500" in gap.detail
    assert max_slice_gap(report, 0.4).passed
    assert min_slice(report, 0.5).passed and min_slice(report, 0.5).value == 0.55, "the small slice is not judged"
    assert not min_slice(None, 0.5).passed and "set evaluate.slices" in min_slice(None, 0.5).detail
    nothing = SliceReport(metric="macro_f1", min_rows=30, n_resamples=100, confidence=0.95,
                          figures=[figure("patient", "1", None, judged=False)])
    assert not min_slice(nothing, 0.5).passed and not max_slice_gap(nothing, 0.5).passed
    bad = evaluate_gates("m", {**FINE, "slices": {"figures": "not a report"}}, {}, GATES, "pr_auc")
    assert not bad.passed and bad.failed[0].name == "min_slice", "unreadable slice evidence fails"


def test_no_slice_may_be_significantly_worse_than_under_the_champion():
    def diff(delta: float, high: float) -> Difference:
        return Difference("balanced_accuracy", 0.8 + delta, 0.8, delta, delta - 0.1, high, 0.95, 200)

    same = {"site=a": diff(0.01, 0.05), "site=b": diff(-0.04, 0.02)}
    assert slice_vs_champion("3", same).passed, "worse within its interval"
    worse = slice_vs_champion("3", {**same, "site=c": diff(-0.2, -0.05)})
    assert not worse.passed and worse.slice_name == "site=c" and worse.detail.startswith("1 of 3 slices worse")
    nan = slice_vs_champion("3", {"site=a": diff(0.0, float("nan"))})
    assert not nan.passed and nan.value is None, "a NaN bound is not a pass"
    assert slice_vs_champion(None, {}).passed and not slice_vs_champion("3", {}).passed
    gates = GATES.model_copy(update={"min_slice": None, "slice_vs_champion": True})
    ops = {"latency_p95_ms_single": 1.0, "latency_p95_ms_batch": 1.0, "model_size_mb": 1.0}
    champion = ChampionComparison("3", Difference("balanced_accuracy", 0.8, 0.8, 0, -0.01, 0.01, 0.95, 200),
                                  slices={"site=c": diff(-0.2, -0.05)})
    report = evaluate_gates("m", FINE, {}, gates, "pr_auc", ReleaseEvidence(ops, champion))
    assert failed_reason(report) == "failed gate(s): slice_vs_champion (site=c)"


def test_slices_read_columns_the_kind_keeps_and_slice_gates_need_slices(tmp_path):
    from cleargate.errors import ConfigError
    from cleargate.params import load_project
    from tests.projects import tiny_params, write_params

    def load(edit) -> None:
        params = tiny_params("breast_cancer", "rehab")
        edit(params["datasets"])
        load_project(write_params(tmp_path / "params.yaml", params))

    def slices(by: dict) -> dict:
        return {"by": by, "min_rows": 10, "n_resamples": 50, "confidence": 0.9}

    load(lambda d: None)
    with pytest.raises(ConfigError, match=r"evaluate\.slices\.by\.sex: tabular dataset 'breast_cancer' keeps no "
                                          r"column 'sex'.*data\.attributes"):
        load(lambda d: d["breast_cancer"]["evaluate"].update(slices=slices({"sex": {"column": "sex"}})))
    with pytest.raises(ConfigError, match="'breast_cancer' has no groups"):
        load(lambda d: d["breast_cancer"]["evaluate"].update(slices=slices({"p": {"group": True}})))
    with pytest.raises(ConfigError, match="image dataset 'digits' keeps no column 'label'"):
        load(lambda d: d["digits"]["evaluate"].update(slices=slices({"digit": {"column": "label"}})))
    with pytest.raises(ConfigError, match=r"gates: min_slice judge slices, but datasets\.digits\.evaluate\.slices"):
        load(lambda d: d["digits"]["gates"].update(min_slice=0.5))
    with pytest.raises(ConfigError, match="bands are strictly ascending"):
        load(lambda d: d["breast_cancer"]["evaluate"].update(
            slices=slices({"size": {"column": "mean_radius", "bands": [15, 12]}})))
    load(lambda d: d["rehab"]["evaluate"].update(slices=slices({"patient": {"group": True}})))


def test_a_scored_batch_is_counted_per_slice_and_a_labelled_one_is_judged_per_slice():
    from cleargate.monitoring.batch_report import BatchReport
    from cleargate.monitoring.monitoring_runs import _champion_metrics
    from cleargate.scoring.slice_counts import SliceCounts, carried, slice_only_columns

    config = SlicesConfig(by={"gender": SliceSpec(column="gender"), "patient": SliceSpec(group=True),
                              "age": SliceSpec(column="age", bands=[0, 50, 100])}, min_rows=2, n_resamples=50,
                          confidence=0.9)
    columns = ["age", "dose", "gender"]
    assert set(carried(config, columns)) == {"gender", "age"}, "a slicing whose column the batch lacks is skipped"
    assert slice_only_columns(config, ["age", "dose"], columns) == ["gender"], "validated and predicted without"
    counts = SliceCounts(carried(config, columns), ["negative", "positive"], "batch.parquet")
    counts.add(pd.DataFrame({"age": [10, 60], "gender": ["f", "m"]}), np.array([1, 0]))
    counts.add(pd.DataFrame({"age": [20, 70], "gender": ["f", "f"]}, index=[2, 3]), np.array([1, 1]))
    report = counts.report()
    assert report["gender=f"] == {"rows": 3, "predicted": {"negative": 0.0, "positive": 1.0}}
    assert report["age=50-100"]["predicted"] == {"negative": 0.5, "positive": 0.5}
    batch = BatchReport(dataset="d", batch="b", claimed="c", model="m", version="1", outcome="scored", message="",
                        decided_at="now", live={"accuracy": 0.9},
                        slices={"gender=f": {"rows": 3.0, "accuracy": 0.5}, "site=x y": {"rows": 1.0}})
    metrics = _champion_metrics(batch)
    assert metrics["live_accuracy__gender_f"] == 0.5 and not any("site" in k for k in metrics)
