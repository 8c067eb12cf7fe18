"""The end-of-run summary a person reads: each dataset's leaderboard, gates and registry outcome, and what the
run cost. The same rows render as Markdown (Prefect artifacts, docs/results.md) and as a rich table (the terminal:
fits 80 columns, wider when the terminal is; colour only on a terminal)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd

from cleargate.params import DatasetParams
from cleargate.records import GateDecision, GateReport, ReleaseDecision, RunTimings

HEADERS = ["#", "model", "role", "{primary}", "worst slice", "accuracy", "bal. acc.", "fit s", "MB", "gates",
           "registered"]


@dataclass(frozen=True)
class Summary:
    """One dataset's leaderboard rows with verdicts, and where its champion stands."""

    title: str
    primary: str
    rows: list[list[str]]
    footer: str
    passed: dict[str, bool | None]   # model -> gates passed (None: a baseline, not judged)
    sliced: bool = False             # the dataset judges slices: the worst one is shown beside the primary metric


def _verdict(report: GateReport | None) -> str:
    if report is None:
        return "-"
    return "PASS" if report.passed else "FAIL: " + ", ".join(c.name for c in report.failed)


def summarise(params: DatasetParams) -> Summary | None:
    """None when the run stopped before the gate stage (no leaderboard yet)."""
    layout = params.layout
    if not layout.leaderboard_csv.is_file():
        return None
    gate = GateDecision.load(layout.gate)
    release = ReleaseDecision.load(layout.promotion) if layout.promotion.is_file() else None
    primary, rows, passed = gate.primary_metric, [], {}
    for r in pd.read_csv(layout.leaderboard_csv).to_dict("records"):
        name, registered, report = r["model"], "-", gate.candidates.get(r["model"])
        if release is not None and release.selected == name:
            report = release.gate  # the full verdict: offline and release checks
            alias = "champion" if release.champion == release.version else "challenger"
            registered = f"{release.model_name} v{release.version} ({alias})"
        passed[name] = None if report is None else report.passed
        worst = r.get("worst_slice")
        worst_text = "-" if worst is None or pd.isna(worst) else f"{worst:.4f} {r['worst_slice_name']}"
        rows.append([str(r["rank"]), name, r["role"], f"{r[primary]:.4f}", worst_text, f"{r['accuracy']:.4f}",
                     f"{r['balanced_accuracy']:.4f}", f"{r['fit_seconds']:.1f}", f"{r['size_mb']:.2f}",
                     _verdict(report), registered])
    footer = "" if release is None else f"{release.model_name}: champion v{release.champion or '-'} ({release.reason})"
    title = f"{params.dataset.name} ({params.dataset.kind}): ranked by test {primary}"
    return Summary(title, primary, rows, footer, passed, sliced=any(row[4] != "-" for row in rows))


def summary_markdown(params: DatasetParams) -> str:
    summary = summarise(params)
    if summary is None:
        return f"{params.dataset.name}: no leaderboard (the run stopped before the gate stage)"
    keep = [i for i, h in enumerate(HEADERS) if h != "worst slice" or summary.sliced]
    headers = [HEADERS[i].format(primary=summary.primary) for i in keep]
    lines = [f"### {summary.title}", "", "| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(row[i] for i in keep) + " |" for row in summary.rows]
    return "\n".join(lines + ([f"\n{summary.footer}"] if summary.footer else []))


def _short(verdict: str, shown: int = 2) -> str:
    """`FAIL: a, b, c, d` -> `FAIL: a, b +2` (every failed gate is in leaderboard.md and gate.md)."""
    head, sep, names = verdict.partition(": ")
    failed = names.split(", ") if sep else []
    if len(failed) <= shown:
        return verdict
    return f"{head}: {', '.join(failed[:shown])} +{len(failed) - shown}"


def summary_table(params: DatasetParams) -> Any:
    """A rich renderable: the leaderboard (fits 80 columns; baselines dimmed; verdicts coloured on a terminal)
    and the champion line."""
    from rich import box
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    summary = summarise(params)
    if summary is None:
        return Text(f"{params.dataset.name}: no leaderboard (the run stopped before the gate stage)", style="yellow")
    table = Table(title=summary.title, title_justify="left", title_style="bold", box=box.SIMPLE_HEAD,
                  pad_edge=False, padding=(0, 1), caption="* baseline: sets the bar, is not gated" if any(
                      row[2] == "baseline" for row in summary.rows) else None,
                  caption_justify="left", caption_style="dim")
    # Model size is in leaderboard.md; here the columns that decide. Names and versions never break mid-word
    # (`v12 (challenger)`); the verdict wraps between its failed gates, at most two named.
    # A dataset that judges slices shows its worst judged slice's figure beside the primary metric, and under the
    # table which slice it is, model by model (slice names are too long for a column of an 80-column table).
    sliced = (("worst\nslice", True),) if summary.sliced else ()
    columns = (("#", True), ("model", False), (summary.primary, True), *sliced, ("acc.", True), ("fit s", True),
               ("gates", False), ("registered", False))
    for header, numeric in columns:
        table.add_column(header, justify="right" if numeric else "left", min_width=12 if header == "gates" else None,
                         no_wrap=header != "gates", overflow="fold")
    worst_slices = []
    for rank, model, role, primary, worst, accuracy, _, fit, _, verdict, registered in summary.rows:
        figure, _, slice_name = worst.partition(" ")
        if slice_name:
            worst_slices.append(f"{model} {slice_name} {figure}")
        ok = summary.passed.get(model)
        name = Text(model, style="dim" if role == "baseline" else "")
        if role == "baseline":
            name.append("*", style="dim")
        verdict_text = Text(_short(verdict), style={True: "green", False: "red"}.get(ok, "dim"))
        table.add_row(rank, name, primary, *((figure,) if summary.sliced else ()), accuracy, fit, verdict_text,
                      registered.replace(f"{params.registry.model_name} ", "").replace("(", "").replace(")", ""))
    lines = [f"worst slice: {', '.join(worst_slices)}"] if worst_slices else []
    lines += [summary.footer] if summary.footer else []
    return Group(table, *(Text(line) for line in lines)) if lines else table


def timings_line(timings: RunTimings, width: int = 120) -> str:
    """`pipeline 296 s: fitting 210 s, overhead 0.41 (summed: train 230 s, evaluate 21 s, validate 20 s);
    explanations 9 s (3% of the run)`: the costliest stages (three, fewer where the line would pass `width`), each
    summed over its calls (the flow runs dataset stages beside the fits, so the sums can exceed the wall time),
    and what the evaluations' explanations took (part of evaluate)."""
    overhead = "n/a (nothing was fitted)" if not timings.fit_seconds else f"{timings.overhead:.2f}"
    head = f"pipeline {timings.wall_seconds:.0f} s: fitting {timings.fit_seconds:.0f} s, overhead {overhead}"
    tail = (f"; {timings.skipped} up to date" if timings.skipped else "") + \
        (f"; fits on {timings.runner}" if timings.fit_seconds else "")
    if timings.explain_seconds:
        share = timings.explain_seconds / timings.wall_seconds if timings.wall_seconds else float("nan")
        tail = f"; explanations {timings.explain_seconds:.0f} s ({share:.0%} of the run){tail}"
    stages = sorted(timings.by_stage().items(), key=lambda kv: -kv[1])
    for shown in range(min(3, len(stages)), 0, -1):
        line = f"{head} (summed: {', '.join(f'{name} {s:.0f} s' for name, s in stages[:shown])}){tail}"
        if len(line) <= width:
            return line
    return head + tail
