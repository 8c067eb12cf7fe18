"""One dataset's models ranked on its primary metric, with cost (fit time, size) beside quality, and how much
the primary metric holds up: on its worst judged slice, next to the overall figure (`worst_slice`, and which
one: `worst_slice_name`), under the dataset's perturbations (`worst_perturbed`, `robust_drop`) and, for the
models measured with `cleargate stability`, over seeds (`seed_mean`, `seed_std`, `seeds`)."""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from cleargate.records import Evaluation, StabilitySummary

COLUMNS = ["accuracy", "balanced_accuracy", "macro_f1", "roc_auc", "pr_auc", "positive_recall", "ece"]


def robustness_columns(evaluation: Evaluation, primary: str) -> dict[str, float]:
    """The worst perturbed primary metric and its drop from the clean figure (nothing when none was measured)."""
    perturbed, clean = evaluation.robustness, evaluation.dump().get(primary)
    if not perturbed or clean is None:
        return {}
    worst = min(perturbed.values())
    return {"worst_perturbed": worst, "robust_drop": clean - worst}


def slice_columns(evaluation: Evaluation) -> dict[str, float | str]:
    """The primary metric on the worst judged slice, and its name (nothing when no slice was judged)."""
    worst = evaluation.slices.worst() if evaluation.slices is not None else None
    if worst is None or worst.metric is None:
        return {}
    return {"worst_slice": worst.metric, "worst_slice_name": worst.name}


def stability_columns(summary: StabilitySummary | None, primary: str) -> dict[str, float]:
    """The primary metric's mean and std over seeds, and how many seeds (nothing without a summary)."""
    figures = summary.metrics.get(primary) if summary is not None else None
    if summary is None or figures is None:
        return {}
    return {"seed_mean": figures.mean, "seed_std": figures.std, "seeds": float(len(summary.seeds))}


def leaderboard(evaluations: Mapping[str, Evaluation], primary: str, verdicts: Mapping[str, bool] | None = None,
                stability: Mapping[str, StabilitySummary] | None = None) -> pd.DataFrame:
    """Best first; ties keep params.yaml order. `verdicts`: offline gate pass/fail of the candidates;
    `stability`: the current seed-stability summaries (models without one show no seed columns)."""
    rows = []
    for name, evaluation in evaluations.items():
        m = evaluation.dump()
        row = {"model": name, "family": m.get("family"), "role": m.get("role"), primary: m.get(primary)}
        row.update(slice_columns(evaluation))
        row.update({c: m.get(c) for c in COLUMNS if c != primary and c in m})
        row.update(robustness_columns(evaluation, primary))
        row.update(stability_columns((stability or {}).get(name), primary))
        row.update({"fit_seconds": m.get("fit_seconds"), "size_mb": (m.get("size_bytes") or 0) / 1e6})
        if verdicts is not None:
            row["gates"] = "PASS" if verdicts.get(name) else ("FAIL" if name in verdicts else "-")
        rows.append(row)
    table = pd.DataFrame(rows).sort_values(primary, ascending=False, kind="stable").reset_index(drop=True)
    table.insert(0, "rank", range(1, len(table) + 1))
    return table


def leaderboard_markdown(table: pd.DataFrame, title: str) -> str:
    formats = [".0f" if c == "seeds" else ".4f" for c in table.columns]
    shown = table.astype(object).where(table.notna(), None)   # a figure not measured shows as "-"
    return f"### {title}\n\n" + shown.to_markdown(index=False, floatfmt=formats, missingval="-") + "\n"


def leaderboard_metrics(table: pd.DataFrame, primary: str) -> dict[str, dict[str, float]]:
    """The DVC metrics file: `dvc metrics show/diff` compares every model's figures across commits."""
    numeric = [c for c in table.columns if c not in ("model", "family", "role", "gates", "worst_slice_name")]
    return {row["model"]: {c: float(row[c]) for c in numeric if pd.notna(row[c])}
            for row in table.to_dict("records")}
