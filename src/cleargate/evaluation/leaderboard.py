"""One dataset's models ranked on its primary metric, with cost (fit time, size) beside quality."""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from cleargate.records import Evaluation

COLUMNS = ["accuracy", "balanced_accuracy", "macro_f1", "roc_auc", "pr_auc", "positive_recall", "ece"]


def leaderboard(evaluations: Mapping[str, Evaluation], primary: str,
                verdicts: Mapping[str, bool] | None = None) -> pd.DataFrame:
    """Best first; ties keep params.yaml order. `verdicts`: offline gate pass/fail of the candidates."""
    rows = []
    for name, evaluation in evaluations.items():
        m = evaluation.dump()
        row = {"model": name, "family": m.get("family"), "role": m.get("role"), primary: m.get(primary)}
        row.update({c: m.get(c) for c in COLUMNS if c != primary and c in m})
        row.update({"fit_seconds": m.get("fit_seconds"), "size_mb": (m.get("size_bytes") or 0) / 1e6})
        if verdicts is not None:
            row["gates"] = "PASS" if verdicts.get(name) else ("FAIL" if name in verdicts else "-")
        rows.append(row)
    table = pd.DataFrame(rows).sort_values(primary, ascending=False, kind="stable").reset_index(drop=True)
    table.insert(0, "rank", range(1, len(table) + 1))
    return table


def leaderboard_markdown(table: pd.DataFrame, title: str) -> str:
    return f"### {title}\n\n" + table.to_markdown(index=False, floatfmt=".4f") + "\n"


def leaderboard_metrics(table: pd.DataFrame, primary: str) -> dict[str, dict[str, float]]:
    """The DVC metrics file: `dvc metrics show/diff` compares every model's figures across commits."""
    numeric = [c for c in table.columns if c not in ("model", "family", "role", "gates")]
    return {row["model"]: {c: float(row[c]) for c in numeric if pd.notna(row[c])}
            for row in table.to_dict("records")}
