"""The end-of-run summary a person reads: each model's test figures, gates and registry outcome."""

from __future__ import annotations

from typing import Any

from cleargate.config import Params
from cleargate.io import read_json
from cleargate.stages.entry import model_paths, stage_paths


def _verdict(report: dict[str, Any] | None) -> str:
    if report is None:
        return "-"
    failed = [c["name"] for c in report["checks"] if not c["passed"]]
    return "PASS" if not failed else "FAIL: " + ", ".join(failed)


def summary_table(params: Params) -> str:
    paths = stage_paths(params)
    gate = read_json(paths["gate"])
    promotion = read_json(paths["promotion"]) if paths["promotion"].is_file() else {}
    rows = ["| model | role | test accuracy | macro F1 | fit s | gates | registered | alias |",
            "|---|---|---|---|---|---|---|---|"]
    for name, config in params.train.items():
        m = read_json(model_paths(params, name)["metrics"])
        registered, alias, report = "-", "-", gate["candidates"].get(name)
        if promotion.get("selected") == name:
            report = promotion["gate"]  # the full verdict: offline and release checks
            registered = f"{promotion['model_name']} v{promotion['version']}"
            alias = "champion" if promotion["champion"] == promotion["version"] else "challenger"
        rows.append(f"| {name} | {config.role} | {m['accuracy']:.4f} | {m['macro_f1']:.4f} | "
                    f"{m['fit_seconds']:.1f} | {_verdict(report)} | {registered} | {alias} |")
    if promotion:
        rows.append(f"\n{promotion['model_name']}: champion v{promotion['champion'] or '-'} "
                    f"({promotion['reason']})")
    return "\n".join(rows)
