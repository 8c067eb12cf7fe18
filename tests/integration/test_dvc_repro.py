"""`dvc repro` drives the stages from scratch (the golden mixed project's build: rehab recordings and breast-cancer
records), then does nothing; a change to one model's params makes only that model's stage stale, and runs as a
DVC experiment. (The image pipeline's DVC round trip is checked by the README test: flow, then `dvc status` and
`dvc repro`.)"""

import json
import sys
from pathlib import Path

import pytest
import yaml

from tests.projects import ROOT, run


@pytest.mark.slow
def test_dvc_repro_from_scratch_then_noop_then_only_the_changed_model(golden_mixed, tmp_path: Path):
    # every stage ran: 6 per dataset (ingest, validate, clean, split, gate, promote), train and evaluate per model
    assert golden_mixed.output.count("Running stage") == 2 * 6 + 4 * 2, golden_mixed.output[-3000:]
    project = golden_mixed.clone(tmp_path)
    promotion = json.loads((project / "reports" / "breast_cancer" / "promotion.json").read_text())
    assert promotion["passed"] and promotion["champion"] == "1"
    assert promotion["model_name"] == "breast-cancer-classifier"
    metrics = run(["dvc", "metrics", "show", "--json"], project).stdout
    assert "reports/breast_cancer/leaderboard.json" in metrics, "the leaderboard is a DVC metric"

    second = run(["dvc", "repro"], project)
    assert "Running stage" not in second.stdout
    assert "Data and pipelines are up to date" in run(["dvc", "status"], project).stdout

    params = yaml.safe_load((project / "params.yaml").read_text())
    params["train"]["cancer_hgb"]["max_iter"] += 1
    (project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    stale = run(["dvc", "status"], project).stdout
    stale_stages = {line.rstrip(":") for line in stale.splitlines() if line and not line.startswith((" ", "\t"))}
    assert stale_stages == {"train@cancer_hgb"}, stale
    # what follows it stays inside breast_cancer: tests/integration/test_flow_matches_dvc.py checks the graph

    # the change as a DVC experiment, compared in a table that fits 120 columns (make exp-show)
    experiment = run(["dvc", "exp", "run", "-n", "more-hgb"], project, check=False)
    assert experiment.returncode == 0, experiment.stderr[-3000:]
    shown = run([sys.executable, str(ROOT / "scripts" / "exp_show.py"), "120"], project).stdout
    lines = shown.splitlines()
    assert max(len(line) for line in lines) <= 120, shown
    assert "cancer_hgb.max_iter" in shown and "breast_cancer" in shown
    more = next(line for line in lines if "more-hgb" in line)
    assert str(params["train"]["cancer_hgb"]["max_iter"]) in more and "cancer_" in more, more
