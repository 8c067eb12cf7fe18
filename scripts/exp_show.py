"""`make exp-show`: DVC experiments side by side in a table that fits the terminal (120 columns is plenty).

`dvc exp show` lists every parameter and metric of every stage (hundreds of columns). What matters when
comparing experiments is declared here: the parameters that differ between the rows shown, and each
dataset's primary metric (params.yaml `datasets.<d>.evaluate.primary_metric`) for its best candidate,
read from the leaderboard DVC metric. The data come from `dvc exp show --json`; for the full picture use
`dvc exp show --only-changed`, narrowed with `--drop '.*' --keep 'leaderboard|train\\.'`.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))
from cleargate.config.common import dotted

IGNORED = ("paths.", "tracking.", "orchestration.", "storage.")


def rows(experiments: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """workspace, each commit, and the experiments based on it: name, params (flat), leaderboards."""
    out = []
    for commit in experiments:
        for entry in [commit, *(r for e in commit.get("experiments") or [] for r in e.get("revs") or [])]:
            data = entry.get("data") or {}
            params = (data.get("params") or {}).get("params.yaml", {}).get("data") or {}
            boards = {path.split("/")[-2]: (m.get("data") or {}) for path, m in (data.get("metrics") or {}).items()
                      if path.endswith("leaderboard.json")}
            rev = str(entry.get("rev"))
            out.append({"name": entry.get("name") or (rev if rev == "workspace" else rev[:7]), "params": params,
                        "flat": dotted(params), "boards": boards})
    return out


def best_candidate(row: dict[str, Any], dataset: str) -> str:
    params, board = row["params"], row["boards"].get(dataset, {})
    primary = (params.get("datasets", {}).get(dataset, {}).get("evaluate") or {}).get("primary_metric")
    candidates = {m: v.get(primary) for m, v in board.items()
                  if params.get("train", {}).get(m, {}).get("role") == "candidate" and v.get(primary) is not None}
    if not candidates:
        return "-"
    model = max(candidates, key=lambda m: candidates[m])
    return f"{candidates[model]:.4f} {model}"


def table(experiments: list[dict[str, Any]]) -> Any:
    from rich import box
    from rich.table import Table

    found = rows(experiments)
    keys = sorted({k for r in found for k in r["flat"] if not k.startswith(IGNORED)})
    changed = [k for k in keys if len({json.dumps(r["flat"].get(k), default=str) for r in found}) > 1]
    datasets = sorted({d for r in found for d in r["boards"]})
    result = Table(box=box.SIMPLE_HEAD, title="experiments: changed params and each dataset's best candidate")
    result.add_column("experiment", no_wrap=True)
    for key in changed:
        result.add_column(key.removeprefix("train.").removeprefix("datasets."), overflow="fold")
    for dataset in datasets:
        result.add_column(dataset, overflow="fold")
    for row in found:
        result.add_row(row["name"], *(str(row["flat"].get(k, "-")) for k in changed),
                       *(best_candidate(row, d) for d in datasets))
    return result


def main() -> int:
    from rich.console import Console

    dvc = Path(sys.executable).with_name("dvc")  # the venv's, whether or not it is on PATH
    done = subprocess.run([str(dvc), "exp", "show", "--json"], capture_output=True, text=True)
    if done.returncode != 0:
        print(f"dvc exp show failed: {done.stderr.strip().splitlines()[-1] if done.stderr.strip() else ''}",
              file=sys.stderr)
        return 2
    Console(width=int(sys.argv[1]) if len(sys.argv) > 1 else None).print(table(json.loads(done.stdout)))
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))
    raise SystemExit(main())
