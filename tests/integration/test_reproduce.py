"""`cleargate reproduce`: registered versions rebuilt from their commit and the DVC cache, in a real git + DVC
project run through to registration once (a tree champion on the breast-cancer records, an LSTM champion on
the rehab recordings). Identical rebuilds say `identical`; a fresh clone names the data it lacks, then rebuilds
from a DVC remote and catches a registered metric that differs; versions that cannot be rebuilt are refused in
one line. A reproduction registers nothing, caches nothing and leaves no worktree."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import pytest
import yaml
from mlflow.tracking import MlflowClient
from typer.testing import CliRunner

from cleargate.cli import app
from tests.projects import commit, run, write_params

TREE, LSTM = "breast-cancer-classifier", "rehab-exercise-classifier"


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory, golden_mixed) -> Path:
    """Both datasets through `dvc repro` to a champion each, results committed (the golden mixed project)."""
    project = golden_mixed.clone(tmp_path_factory.mktemp("reproduce"))
    assert run(["git", "status", "--porcelain", "--untracked-files=no"], project).stdout == "", "a clean commit"
    return project


def selected(project: Path, dataset: str) -> str:
    """The model the release registered for `dataset` (its promotion record)."""
    return json.loads((project / "reports" / dataset / "promotion.json").read_text())["selected"]


def client_of(project: Path) -> MlflowClient:
    uri = f"sqlite:///{project / 'mlflow.db'}"
    return MlflowClient(uri, uri)


def reproduce(project: Path, ref: str, *options: str):
    return CliRunner().invoke(app, ["reproduce", ref, *options, "--params", str(project / "params.yaml")])


def cache_objects(project: Path) -> set[Path]:
    return {p for p in (project / ".dvc" / "cache").rglob("*") if p.is_file()}


@pytest.mark.slow
@pytest.mark.parametrize(("name", "dataset"), [(TREE, "breast_cancer"), (LSTM, "rehab")])
def test_a_champion_built_here_is_rebuilt_identical(built: Path, name: str, dataset: str):
    model = selected(built, dataset)
    client = client_of(built)
    versions, cached = len(client.search_model_versions(f"name='{name}'")), cache_objects(built)
    result = reproduce(built, f"{name}@champion")
    lines = result.output.strip().splitlines()
    assert result.exit_code == 0, result.output
    assert lines[-1] == "identical", result.output
    assert f"{name} v1: model {model}, commit" in lines[0]
    assert any(line.startswith("restored data/processed/") and "from the DVC cache" in line for line in lines), lines
    assert len(client.search_model_versions(f"name='{name}'")) == versions, "a reproduction registers nothing"
    assert cache_objects(built) == cached, "a reproduction puts nothing in the project's DVC cache"
    worktrees = run(["git", "worktree", "list", "--porcelain"], built).stdout
    assert worktrees.count("worktree ") == 1, worktrees


@pytest.mark.slow
def test_a_fresh_clone_names_missing_data_then_rebuilds_from_a_remote_and_catches_a_changed_metric(
        built: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(built), str(clone)], check=True)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{built / 'mlflow.db'}")  # the team's store

    missing = reproduce(clone, f"{TREE}@champion")
    assert missing.exit_code == 2, missing.output
    error = missing.output.strip().splitlines()[-1]
    assert error.startswith(f"error: {TREE} v1: data/processed/breast_cancer/ (the splits"), error
    assert f"not found in the DVC cache {(clone / '.dvc' / 'cache').resolve()}, and no DVC remote" in error, error
    assert "dvc push" in error and "Traceback" not in missing.output

    remote = tmp_path / "remote"
    for repo in (built, clone):
        run(["dvc", "remote", "add", "--local", "-d", "store", str(remote)], repo)
    run(["dvc", "push", "split@breast_cancer"], built)

    client = client_of(built)
    run_id = client.get_model_version_by_alias(TREE, "champion").run_id
    registered = client.get_run(run_id).data.metrics["test_macro_f1"]
    stamp = int(time.time() * 1000)
    client.log_metric(run_id, "test_macro_f1", registered + 0.01, timestamp=stamp, step=0)  # the record altered
    try:
        changed = reproduce(clone, f"{TREE}@champion")
    finally:
        client.log_metric(run_id, "test_macro_f1", registered, timestamp=stamp + 1, step=0)
    assert "restored data/processed/breast_cancer/ from the DVC remote store" in changed.output, changed.output
    assert changed.exit_code == 3, changed.output  # judged: the rebuild differs
    verdict = changed.output.strip().splitlines()[-1]
    assert verdict == f"differs: macro_f1 {registered + 0.01:.6g} -> {registered:.6g} (-0.01)", verdict


@pytest.mark.slow
@pytest.mark.parametrize(("commit", "says"), [
    ("{head}-dirty", "built from uncommitted code on top of {short}"),
    ("unknown", "no git commit recorded (lineage.git_commit=unknown)"),
    ("0" * 40, "commit 000000000000 is not in the history of"),
])
def test_a_version_that_cannot_be_rebuilt_is_refused_in_one_line(built: Path, commit: str, says: str):
    import mlflow

    head = run(["git", "rev-parse", "HEAD"], built).stdout.strip()
    client = client_of(built)
    mlflow.set_tracking_uri(f"sqlite:///{built / 'mlflow.db'}")  # a `models:/m-<id>` source resolves through it
    champion = client.get_model_version_by_alias(TREE, "champion")
    forged = client.create_model_version(TREE, champion.source, run_id=champion.run_id, tags={
        **champion.tags, "lineage.git_commit": commit.format(head=head)})
    result = reproduce(built, f"{TREE}/{forged.version}")
    assert result.exit_code == 2, result.output
    assert result.output.count("\n") == 1 and "Traceback" not in result.output, result.output
    assert says.format(short=head[:12]) in result.output, result.output


@pytest.mark.slow
@pytest.mark.parametrize(("golden", "name"), [("golden_records", TREE), ("golden_digits", "digits-classifier")])
def test_the_first_runs_champions_are_rebuilt_identical(golden: str, name: str, request, tmp_path: Path):
    """A first `cleargate run` on a fresh clone (the flow writes dvc.lock as it goes: before each promote), then
    `cleargate reproduce`: the trees and the CNN give the same metrics and the same weights."""
    project = request.getfixturevalue(golden).clone(tmp_path)
    version = client_of(project).get_model_version_by_alias(name, "champion")
    assert version.tags["lineage.dvc_lock_sha256"] != "missing" and "-dirty" not in version.tags["lineage.git_commit"]
    result = reproduce(project, f"{name}@champion")
    assert result.exit_code == 0 and result.output.strip().splitlines()[-1] == "identical", result.output


@pytest.mark.slow
def test_a_version_from_tunes_dvc_exp_run_command_is_rebuilt_and_an_other_environment_is_said(
        golden_records, tmp_path: Path):
    """Results committed (the golden records project), `cleargate tune` prints a `dvc exp run -S ...`; run as
    printed, it registers a version from the experiment, which reproduces `identical`. A version tagged with
    another environment is rebuilt anyway with one line saying so, or refused with --strict-env (exit 2)."""
    import re
    import shlex

    project = golden_records.clone(tmp_path)
    config = yaml.safe_load((project / "params.yaml").read_text())
    config["tuning"]["space"] = {"cancer_rf": {"n_estimators": {"low": 21, "high": 30}}}  # never the fitted 20
    write_params(project / "params.yaml", config)
    commit(project, "a search space for cancer_rf", "params.yaml")
    tuned = CliRunner().invoke(app, ["tune", "cancer_rf", "--trials", "2", "--params", str(project / "params.yaml")])
    assert tuned.exit_code == 0, tuned.output
    command = re.search(r"(dvc exp run .+)", tuned.output).group(1)
    done = run(shlex.split(command), project, check=False)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    client = client_of(project)
    latest = max(client.search_model_versions(f"name='{TREE}'"), key=lambda v: int(v.version))
    assert latest.version != "1" and not latest.tags["lineage.git_commit"].endswith("-dirty"), latest.tags
    assert latest.tags["model"] == "cancer_rf" or "cancer_rf" in done.stdout, done.stdout[-2000:]
    assert latest.tags["lineage.dvc_exp_baseline"] == latest.tags["lineage.git_commit"]

    import mlflow

    mlflow.set_tracking_uri(f"sqlite:///{project / 'mlflow.db'}")  # a `models:/m-<id>` source resolves through it
    other = client.create_model_version(TREE, latest.source, run_id=latest.run_id,
                                        tags={**latest.tags, "lineage.torch": "1.0.0"})
    refused = reproduce(project, f"{TREE}/{other.version}", "--strict-env")
    assert refused.exit_code == 2 and refused.output.count("\n") == 1, refused.output
    assert "built in another environment: torch 1.0.0 now" in refused.output
    rebuilt = reproduce(project, f"{TREE}/{other.version}")
    lines = rebuilt.output.strip().splitlines()
    assert rebuilt.exit_code == 0 and lines[-1] == "identical", rebuilt.output
    assert "experiment" in lines[0] and any("torch 1.0.0 now" in line and "rebuilding anyway" in line
                                            for line in lines), lines
