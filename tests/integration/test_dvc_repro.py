"""`dvc repro` drives the same stages from scratch, then does nothing; a CNN param change re-runs only CNN."""

import json
from pathlib import Path

import pytest
import yaml

from tests.conftest import run


@pytest.mark.slow
def test_dvc_repro_from_scratch_then_noop_then_only_cnn(project: Path):
    first = run(["dvc", "repro"], project, check=False)
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
    promotion = json.loads((project / "reports" / "digits" / "promotion.json").read_text())
    assert promotion["passed"] and promotion["champion"] == "1"

    second = run(["dvc", "repro"], project)
    assert "Running stage" not in second.stdout
    assert "Data and pipelines are up to date" in run(["dvc", "status"], project).stdout

    params = yaml.safe_load((project / "params.yaml").read_text())
    params["train"]["cnn"]["max_epochs"] += 1
    (project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    stale = run(["dvc", "status"], project).stdout
    stale_stages = {line.rstrip(":") for line in stale.splitlines() if line and not line.startswith((" ", "\t"))}
    assert stale_stages == {"train@cnn"}, stale
