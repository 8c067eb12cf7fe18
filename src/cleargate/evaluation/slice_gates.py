"""The slice gates: no judged slice below a floor, no gap too wide between the slices of one slicing, no slice
significantly worse than the champion's same slice. Pure, closed by default: missing slice figures fail, and
each verdict names the slice that decided it (`Check.slice_name`, in the release decision's reason).

Only judged slices count (at least `evaluate.slices.min_rows` rows and a defined metric); the others are reported
in the detail, the metrics file and the model card, never gated.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from cleargate.evaluation.bootstrap import Difference
from cleargate.records import Check, SliceReport

NO_FIGURES = "no slice figures: set evaluate.slices in params.yaml and re-run evaluate"


def slice_evidence(metrics: Mapping[str, Any]) -> SliceReport | None:
    """The slice report of an Evaluation's dump, or None when there is none (or it does not read)."""
    raw = metrics.get("slices")
    if raw is None:
        return None
    try:
        return raw if isinstance(raw, SliceReport) else SliceReport.model_validate(raw)
    except ValidationError:
        return None


def _interval(low: float | None, high: float | None, confidence: float) -> str:
    return "" if low is None or high is None else f", {confidence:.0%} CI [{low:.4f}, {high:.4f}]"


def min_slice(report: SliceReport | None, floor: float) -> Check:
    """The worst judged slice's primary metric at least `floor`."""
    name = "min_slice"
    if report is None:
        return Check(name=name, threshold=floor, value=None, passed=False, detail=NO_FIGURES)
    worst, unjudged = report.worst(), len(report.figures) - len(report.judged())
    if worst is None or worst.metric is None:
        return Check(name=name, threshold=floor, value=None, passed=False,
                     detail=f"no slice has {report.min_rows} rows or more and a defined {report.metric}")
    detail = (f"worst slice {worst.name}: {report.metric} {worst.metric:.4f} (n={worst.rows}"
              f"{_interval(worst.low, worst.high, report.confidence)}); {unjudged} of {len(report.figures)} "
              f"slices reported, not gated (under {report.min_rows} rows or metric undefined)")
    return Check(name=name, threshold=floor, value=worst.metric, passed=worst.metric >= floor, detail=detail,
                 slice_name=worst.name)


def max_slice_gap(report: SliceReport | None, limit: float) -> Check:
    """Within each slicing, the best judged slice minus the worst at most `limit`; the widest gap decides."""
    name = "max_slice_gap"
    if report is None:
        return Check(name=name, threshold=limit, value=None, passed=False, detail=NO_FIGURES)
    gaps = []
    for slicing in dict.fromkeys(f.slicing for f in report.figures):
        judged = [f for f in report.judged() if f.slicing == slicing]
        if len(judged) >= 2:
            best = max(judged, key=lambda f: f.metric or 0.0)
            worst = min(judged, key=lambda f: f.metric or 0.0)
            gaps.append(((best.metric or 0.0) - (worst.metric or 0.0), best, worst))
    if not gaps:
        return Check(name=name, threshold=limit, value=None, passed=False,
                     detail=f"no slicing has two slices of {report.min_rows} rows or more to compare")
    gap, best, worst = max(gaps, key=lambda g: g[0])
    detail = (f"{worst.slicing}: {best.name} {best.metric:.4f} vs {worst.name} {worst.metric:.4f} "
              f"({report.metric}, n={best.rows} and {worst.rows})")
    return Check(name=name, threshold=limit, value=gap, passed=gap <= limit, detail=detail, slice_name=worst.name)


def slice_vs_champion(version: str | None, differences: Mapping[str, Difference], error: str = "") -> Check:
    """Every judged slice: the paired bootstrap interval of (candidate - champion) on the champion gate's metric
    must reach 0; a slice whose whole interval is below 0 is worse than the champion's beyond its interval."""
    name = "slice_vs_champion"
    if version is None:
        return Check(name=name, threshold=0.0, value=None, passed=True, detail="no champion")
    if error or not differences:
        return Check(name=name, threshold=0.0, value=None, passed=False,
                     detail=f"champion v{version}: {error or 'no judged slice to compare'}")
    def upper(s: str) -> float:  # a NaN bound (a degenerate resample) counts as worse: closed
        return differences[s].high if not math.isnan(differences[s].high) else -math.inf

    worst = min(differences, key=upper)
    diff = differences[worst]
    worse = sum(upper(s) < 0 for s in differences)
    detail = (f"{worse} of {len(differences)} slices worse than champion v{version} beyond their interval; "
              f"closest {worst}: {diff.metric} {diff.candidate:.4f} vs {diff.champion:.4f}, delta {diff.delta:+.4f}, "
              f"{diff.confidence:.0%} CI [{diff.low:+.4f}, {diff.high:+.4f}]")
    return Check(name=name, threshold=0.0, value=None if math.isnan(diff.high) else diff.high, passed=not worse,
                 detail=detail, slice_name=worst)
