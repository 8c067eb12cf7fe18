"""Acceptance gates: evidence in, decision out. Pure, and closed by default: a missing metric fails.

The evidence is plain data (an `Evaluation` or `Operational` record's dump, or any mapping): a missing,
None or NaN value fails its check, whatever produced it.

The offline checks (`gate` stage) need only test metrics; the release checks (`promote` stage) add what
exists once the model is packaged: its latency and size, and the comparison against the champion.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from cleargate.config.judging import GateThresholds
from cleargate.evaluation.bootstrap import Difference
from cleargate.evaluation.seed_spread import SeedEvidence
from cleargate.evaluation.slice_gates import max_slice_gap, min_slice, slice_evidence, slice_vs_champion
from cleargate.records import Check, GateReport


def number(values: Mapping[str, Any], key: str) -> float | None:
    """A real number, or None for a missing, None, boolean or NaN value."""
    value = values.get(key)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
        return None
    return float(value)


def at_least(name: str, value: float | None, threshold: float) -> Check:
    if value is None:
        return Check(name=name, threshold=threshold, value=None, passed=False, detail=f"metric '{name}' is missing")
    return Check(name=name, threshold=threshold, value=value, passed=value >= threshold)


def at_most(name: str, value: float | None, threshold: float) -> Check:
    if value is None:
        return Check(name=name, threshold=threshold, value=None, passed=False, detail=f"metric '{name}' is missing")
    return Check(name=name, threshold=threshold, value=value, passed=value <= threshold)


def class_recall_floor(recalls: Any, threshold: float) -> Check:
    name = "min_class_recall"
    if not isinstance(recalls, Mapping) or not recalls:
        return Check(name=name, threshold=threshold, value=None, passed=False,
                     detail="metric 'per_class_recall' is missing")
    values = {c: v for c in recalls if (v := number(recalls, c)) is not None}
    if len(values) != len(recalls):
        return Check(name=name, threshold=threshold, value=None, passed=False, detail="a per-class recall is missing")
    worst = min(values, key=values.__getitem__)
    return Check(name=name, threshold=threshold, value=values[worst], passed=values[worst] >= threshold,
                 detail=f"worst class: {worst}")


def beats_baselines(value: float | None, baselines: Mapping[str, float | None], primary: str) -> Check:
    """Strictly better than the best baseline on the primary metric."""
    name = f"beats_baselines_{primary}"
    if value is None:
        return Check(name=name, threshold=None, value=None, passed=False, detail=f"metric '{primary}' is missing")
    if not baselines or any(s is None for s in baselines.values()):
        return Check(name=name, threshold=None, value=value, passed=False, detail="baseline metrics are missing")
    best = max(baselines, key=lambda b: baselines[b])  # type: ignore[arg-type, return-value]
    threshold = baselines[best]
    assert threshold is not None
    return Check(name=name, threshold=threshold, value=value, passed=value > threshold,
                 detail=f"best baseline: {best}")


def robustness_drop(clean: float | None, perturbed: Any, primary: str, limit: float) -> Check:
    """The primary metric's worst drop under the dataset's perturbations, at most `limit`."""
    name = "robustness_drop"
    if clean is None or not isinstance(perturbed, Mapping) or not perturbed:
        return Check(name=name, threshold=limit, value=None, passed=False,
                     detail=f"no robustness figures for '{primary}': set evaluate.robustness in params.yaml and "
                            "re-run evaluate")
    values = {p: v for p in perturbed if (v := number(perturbed, p)) is not None}
    if len(values) != len(perturbed):
        return Check(name=name, threshold=limit, value=None, passed=False, detail="a perturbed figure is missing")
    worst = min(values, key=values.__getitem__)
    drop = clean - values[worst]
    return Check(name=name, threshold=limit, value=drop, passed=drop <= limit,
                 detail=f"worst: {worst}, {primary} {clean:.4f} -> {values[worst]:.4f}")


def seed_std(evidence: SeedEvidence, limits: Mapping[str, float]) -> list[Check]:
    """Per metric: its standard deviation over seeds at most the limit. No summary, or a stale one, fails with
    the command that measures it."""
    checks = []
    for metric, limit in limits.items():
        name = f"seed_std_{metric}"
        summary, run = evidence.summary, f"run `cleargate stability {evidence.model} --seeds N`"
        if summary is None or evidence.stale:
            why = "no seed-stability summary" if summary is None else (
                "the seed-stability summary is stale (params, trainer or split changed since)")
            checks.append(Check(name=name, threshold=limit, value=None, passed=False, detail=f"{why}: {run}"))
            continue
        figures = summary.metrics.get(metric)
        if figures is None:
            checks.append(Check(name=name, threshold=limit, value=None, passed=False,
                                detail=f"metric '{metric}' is missing from the seed-stability summary"))
            continue
        checks.append(Check(name=name, threshold=limit, value=figures.std, passed=figures.std <= limit,
                            detail=f"{len(summary.seeds)} seeds: mean {figures.mean:.4f} +- {figures.std:.4f}, "
                                   f"range {figures.min:.4f}-{figures.max:.4f}"))
    return checks


@dataclass(frozen=True)
class ChampionComparison:
    """The current champion against the candidate; `version=None` means there is no champion yet."""

    version: str | None
    difference: Difference | None = None
    error: str = ""
    slices: Mapping[str, Difference] = field(default_factory=dict)   # judged slice -> its paired difference


@dataclass(frozen=True)
class ReleaseEvidence:
    """What only exists once the model is packaged: its latency and size, and the champion comparison."""

    operational: Mapping[str, Any]    # an Operational record's dump
    champion: ChampionComparison


def non_inferior(comparison: ChampionComparison, margin: float) -> Check:
    """Pass when the CI's lower bound of (candidate - champion) is above -margin."""
    name = "champion_non_inferior"
    if comparison.version is None:
        return Check(name=name, threshold=-margin, value=None, passed=True, detail="no champion")
    diff = comparison.difference
    if diff is None or comparison.error:
        return Check(name=name, threshold=-margin, value=None, passed=False,
                     detail=f"champion v{comparison.version}: {comparison.error or 'no comparison'}")
    detail = (f"vs champion v{comparison.version} on {diff.metric}: {diff.candidate:.4f} vs {diff.champion:.4f}, "
              f"delta {diff.delta:+.4f}, {diff.confidence:.0%} CI [{diff.low:+.4f}, {diff.high:+.4f}]")
    if math.isnan(diff.low):
        return Check(name=name, threshold=-margin, value=None, passed=False, detail=detail)
    return Check(name=name, threshold=-margin, value=diff.low, passed=diff.low > -margin, detail=detail)


def evaluate_gates(model: str, metrics: Mapping[str, Any], baselines: Mapping[str, Mapping[str, Any]],
                   gates: GateThresholds, primary: str, release: ReleaseEvidence | None = None,
                   seeds: SeedEvidence | None = None) -> GateReport:
    """Offline checks always; the release checks (latency, size, champion) when `release` is given. The
    optional gates (robustness drop, seed std, slices) only when params.yaml sets them; then missing evidence
    fails."""
    checks = [at_least(metric, number(metrics, metric), floor) for metric, floor in gates.minimum.items()]
    checks += [class_recall_floor(metrics.get("per_class_recall"), gates.min_class_recall),
               at_most("ece", number(metrics, "ece"), gates.max_ece)]
    if gates.must_beat_baselines:
        checks.append(beats_baselines(number(metrics, primary), {b: number(m, primary) for b, m in baselines.items()},
                                      primary))
    if gates.max_robustness_drop is not None:
        checks.append(robustness_drop(number(metrics, primary), metrics.get("robustness"), primary,
                                      gates.max_robustness_drop))
    if gates.max_seed_std:
        checks += seed_std(seeds or SeedEvidence(model, None), gates.max_seed_std)
    if gates.min_slice is not None:
        checks.append(min_slice(slice_evidence(metrics), gates.min_slice))
    if gates.max_slice_gap is not None:
        checks.append(max_slice_gap(slice_evidence(metrics), gates.max_slice_gap))
    if release is not None:
        ops = release.operational
        checks += [at_most(name, number(ops, name), limit) for name, limit in (
            ("latency_p95_ms_single", gates.max_latency_p95_ms_single),
            ("latency_p95_ms_batch", gates.max_latency_p95_ms_batch),
            ("model_size_mb", gates.max_model_size_mb))]
        checks.append(non_inferior(release.champion, gates.champion.margin))
        if gates.slice_vs_champion:
            champion = release.champion
            checks.append(slice_vs_champion(champion.version, champion.slices, champion.error))
    return GateReport(model=model, checks=tuple(checks))


def select_candidate(reports: Mapping[str, GateReport], metrics: Mapping[str, Mapping[str, Any]],
                     primary: str) -> str:
    """The best passing candidate on the primary metric; if none passes, the best candidate anyway
    (it is registered as challenger with its failed verdicts, never as champion)."""
    def score(name: str) -> tuple[bool, float]:
        value = number(metrics[name], primary)
        return reports[name].passed, float("-inf") if value is None else value

    return max(reports, key=score)


def gate_markdown(reports: Mapping[str, GateReport], selected: str) -> str:
    lines = ["| model | check | threshold | value | verdict | detail |", "|---|---|---|---|---|---|"]
    for name, report in reports.items():
        for c in report.checks:
            fmt = lambda v: "-" if v is None else f"{v:.4f}"  # noqa: E731
            lines.append(f"| {name}{' (selected)' if name == selected else ''} | {c.name} | {fmt(c.threshold)} "
                         f"| {fmt(c.value)} | {'PASS' if c.passed else 'FAIL'} | {c.detail} |")
    return "\n".join(lines) + "\n"
