"""`scripts/readme_tables.py --only bench` rewrites README's bench table from benchmarks/results.json and
leaves the other generated blocks as they are."""

import json
import subprocess
import sys
from pathlib import Path

from tests.projects import ROOT


def test_only_the_bench_block_is_rewritten_and_a_row_without_a_goal_shows_a_dash(tmp_path: Path):
    (tmp_path / "benchmarks").mkdir()
    (tmp_path / "params.yaml").write_text("not read for the bench block\n")
    rows = [{"figure": "f", "measured": "1 s", "goal": "reference", "met": None},
            {"figure": "g", "measured": "2x", "goal": "<= 1x", "met": False}]
    (tmp_path / "benchmarks" / "results.json").write_text(json.dumps(
        {"rows": rows, "machine": "m", "measured_at": "2026-11-27T06:00:00+00:00", "tiny": False}))
    readme = tmp_path / "README.md"
    readme.write_text("<!-- generated:leaderboards -->\nold boards\n<!-- /generated:leaderboards -->\n"
                      "<!-- generated:bench -->\nold table\n<!-- /generated:bench -->\n")
    done = subprocess.run([sys.executable, str(ROOT / "scripts" / "readme_tables.py"), "--readme", str(readme),
                           "--params", str(tmp_path / "params.yaml"), "--only", "bench"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    text = readme.read_text()
    assert "old boards" in text and "old table" not in text
    assert "| f | 1 s | reference | - |" in text and "| g | 2x | <= 1x | no |" in text
    assert "_Benchmarked on m, 2026-11-27._\n<!-- /generated:bench -->" in text
