"""The end-of-run summary a person reads: each dataset's leaderboard, gates and registry outcome."""

from __future__ import annotations

import pandas as pd

from cleargate.params import DatasetParams
from cleargate.records import GateDecision, GateReport, ReleaseDecision


def _verdict(report: GateReport | None) -> str:
    if report is None:
        return "-"
    return "PASS" if report.passed else "FAIL: " + ", ".join(c.name for c in report.failed)


def summary_table(params: DatasetParams) -> str:
    """The leaderboard with each candidate's verdict (the full one for the model that was registered)."""
    layout = params.layout
    if not layout.leaderboard_csv.is_file():
        return f"{params.dataset.name}: no leaderboard (the run stopped before the gate stage)"
    gate = GateDecision.load(layout.gate)
    release = ReleaseDecision.load(layout.promotion) if layout.promotion.is_file() else None
    board = pd.read_csv(layout.leaderboard_csv)
    primary = gate.primary_metric
    rows = [f"### {params.dataset.name} ({params.dataset.kind}): ranked by test {primary}", "",
            f"| # | model | role | {primary} | accuracy | balanced acc. | fit s | size MB | gates | registered |",
            "|---|---|---|---|---|---|---|---|---|---|"]
    for r in board.to_dict("records"):
        name, registered, report = r["model"], "-", gate.candidates.get(r["model"])
        if release is not None and release.selected == name:
            report = release.gate  # the full verdict: offline and release checks
            alias = "champion" if release.champion == release.version else "challenger"
            registered = f"{release.model_name} v{release.version} ({alias})"
        rows.append(f"| {r['rank']} | {name} | {r['role']} | {r[primary]:.4f} | {r['accuracy']:.4f} | "
                    f"{r['balanced_accuracy']:.4f} | {r['fit_seconds']:.1f} | {r['size_mb']:.2f} | "
                    f"{_verdict(report)} | {registered} |")
    if release is not None:
        rows.append(f"\n{release.model_name}: champion v{release.champion or '-'} ({release.reason})")
    return "\n".join(rows)
