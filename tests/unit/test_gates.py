import math

from hypothesis import given, settings
from hypothesis import strategies as st

from cleargate.config.judging import ChampionGate, GateThresholds
from cleargate.evaluation.bootstrap import Difference
from cleargate.evaluation.gates import (
    ChampionComparison,
    ReleaseEvidence,
    evaluate_gates,
    non_inferior,
    select_candidate,
)

CHAMPION = ChampionGate(metric="macro_f1", margin=0.01, n_resamples=1000, confidence=0.95)
GATES = GateThresholds(minimum={"accuracy": 0.97, "macro_f1": 0.97, "roc_auc": 0.99}, min_class_recall=0.9,
                       max_ece=0.05, must_beat_baselines=True, max_latency_p95_ms_single=50,
                       max_latency_p95_ms_batch=500, max_model_size_mb=50, latency_batch_size=256,
                       latency_repeats=30, champion=CHAMPION)
BASELINES = {"hgb": {"macro_f1": 0.93}, "rf": {"macro_f1": 0.95}}
OPS = {"latency_p95_ms_single": 5.0, "latency_p95_ms_batch": 40.0, "model_size_mb": 2.0}


def good(**over):
    metrics = {"accuracy": 0.99, "macro_f1": 0.99, "roc_auc": 0.999, "ece": 0.01,
               "per_class_recall": {"0": 0.98, "1": 0.95}}
    metrics.update(over)
    return metrics


def diff(low: float, delta: float = 0.0) -> Difference:
    return Difference("macro_f1", 0.98, 0.98 - delta, delta, low, low + 0.02, 0.95, 1000)


def test_all_gates_pass_and_record_threshold_and_value():
    report = evaluate_gates("cnn", good(), BASELINES, GATES, "macro_f1",
                            ReleaseEvidence(OPS, ChampionComparison(None)))
    assert report.passed, report.failed
    checks = {c.name: c for c in report.checks}
    assert checks["beats_baselines_macro_f1"].threshold == 0.95
    assert checks["beats_baselines_macro_f1"].detail == "best baseline: rf"
    assert checks["min_class_recall"].value == 0.95 and checks["min_class_recall"].detail == "worst class: 1"
    assert checks["champion_non_inferior"].detail == "no champion"
    assert checks["latency_p95_ms_single"].value == 5.0


def test_each_gate_can_fail_alone():
    cases = {
        "accuracy": (good(accuracy=0.96), OPS),
        "macro_f1": (good(macro_f1=0.96), OPS),
        "roc_auc": (good(roc_auc=0.98), OPS),
        "ece": (good(ece=0.2), OPS),
        "min_class_recall": (good(per_class_recall={"0": 0.99, "1": 0.89}), OPS),
        "latency_p95_ms_single": (good(), {**OPS, "latency_p95_ms_single": 51.0}),
        "latency_p95_ms_batch": (good(), {**OPS, "latency_p95_ms_batch": 501.0}),
        "model_size_mb": (good(), {**OPS, "model_size_mb": 50.5}),
    }
    for name, (metrics, ops) in cases.items():
        report = evaluate_gates("cnn", metrics, BASELINES, GATES, "macro_f1",
                                ReleaseEvidence(ops, ChampionComparison(None)))
        assert [c.name for c in report.failed] == [name]
    tie = evaluate_gates("cnn", good(macro_f1=0.95), {"rf": {"macro_f1": 0.95}},
                         GATES.model_copy(update={"minimum": {"macro_f1": 0.9}}), "macro_f1")
    assert [c.name for c in tie.failed] == ["beats_baselines_macro_f1"], "a tie does not beat the baseline"


def test_champion_non_inferiority_uses_the_interval_lower_bound():
    assert non_inferior(ChampionComparison("3", diff(low=-0.004)), margin=0.005).passed
    blocked = non_inferior(ChampionComparison("3", diff(low=-0.02, delta=-0.01)), margin=0.005)
    assert not blocked.passed and blocked.value == -0.02 and "vs champion v3" in blocked.detail
    assert not non_inferior(ChampionComparison("3", error="could not score"), margin=0.005).passed
    assert not non_inferior(ChampionComparison("3", diff(low=math.nan)), margin=0.005).passed


def test_missing_or_nan_metrics_fail_closed():
    for metrics in ({}, good(accuracy=float("nan")), good(per_class_recall={}), good(macro_f1=None),
                    good(ece=None)):
        assert not evaluate_gates("cnn", metrics, BASELINES, GATES, "macro_f1").passed
    assert not evaluate_gates("cnn", good(), {}, GATES, "macro_f1").passed, "no baseline metrics: fail"
    assert not evaluate_gates("cnn", good(), {"rf": {}}, GATES, "macro_f1").passed
    missing_ops = ReleaseEvidence({}, ChampionComparison(None))
    assert not evaluate_gates("cnn", good(), BASELINES, GATES, "macro_f1", missing_ops).passed


def test_imbalance_gates_are_declared_per_dataset():
    """A binary medical task gates on recall of the positive class and PR AUC, from the same code."""
    gates = GATES.model_copy(update={"minimum": {"positive_recall": 0.8, "pr_auc": 0.3}, "min_class_recall": 0.0,
                                     "max_ece": 1.0, "must_beat_baselines": False})
    passing = {"positive_recall": 0.85, "pr_auc": 0.4, "ece": 0.1, "per_class_recall": {"0": 0.9, "1": 0.85}}
    assert evaluate_gates("hgb", passing, {}, gates, "pr_auc").passed
    missed = evaluate_gates("hgb", {**passing, "positive_recall": 0.5}, {}, gates, "pr_auc")
    assert [c.name for c in missed.failed] == ["positive_recall"]


def test_select_prefers_passing_candidates():
    metrics = {"a": good(macro_f1=0.999, accuracy=0.5), "b": good(macro_f1=0.98)}
    reports = {n: evaluate_gates(n, m, BASELINES, GATES, "macro_f1") for n, m in metrics.items()}
    assert select_candidate(reports, metrics, "macro_f1") == "b"


unit = st.floats(min_value=0, max_value=1) | st.just(math.nan) | st.none()
millis = st.floats(min_value=0, max_value=1000) | st.none()
champions = st.none() | st.floats(min_value=-0.1, max_value=0.1) | st.just(math.nan)


def real(value) -> bool:
    return value is not None and not math.isnan(value)


@settings(max_examples=1500, deadline=None)
@given(acc=unit, f1=unit, auc=unit, ece=unit, recalls=st.lists(unit, max_size=4), base=unit,
       single=millis, batch=millis, size=millis, champion_low=champions)
def test_property_a_failing_candidate_is_never_passed(acc, f1, auc, ece, recalls, base, single, batch, size,
                                                      champion_low):
    metrics = {"accuracy": acc, "macro_f1": f1, "roc_auc": auc, "ece": ece,
               "per_class_recall": {str(i): r for i, r in enumerate(recalls)}}
    ops = {"latency_p95_ms_single": single, "latency_p95_ms_batch": batch, "model_size_mb": size}
    comparison = ChampionComparison(None) if champion_low is None else ChampionComparison("1", diff(champion_low))
    report = evaluate_gates("cnn", metrics, {"rf": {"macro_f1": base}}, GATES, "macro_f1",
                            ReleaseEvidence(ops, comparison))
    expected = (real(acc) and acc >= 0.97 and real(f1) and f1 >= 0.97 and real(auc) and auc >= 0.99
                and real(ece) and ece <= 0.05 and bool(recalls) and all(real(r) and r >= 0.9 for r in recalls)
                and real(base) and f1 > base and real(single) and single <= 50 and real(batch) and batch <= 500
                and real(size) and size <= 50 and (champion_low is None or (real(champion_low)
                                                                            and champion_low > -0.01)))
    assert report.passed == expected
    assert report.passed == all(c.passed for c in report.checks)
