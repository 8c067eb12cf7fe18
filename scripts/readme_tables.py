"""Rewrite the README's generated blocks from the last run, so its figures are measured, not remembered.

Run after `make run` (and `make bench`):  .venv/bin/python scripts/readme_tables.py [--readme README.md] [--only bench]
Each block sits between `<!-- generated:NAME -->` and `<!-- /generated:NAME -->` and says the machine and
date it was measured on. Blocks: `leaderboards` (every dataset's summary from reports/), `timings` (the
run's cost line), `bench` (benchmarks/results.json).
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


def machine() -> str:
    return f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"


def stamp() -> str:
    return f"_Measured on {machine()}, {datetime.now(UTC):%Y-%m-%d}; regenerate with `scripts/readme_tables.py`._"


BLOCKS = ("leaderboards", "timings", "bench")


def blocks(params_path: Path, names: tuple[str, ...] = BLOCKS) -> dict[str, str]:
    out = {}
    if "leaderboards" in names or "timings" in names:
        from cleargate.layout import run_timings
        from cleargate.params import load_project
        from cleargate.records import RunTimings
        from cleargate.release.summary import summary_markdown, timings_line

        project = load_project(params_path)
        if "leaderboards" in names:
            out["leaderboards"] = "\n\n".join(summary_markdown(project.scope(d)) for d in project.datasets)
        timings = run_timings(project.paths)
        if "timings" in names and timings.is_file():
            out["timings"] = f"`{timings_line(RunTimings.load(timings))}`"
    results = params_path.parent / "benchmarks" / "results.json"
    if "bench" in names and results.is_file():
        bench = json.loads(results.read_text())
        rows = ["| figure | measured | goal | met |", "|---|---|---|---|"]
        met = {True: "yes", False: "no"}
        rows += [f"| {r['figure']} | {r['measured']} | {r['goal']} | {met.get(r['met'], '-')} |" for r in bench["rows"]]
        out["bench"] = "\n".join(rows) + f"\n\n_Benchmarked on {bench['machine']}, {bench['measured_at'][:10]}._"
    return out


def rewrite(text: str, generated: dict[str, str]) -> str:
    for name, body in generated.items():
        pattern = re.compile(rf"(<!-- generated:{name} -->\n).*?(<!-- /generated:{name} -->)", re.DOTALL)
        if name != "bench":
            body = f"{body}\n\n{stamp()}"
        text = pattern.sub(lambda m, b=body: f"{m.group(1)}{b}\n{m.group(2)}", text)
    return text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--readme", default=str(ROOT / "README.md"))
    parser.add_argument("--params", default=str(ROOT / "params.yaml"))
    parser.add_argument("--only", action="append", choices=BLOCKS, default=None,
                        help="rewrite only this block (repeatable), e.g. --only bench after `make bench`")
    args = parser.parse_args()
    readme = Path(args.readme)
    readme.write_text(rewrite(readme.read_text(), blocks(Path(args.params), tuple(args.only or BLOCKS))))


if __name__ == "__main__":
    main()
