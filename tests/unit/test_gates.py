import math

from hypothesis import given, settings
from hypothesis import strategies as st

from cleargate.config import GateThresholds
from cleargate.evaluation.gates import evaluate_gates, select_candidate

GATES = GateThresholds(min_accuracy=0.97, min_macro_f1=0.97, min_class_recall=0.9, must_beat_baselines=True)
BASELINES = {"hgb": {"macro_f1": 0.93}, "rf": {"macro_f1": 0.95}}


def good(**over):
    metrics = {"accuracy": 0.99, "macro_f1": 0.99, "per_class_recall": {"0": 0.98, "1": 0.95}}
    metrics.update(over)
    return metrics


def test_all_gates_pass_and_record_threshold_and_value():
    report = evaluate_gates("cnn", good(), BASELINES, GATES, "macro_f1")
    assert report.passed
    checks = {c.name: c for c in report.checks}
    assert checks["beats_baselines_macro_f1"].threshold == 0.95
    assert checks["beats_baselines_macro_f1"].detail == "best baseline: rf"
    assert checks["min_class_recall"].value == 0.95 and checks["min_class_recall"].detail == "worst class: 1"


def test_each_gate_can_fail_alone():
    cases = {
        "accuracy": good(accuracy=0.96),
        "macro_f1": good(macro_f1=0.96),
        "min_class_recall": good(per_class_recall={"0": 0.99, "1": 0.89}),
    }
    for name, metrics in cases.items():
        report = evaluate_gates("cnn", metrics, BASELINES, GATES, "macro_f1")
        assert [c.name for c in report.failed] == [name]
    tie = evaluate_gates("cnn", good(macro_f1=0.95), {"rf": {"macro_f1": 0.95}},
                         GATES.model_copy(update={"min_macro_f1": 0.9}), "macro_f1")
    assert [c.name for c in tie.failed] == ["beats_baselines_macro_f1"], "a tie does not beat the baseline"


def test_missing_or_nan_metrics_fail_closed():
    for metrics in ({}, good(accuracy=float("nan")), good(per_class_recall={}), good(macro_f1=None)):
        assert not evaluate_gates("cnn", metrics, BASELINES, GATES, "macro_f1").passed
    assert not evaluate_gates("cnn", good(), {}, GATES, "macro_f1").passed, "no baseline metrics: fail"
    assert not evaluate_gates("cnn", good(), {"rf": {}}, GATES, "macro_f1").passed


def test_select_prefers_passing_candidates():
    metrics = {"a": good(macro_f1=0.999, accuracy=0.5), "b": good(macro_f1=0.98)}
    reports = {n: evaluate_gates(n, m, BASELINES, GATES, "macro_f1") for n, m in metrics.items()}
    assert select_candidate(reports, metrics, "macro_f1") == "b"


unit = st.floats(min_value=0, max_value=1) | st.just(math.nan) | st.none()


@settings(max_examples=1000, deadline=None)
@given(acc=unit, f1=unit, recalls=st.lists(unit, min_size=0, max_size=4), base=unit)
def test_property_a_candidate_passes_only_if_every_threshold_is_met(acc, f1, recalls, base):
    metrics = {"accuracy": acc, "macro_f1": f1, "per_class_recall": {str(i): r for i, r in enumerate(recalls)}}
    report = evaluate_gates("cnn", metrics, {"rf": {"macro_f1": base}}, GATES, "macro_f1")
    real = lambda v: v is not None and not math.isnan(v)  # noqa: E731
    expected = (real(acc) and acc >= 0.97 and real(f1) and f1 >= 0.97 and bool(recalls)
                and all(real(r) and r >= 0.9 for r in recalls) and real(base) and f1 > base)
    assert report.passed == expected
