"""What the orchestration costs: a default run's overhead, a no-op rerun, and DVC's driver against the flow.

Run:  .venv/bin/python benchmarks/pipeline_overhead.py [--dataset breast_cancer]
Works in a scratch copy of the project (git + DVC repo in a temporary folder; your workspace and MLflow
store are not touched). Measures, in this run: the first `cleargate run` (overhead =
(wall - fitting) / fitting, from the run's own reports/run_timings.json), the second one with nothing
changed (as a share of the first), and `dvc repro --force` of one dataset against the flow re-running the
same stages.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml
from common import ROOT

CLEARGATE = str(Path(sys.executable).parent / "cleargate")
COPIED = ("dvc.yaml", ".dvcignore", ".gitignore", "pyproject.toml")


def scratch_project(folder: Path, params: dict[str, Any]) -> Path:
    """A git + DVC repo holding the project's code and `params`."""
    root = folder / "project"
    root.mkdir(parents=True)
    for name in COPIED:
        shutil.copy2(ROOT / name, root / name)
    for name in ("src", "flows"):
        shutil.copytree(ROOT / name, root / name, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    for command in (["git", "init", "-q"], ["dvc", "init", "-q"], ["git", "add", "-A"],
                    ["git", "-c", "user.email=b@b", "-c", "user.name=b", "commit", "-qm", "bench"]):
        subprocess.run(command, cwd=root, check=True, capture_output=True, env=_env())
    return root


def _env() -> dict[str, str]:
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
           "PYTHONPATH": str(ROOT / "src")}
    env.pop("MLFLOW_TRACKING_URI", None)
    return env


def timed(command: list[str], root: Path) -> float:
    started = time.perf_counter()
    done = subprocess.run(command, cwd=root, capture_output=True, text=True, env=_env())
    if done.returncode not in (0, 3):
        raise RuntimeError(f"{' '.join(command)} failed ({done.returncode}): {done.stderr[-2000:]}")
    return time.perf_counter() - started


def run_timings(root: Path) -> dict[str, Any]:
    return json.loads((root / "reports" / "run_timings.json").read_text())


def measure_overhead(root: Path) -> dict[str, float]:
    first = timed([CLEARGATE, "run"], root)
    timings = run_timings(root)
    second = timed([CLEARGATE, "run"], root)
    fit = timings["fit_seconds"]
    return {"first_run_s": first, "fit_s": fit, "overhead": (first - fit) / fit if fit else float("nan"),
            "flow_wall_s": timings["wall_seconds"], "noop_run_s": second, "noop_share": second / first}


def measure_drivers(root: Path, dataset: str, stage_names: list[str]) -> dict[str, float]:
    """The same stages of one dataset forced, DVC's own driver, then the flow (both from the same state).
    `stage_names`, in the graph's order, end at promote (the flow runs every stage after one that ran): the whole
    graph (`dvc repro --force promote@DATASET` runs everything before it), or the dataset's release stages
    (gate, promote: `--single-item` on each, as its train and evaluate are one stage per model)."""
    if stage_names[-1] != "promote" or (stage_names[0] != "ingest" and not set(stage_names) <= {"gate", "promote"}):
        raise ValueError(f"stages {stage_names}: from ingest to promote, or the release stages gate and promote")
    targets = ([f"promote@{dataset}"] if stage_names[0] == "ingest"
               else ["--single-item", *(f"{name}@{dataset}" for name in stage_names)])
    dvc = timed(["dvc", "repro", "--force", *targets], root)
    rerun = [arg for name in stage_names for arg in ("--rerun", name)]
    flow = timed([CLEARGATE, "run", "--dataset", dataset, *rerun], root)
    return {"dataset": dataset, "stages": stage_names, "dvc_repro_force_s": dvc, "flow_s": flow,
            "flow_vs_dvc": dvc / flow}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--params", default=str(ROOT / "params.yaml"))
    parser.add_argument("--dataset", default="breast_cancer")
    args = parser.parse_args()
    params = yaml.safe_load(Path(args.params).read_text())
    with tempfile.TemporaryDirectory() as tmp:
        root = scratch_project(Path(tmp), params)
        result = {**measure_overhead(root),
                  **measure_drivers(root, args.dataset, ["ingest", "validate", "clean", "split", "train",
                                                          "evaluate", "gate", "promote"])}
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
