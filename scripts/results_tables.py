"""Rewrite the generated blocks of the docs' results page and the README from the last run, so every figure
they show is measured, not remembered.

Run after `make run` (`make bench` runs it for its own block):

    .venv/bin/python scripts/results_tables.py [--page docs/results.md --page README.md] [--only NAME]

A block sits between `<!-- generated:NAME -->` and `<!-- /generated:NAME -->`; every page that holds a block of
that name gets the same text, and a block whose source does not exist yet is left as it is. Each block says
where and when it was measured. Blocks and their sources:

    leaderboards  every dataset's leaderboard and verdict (reports/<dataset>/, as the run prints them)
    timings       what the last run cost (reports/run_timings.json)
    bench         the `make bench` table (benchmarks/results.json)
    suite         the test suite's time per module (tests/durations.json, `--record-durations`)
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import sys
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

BLOCKS = ("leaderboards", "timings", "bench", "suite")
PAGES = (ROOT / "docs" / "results.md", ROOT / "README.md")


def machine() -> str:
    return f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"


def stamp() -> str:
    return f"_Measured on {machine()}, {datetime.now(UTC):%Y-%m-%d}; regenerate with `scripts/results_tables.py`._"


def blocks(params_path: Path, names: tuple[str, ...] = BLOCKS) -> dict[str, str]:
    """The text of each named block whose source exists."""
    project_dir = params_path.parent
    out = {}
    if "leaderboards" in names or "timings" in names:
        from cleargate.layout import run_timings
        from cleargate.params import load_project
        from cleargate.records import RunTimings
        from cleargate.release.summary import summary_markdown, timings_line

        project = load_project(params_path)
        if "leaderboards" in names and any(project.scope(d).layout.leaderboard_csv.is_file()
                                           for d in project.datasets):
            boards = "\n\n".join(summary_markdown(project.scope(d)) for d in project.datasets)
            out["leaderboards"] = f"{boards}\n\n{stamp()}"
        timings = run_timings(project.paths)
        if "timings" in names and timings.is_file():
            out["timings"] = f"`{timings_line(RunTimings.load(timings))}`\n\n{stamp()}"
    results = project_dir / "benchmarks" / "results.json"
    if "bench" in names and results.is_file():
        bench = json.loads(results.read_text())
        rows = ["| figure | measured | goal | met |", "|---|---|---|---|"]
        met = {True: "yes", False: "no"}
        rows += [f"| {r['figure']} | {r['measured']} | {r['goal']} | {met.get(r['met'], '-')} |" for r in bench["rows"]]
        out["bench"] = "\n".join(rows) + f"\n\n_Benchmarked on {bench['machine']}, {bench['measured_at'][:10]}._"
    durations = project_dir / "tests" / "durations.json"
    if "suite" in names and durations.is_file():
        seconds = json.loads(durations.read_text())
        longest = max(seconds, key=seconds.get)
        out["suite"] = (f"`{len(seconds)} test modules: {sum(seconds.values()) / 60:.0f} min of test time, summed "
                        f"(the longest, {longest}: {seconds[longest] / 60:.1f} min)`\n\n"
                        "_From tests/durations.json, written by `make test PYTEST_ARGS=--record-durations`; "
                        "regenerate with `scripts/results_tables.py`._")
    return out


def rewrite(text: str, generated: dict[str, str]) -> str:
    for name, body in generated.items():
        pattern = re.compile(rf"(<!-- generated:{name} -->\n).*?(<!-- /generated:{name} -->)", re.DOTALL)
        text = pattern.sub(lambda m, b=body: f"{m.group(1)}{b}\n{m.group(2)}", text)
    return text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--page", action="append", type=Path, default=None,
                        help="a Markdown file whose generated blocks to rewrite (repeatable; default: "
                             "docs/results.md and README.md)")
    parser.add_argument("--params", default=str(ROOT / "params.yaml"))
    parser.add_argument("--only", action="append", choices=BLOCKS, default=None,
                        help="rewrite only this block (repeatable), e.g. --only bench after `make bench`")
    args = parser.parse_args()
    generated = blocks(Path(args.params), tuple(args.only or BLOCKS))
    for page in args.page or PAGES:
        page.write_text(rewrite(page.read_text(), generated))


if __name__ == "__main__":
    main()
