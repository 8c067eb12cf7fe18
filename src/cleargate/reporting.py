"""The end-of-run summary a person reads: each dataset's leaderboard, gates and registry outcome."""

from __future__ import annotations

from typing import Any

import pandas as pd

from cleargate.config import Params
from cleargate.io import read_json
from cleargate.stages.entry import stage_paths


def _verdict(report: dict[str, Any] | None) -> str:
    if report is None:
        return "-"
    failed = [c["name"] for c in report["checks"] if not c["passed"]]
    return "PASS" if not failed else "FAIL: " + ", ".join(failed)


def summary_table(params: Params) -> str:
    """The leaderboard with each candidate's verdict (the full one for the model that was registered)."""
    paths = stage_paths(params)
    if not paths["leaderboard_csv"].is_file():
        return f"{params.dataset.name}: no leaderboard (the run stopped before the gate stage)"
    gate = read_json(paths["gate"])
    promotion = read_json(paths["promotion"]) if paths["promotion"].is_file() else {}
    board = pd.read_csv(paths["leaderboard_csv"])
    primary = gate["primary_metric"]
    rows = [f"### {params.dataset.name} ({params.dataset.kind}): ranked by test {primary}", "",
            f"| # | model | role | {primary} | accuracy | balanced acc. | fit s | size MB | gates | registered |",
            "|---|---|---|---|---|---|---|---|---|---|"]
    for r in board.to_dict("records"):
        name, registered, report = r["model"], "-", gate["candidates"].get(r["model"])
        if promotion.get("selected") == name:
            report = promotion["gate"]  # the full verdict: offline and release checks
            alias = "champion" if promotion["champion"] == promotion["version"] else "challenger"
            registered = f"{promotion['model_name']} v{promotion['version']} ({alias})"
        rows.append(f"| {r['rank']} | {name} | {r['role']} | {r[primary]:.4f} | {r['accuracy']:.4f} | "
                    f"{r['balanced_accuracy']:.4f} | {r['fit_seconds']:.1f} | {r['size_mb']:.2f} | "
                    f"{_verdict(report)} | {registered} |")
    if promotion:
        rows.append(f"\n{promotion['model_name']}: champion v{promotion['champion'] or '-'} "
                    f"({promotion['reason']})")
    return "\n".join(rows)
