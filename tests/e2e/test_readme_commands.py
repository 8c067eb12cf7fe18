"""The README's run command, verbatim, on a reduced config in a fresh git + DVC repo."""

import os
import re
import sys
from pathlib import Path

import mlflow
import pandas as pd
import pytest

from tests.projects import ROOT, run

VENV = Path(sys.executable).parent.parent


def readme_command(purpose: str) -> str:
    """The command README.md gives under its 'Two commands' section for `purpose` (run or test)."""
    text = (ROOT / "README.md").read_text()
    match = re.search(rf"^make {purpose}\b.*$", text, flags=re.MULTILINE)
    assert match, f"README names no `make {purpose}` command"
    return match.group(0).split("#")[0].strip()


@pytest.mark.slow
def test_readme_run_command_end_to_end(project: Path):
    # -o: the suite's venv is already set up; never let make reinstall the package from the temp copy into it
    command = readme_command("run").split() + [f"VENV={VENV}", "-o", f"{VENV}/.installed"]
    fresh = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"}  # Prefect's temporary API, as for a user
    first = run(command, project, check=False, env=fresh)
    output = first.stdout + first.stderr
    assert first.returncode == 0, output[-4000:]
    assert "stages ran: 12;" in first.stdout
    row = r"\b1\s+cnn\s+0\.9\d+\s+0\.9\d+\s+[\d.]+\s+PASS\s+v1 champion"  # rank, model, primary, acc., fit s
    assert re.search(row, output), output[-3000:]
    assert "digits-classifier: champion v1 (passed every gate)" in output
    assert re.search(r"pipeline \d+ s: fitting \d+ s, overhead [\d.]+[ ;].*; fits on process pool of \d", output), \
        "what the run cost, and what ran its fits"
    assert max(len(line) for line in first.stdout.splitlines()) <= 120, "the tables fit the terminal"
    assert "Data and pipelines are up to date" in run(["dvc", "status"], project).stdout
    assert "\x1b[" not in output, "piped to a file: plain lines, no colour codes"
    for noise in ("Traceback", "UserWarning", "FutureWarning", "Tip:", "Starting temporary server", "INFO"):
        assert noise not in output, f"third-party noise in a normal run: {noise}"
    plots = run(["dvc", "plots", "show", "--json"], project).stdout
    assert "reports/curves/digits/cnn.csv" in plots and "val_loss" in plots, "training curves are DVC plots"

    mlflow.set_tracking_uri(f"sqlite:///{project / 'mlflow.db'}")

    mlflow.set_registry_uri(f"sqlite:///{project / 'mlflow.db'}")
    model = mlflow.pyfunc.load_model("models:/digits-classifier@champion")
    raw = pd.read_parquet(project / "data" / "raw" / "digits.parquet")  # raw rows: the served model takes them
    assert (model.predict(raw.drop(columns="label").head(100)) == raw["label"].head(100)).mean() > 0.9

    second = run(command, project, env=fresh)
    assert "stages ran: 0; up to date, skipped: 12" in second.stdout
    assert "Running stage" not in run(["dvc", "repro"], project).stdout


def test_readme_test_command_is_what_ci_runs():
    assert readme_command("test") == "make test"
    assert "make test" in (ROOT / ".ci" / "run").read_text()
