"""Acceptance gates: metrics in, decision out. Pure, and closed by default: a missing metric fails."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from cleargate.config import GateThresholds
from cleargate.evaluation.bootstrap import Difference


@dataclass(frozen=True)
class Check:
    name: str
    threshold: float | None
    value: float | None
    passed: bool
    detail: str = ""


@dataclass(frozen=True)
class GateReport:
    model: str
    checks: tuple[Check, ...]

    @property
    def passed(self) -> bool:
        return bool(self.checks) and all(c.passed for c in self.checks)

    @property
    def failed(self) -> list[Check]:
        return [c for c in self.checks if not c.passed]

    def to_dict(self) -> dict[str, Any]:
        return {"model": self.model, "passed": self.passed, "checks": [asdict(c) for c in self.checks]}


def _number(metrics: Mapping[str, Any], key: str) -> float | None:
    value = metrics.get(key)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
        return None
    return float(value)


def at_least(name: str, metrics: Mapping[str, Any], key: str, threshold: float) -> Check:
    value = _number(metrics, key)
    if value is None:
        return Check(name, threshold, None, False, f"metric '{key}' is missing")
    return Check(name, threshold, value, value >= threshold)


def at_most(name: str, metrics: Mapping[str, Any], key: str, threshold: float) -> Check:
    value = _number(metrics, key)
    if value is None:
        return Check(name, threshold, None, False, f"metric '{key}' is missing")
    return Check(name, threshold, value, value <= threshold)


def class_recall_floor(metrics: Mapping[str, Any], threshold: float) -> Check:
    recalls = metrics.get("per_class_recall")
    if not isinstance(recalls, Mapping) or not recalls:
        return Check("min_class_recall", threshold, None, False, "metric 'per_class_recall' is missing")
    values = {c: _number(recalls, c) for c in recalls}
    if any(v is None for v in values.values()):
        return Check("min_class_recall", threshold, None, False, "a per-class recall is missing")
    worst = min(values, key=lambda c: values[c])  # type: ignore[arg-type, return-value]
    value = values[worst]
    assert value is not None
    return Check("min_class_recall", threshold, value, value >= threshold, f"worst class: {worst}")


def beats_baselines(metrics: Mapping[str, Any], baselines: Mapping[str, Mapping[str, Any]], primary: str) -> Check:
    """Strictly better than the best baseline on the primary metric."""
    name = f"beats_baselines_{primary}"
    value = _number(metrics, primary)
    scores = {b: _number(m, primary) for b, m in baselines.items()}
    if value is None:
        return Check(name, None, None, False, f"metric '{primary}' is missing")
    if not scores or any(s is None for s in scores.values()):
        return Check(name, None, value, False, "baseline metrics are missing")
    best = max(scores, key=lambda b: scores[b])  # type: ignore[arg-type, return-value]
    threshold = scores[best]
    assert threshold is not None
    return Check(name, threshold, value, value > threshold, f"best baseline: {best}")


@dataclass(frozen=True)
class ChampionComparison:
    """The current champion against the candidate; `version=None` means there is no champion yet."""

    version: str | None
    difference: Difference | None = None
    error: str = ""


@dataclass(frozen=True)
class ReleaseEvidence:
    """What only exists once the model is packaged: its latency and size, and the champion comparison."""

    operational: Mapping[str, Any]
    champion: ChampionComparison


def non_inferior(comparison: ChampionComparison, margin: float) -> Check:
    """Pass when the CI's lower bound of (candidate - champion) is above -margin."""
    if comparison.version is None:
        return Check("champion_non_inferior", -margin, None, True, "no champion")
    diff = comparison.difference
    if diff is None or comparison.error:
        return Check("champion_non_inferior", -margin, None, False,
                     f"champion v{comparison.version}: {comparison.error or 'no comparison'}")
    detail = (f"vs champion v{comparison.version} on {diff.metric}: {diff.candidate:.4f} vs {diff.champion:.4f}, "
              f"delta {diff.delta:+.4f}, {diff.confidence:.0%} CI [{diff.low:+.4f}, {diff.high:+.4f}]")
    if math.isnan(diff.low):
        return Check("champion_non_inferior", -margin, None, False, detail)
    return Check("champion_non_inferior", -margin, diff.low, diff.low > -margin, detail)


def evaluate_gates(model: str, metrics: Mapping[str, Any], baselines: Mapping[str, Mapping[str, Any]],
                   gates: GateThresholds, primary: str, release: ReleaseEvidence | None = None) -> GateReport:
    """Offline checks always; the release checks (latency, size, champion) when `release` is given."""
    checks = [at_least(metric, metrics, metric, floor) for metric, floor in gates.minimum.items()]
    checks += [class_recall_floor(metrics, gates.min_class_recall), at_most("ece", metrics, "ece", gates.max_ece)]
    if gates.must_beat_baselines:
        checks.append(beats_baselines(metrics, baselines, primary))
    if release is not None:
        ops = release.operational
        checks += [
            at_most("latency_p95_ms_single", ops, "latency_p95_ms_single", gates.max_latency_p95_ms_single),
            at_most("latency_p95_ms_batch", ops, "latency_p95_ms_batch", gates.max_latency_p95_ms_batch),
            at_most("model_size_mb", ops, "model_size_mb", gates.max_model_size_mb),
            non_inferior(release.champion, gates.champion.margin),
        ]
    return GateReport(model, tuple(checks))


def select_candidate(reports: Mapping[str, GateReport], metrics: Mapping[str, Mapping[str, Any]],
                     primary: str) -> str:
    """The best passing candidate on the primary metric; if none passes, the best candidate anyway
    (it is registered as challenger with its failed verdicts, never as champion)."""
    def score(name: str) -> tuple[bool, float]:
        return reports[name].passed, _number(metrics[name], primary) or float("-inf")

    return max(reports, key=score)


def gate_markdown(reports: Mapping[str, GateReport], selected: str) -> str:
    lines = ["| model | check | threshold | value | verdict | detail |", "|---|---|---|---|---|---|"]
    for name, report in reports.items():
        for c in report.checks:
            fmt = lambda v: "-" if v is None else f"{v:.4f}"  # noqa: E731
            lines.append(f"| {name}{' (selected)' if name == selected else ''} | {c.name} | {fmt(c.threshold)} "
                         f"| {fmt(c.value)} | {'PASS' if c.passed else 'FAIL'} | {c.detail} |")
    return "\n".join(lines) + "\n"
