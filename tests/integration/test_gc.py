"""`cleargate gc` on a real project with history: the golden records project (v1), run again with another seed
(v2: new splits, new models), results committed, then a batch scored and a batch monitored. With every keep period
0 days, `--dry-run` names what would go and deletes nothing; `cleargate gc` deletes and purges the monitoring and
scoring runs and sweeps the cache, and `cleargate reproduce` of v1 still says identical: its splits are named by
nothing but its own lineage, and a workspace-only `dvc gc` removes them (so the keep-set is what saves them)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pandas as pd
import pytest
import yaml
from mlflow.exceptions import MlflowException
from typer.testing import CliRunner

from cleargate.cli import app
from tests.projects import CLEARGATE, commit, run, write_params

NAME = "breast-cancer-classifier"
SECONDS = 900


def cleargate(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    done = run([CLEARGATE, *args], project, check=False, timeout=SECONDS)
    assert done.returncode == 0, f"cleargate {' '.join(args)}: {done.stdout[-2000:]}{done.stderr[-2000:]}"
    return done


def client_of(project: Path):
    from mlflow.tracking import MlflowClient

    uri = f"sqlite:///{project / 'mlflow.db'}"
    return MlflowClient(uri, uri)


def cache_files(project: Path) -> dict[str, int]:
    root = project / ".dvc" / "cache" / "files" / "md5"
    return {str(p.relative_to(root)).replace("/", ""): p.stat().st_size for p in root.rglob("*") if p.is_file()}


def split_objects(lock_text: str) -> set[str]:
    """The `.dir` objects of the split stage's output folders in a dvc.lock (the splits themselves)."""
    stage = next(v for k, v in yaml.safe_load(lock_text)["stages"].items() if k.startswith("split@"))
    return {out["md5"] for out in stage["outs"] if out["md5"].endswith(".dir")}


def v1_lock(project: Path) -> str:
    import mlflow

    run_id = client_of(project).get_model_version(NAME, "1").run_id
    return Path(mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path="lineage/dvc.lock",
                                                    tracking_uri=f"sqlite:///{project / 'mlflow.db'}")).read_text()


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory, golden_records) -> Path:
    project = golden_records.clone(tmp_path_factory.mktemp("gc"))
    params = yaml.safe_load((project / "params.yaml").read_text())
    params["seed"] = params["seed"] + 1           # new splits, new models: v2
    params["retention"].update(keep_days={k: 0 for k in params["retention"]["keep_days"]}, cache_grace_minutes=0)
    write_params(project / "params.yaml", params)
    commit(project, "another seed; keep nothing old", "params.yaml")
    cleargate(project, "run")
    commit(project, "results", "dvc.lock")
    test = pd.read_parquet(project / "data" / "processed" / "breast_cancer" / "test.parquet")
    test.drop(columns="label").to_parquet(project / "batch.parquet")
    cleargate(project, "score", str(project / "batch.parquet"), "--model", f"{NAME}@champion")
    (project / "data" / "inbox" / "breast_cancer").mkdir(parents=True, exist_ok=True)
    test.to_parquet(project / "data" / "inbox" / "breast_cancer" / "labelled.parquet")
    cleargate(project, "monitor", "--dataset", "breast_cancer", "--no-retrain")
    return project


def gc(project: Path, *options: str) -> dict:
    result = CliRunner().invoke(app, ["gc", "--json", *options, "--params", str(project / "params.yaml")])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


@pytest.mark.slow
def test_gc_deletes_old_runs_and_unused_cache_and_the_oldest_version_still_rebuilds_identical(history: Path):
    client = client_of(history)
    versions = client.search_model_versions(f"name='{NAME}'")
    assert sorted(str(v.version) for v in versions) == ["1", "2"]
    registered_runs = {v.run_id for v in versions}
    cached, artifacts = cache_files(history), sum(p.stat().st_size for p in (history / "mlartifacts").rglob("*")
                                                  if p.is_file())

    dry = gc(history, "--dry-run")
    assert dry["dry_run"] and dry["runs"]["monitoring"]["count"] == 1 and dry["runs"]["scoring"]["count"] == 1
    assert dry["cache"]["objects"] > 0 and dry["cache"]["bytes"] > 0 and dry["would_free_bytes"] > 0
    assert not registered_runs & {r for kind in dry["runs"].values() for r in kind["run_ids"]}
    doomed = [r for kind in dry["runs"].values() for r in kind["run_ids"]]
    assert all(client.get_run(r).info.lifecycle_stage == "active" for r in doomed), "a dry run deletes nothing"
    assert cache_files(history) == cached

    done = gc(history)
    assert done["runs_total"] == 2 and done["cache"]["objects"] == dry["cache"]["objects"]
    for run_id in doomed:
        with pytest.raises(MlflowException):
            client.get_run(run_id)                     # purged by `mlflow gc`, not only marked deleted
    assert all(client.get_run(r).info.lifecycle_stage == "active" for r in registered_runs)
    after = cache_files(history)
    assert set(after) < set(cached) and sum(cached.values()) - sum(after.values()) == done["cache"]["bytes"]
    assert artifacts - sum(p.stat().st_size for p in (history / "mlartifacts").rglob("*") if p.is_file()) \
        == done["run_artifact_bytes"] > 0
    assert split_objects(v1_lock(history)) <= set(after), "v1's splits are kept: its lineage names them"
    assert gc(history, "--dry-run")["would_free_bytes"] == 0, "a second gc finds nothing more"

    rebuilt = CliRunner().invoke(app, ["reproduce", f"{NAME}/1", "--params", str(history / "params.yaml")])
    assert rebuilt.exit_code == 0 and rebuilt.output.strip().splitlines()[-1] == "identical", rebuilt.output
    assert "from the DVC cache" in rebuilt.output


@pytest.mark.slow
def test_a_workspace_only_dvc_gc_would_break_the_oldest_versions_rebuild(history: Path, tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch):
    splits = split_objects(v1_lock(history))
    assert not splits & split_objects((history / "dvc.lock").read_text()), "only v1's lineage names its splits"
    other = tmp_path / "copy"
    shutil.copytree(history, other, symlinks=True)
    run(["dvc", "gc", "--workspace", "--force"], other)
    assert not splits & set(cache_files(other)), "`dvc gc --workspace` removes v1's splits"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{history / 'mlflow.db'}")   # the same registry
    broken = CliRunner().invoke(app, ["reproduce", f"{NAME}/1", "--params", str(other / "params.yaml")])
    assert broken.exit_code == 2 and "not found in the DVC cache" in broken.output, broken.output
