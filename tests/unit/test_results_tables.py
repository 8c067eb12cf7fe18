"""`scripts/results_tables.py` rewrites the named generated blocks of the results page and the README from their
sources, and leaves every other block as it is."""

import json
import subprocess
import sys
from pathlib import Path

from tests.projects import ROOT

SCRIPT = ROOT / "scripts" / "results_tables.py"


def _pages(tmp_path: Path) -> tuple[Path, Path]:
    (tmp_path / "params.yaml").write_text("not read for the bench and suite blocks\n")
    results, readme = tmp_path / "results.md", tmp_path / "README.md"
    results.write_text("<!-- generated:leaderboards -->\nold boards\n<!-- /generated:leaderboards -->\n"
                       "<!-- generated:bench -->\nold table\n<!-- /generated:bench -->\n"
                       "<!-- generated:suite -->\nold suite\n<!-- /generated:suite -->\n")
    readme.write_text("# project\n<!-- generated:suite -->\nold suite\n<!-- /generated:suite -->\n")
    return results, readme


def _run(tmp_path: Path, *pages: Path, only: str) -> None:
    done = subprocess.run([sys.executable, str(SCRIPT), *(a for p in pages for a in ("--page", str(p))),
                           "--params", str(tmp_path / "params.yaml"), "--only", only],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]


def test_only_the_bench_block_is_rewritten_and_a_row_without_a_goal_shows_a_dash(tmp_path: Path):
    results, readme = _pages(tmp_path)
    (tmp_path / "benchmarks").mkdir()
    rows = [{"figure": "f", "measured": "1 s", "goal": "reference", "met": None},
            {"figure": "g", "measured": "2x", "goal": "<= 1x", "met": False}]
    (tmp_path / "benchmarks" / "results.json").write_text(json.dumps(
        {"rows": rows, "machine": "m", "measured_at": "2026-11-27T06:00:00+00:00", "tiny": False}))
    _run(tmp_path, results, readme, only="bench")
    text = results.read_text()
    assert "old boards" in text and "old suite" in text and "old table" not in text
    assert "| f | 1 s | reference | - |" in text and "| g | 2x | <= 1x | no |" in text
    assert "_Benchmarked on m, 2026-11-27._\n<!-- /generated:bench -->" in text
    assert "old suite" in readme.read_text(), "a block not asked for is left as it is"


def test_a_block_is_rewritten_on_every_page_that_holds_it(tmp_path: Path):
    results, readme = _pages(tmp_path)
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "durations.json").write_text(json.dumps({"tests/a.py": 120.0, "tests/b.py": 60.0}))
    _run(tmp_path, results, readme, only="suite")
    for page in (results, readme):
        text = page.read_text()
        assert "old suite" not in text and "`2 test modules: 3 min of test time, summed" in text
        assert "(the longest, tests/a.py: 2.0 min)`" in text
    assert "old boards" in results.read_text() and "old table" in results.read_text()
