"""`flows.dvc_adapter`, the flows' one use of DVC below its command line, against the installed DVC.

Version guard: the calls it makes (`Repo.status`, the index's stage graph, `Stage.save`/`Stage.commit`,
`ProjectFile.dump_stages`) exist as used, and recording stages gives exactly the dvc.lock of `dvc commit --force`
and of `dvc repro`. If a DVC release changes them, these tests fail here, not a user's run.
The saving the adapter buys: dvc.lock written once for all the stages a run ran, where `dvc commit` (and
`Repo.commit` per target) rewrites the whole file for each stage, about a second each for the 56 stages of a
first `make run` on this project.
On a real git + DVC repo: stages hashed early (in the background, as a dataset is promoted) and the rest at the
end give the dvc.lock `dvc repro` would: `dvc status` clean, outputs cached."""

from __future__ import annotations

import inspect
import shutil
from pathlib import Path

import pytest
import yaml

from flows.dvc_adapter import LockRecorder
from tests.projects import run

STAGES = {"first": "a.txt", "second": "b.txt", "third": "c.txt"}


@pytest.fixture()
def repo(tmp_path: Path) -> Path:
    """Three stages, each already run (its output written), none recorded in dvc.lock yet."""
    pipeline = {"stages": {name: {"cmd": f"echo {name} > {out}", "outs": [out]} for name, out in STAGES.items()}}
    pipeline["stages"]["second"]["deps"] = ["a.txt"]
    (tmp_path / "dvc.yaml").write_text(yaml.safe_dump(pipeline))
    for command in (["git", "init", "-q"], ["dvc", "init", "-q"]):
        run(command, tmp_path)
    for name, out in STAGES.items():
        (tmp_path / out).write_text(f"{name}\n")
    return tmp_path


def _cached(root: Path) -> int:
    return sum(1 for p in (root / ".dvc" / "cache").rglob("*") if p.is_file())


def test_stages_hashed_early_and_at_the_end_make_the_lock_dvc_repro_would(repo: Path, monkeypatch):
    monkeypatch.chdir(repo)
    recorder = LockRecorder(repo)
    assert recorder.early, "run from the project root: hashing may start before the end"
    recorder.hash_soon(["first", "second"])
    recorder._jobs[-1].result()  # the background job, done
    assert _cached(repo) >= 2, "the early stages' outputs are in the cache before dvc.lock is written"
    assert not (repo / "dvc.lock").exists(), "dvc.lock is written once, at the end"
    recorder.write(["first", "second", "third"])
    lock = yaml.safe_load((repo / "dvc.lock").read_text())["stages"]
    assert set(lock) == set(STAGES)
    assert lock["second"]["deps"][0]["md5"] == lock["first"]["outs"][0]["md5"], "the dep hashed like the out"
    status = run(["dvc", "status", "--json"], repo)
    assert yaml.safe_load(status.stdout) == {}, status.stdout
    assert run(["dvc", "repro", "--dry"], repo).stdout.count("Running stage") == 0, "dvc repro: nothing to run"


def test_from_another_folder_everything_waits_for_the_end(repo: Path, tmp_path_factory, monkeypatch):
    monkeypatch.chdir(tmp_path_factory.mktemp("elsewhere"))
    recorder = LockRecorder(repo)
    recorder.hash_soon(["first"])
    assert not recorder.early and not recorder._jobs, "no thread changes the working directory under the others"
    recorder.write(list(STAGES))
    assert yaml.safe_load(run(["dvc", "status", "--json"], repo).stdout) == {}
    assert Path.cwd() != repo, "the working directory is restored"


def test_a_write_started_soon_is_the_lock_write_waits_for(repo: Path, monkeypatch):
    monkeypatch.chdir(repo)
    recorder = LockRecorder(repo)
    assert recorder.write_soon(list(STAGES)) == [], "all of it taken by the recorder's thread"
    recorder._jobs[-1].result()  # written in the background, before `write`
    assert set(yaml.safe_load((repo / "dvc.lock").read_text())["stages"]) == set(STAGES)
    recorder.write([])  # waits for it and closes the repo
    assert recorder._thread is None and not recorder._jobs
    assert yaml.safe_load(run(["dvc", "status", "--json"], repo).stdout) == {}


def test_from_another_folder_nothing_is_written_soon(repo: Path, tmp_path_factory, monkeypatch):
    monkeypatch.chdir(tmp_path_factory.mktemp("elsewhere"))
    recorder = LockRecorder(repo)
    assert recorder.write_soon(["first"]) == ["first"] and not recorder._jobs, "left for `write`"
    assert not (repo / "dvc.lock").exists()


def test_the_dvc_calls_the_adapter_makes_exist_as_it_makes_them():
    from dvc.dvcfile import ProjectFile
    from dvc.repo import Repo, lock_repo
    from dvc.stage import Stage

    assert callable(lock_repo) and callable(Repo.status)
    assert "allow_missing" in inspect.signature(Stage.save).parameters
    commit = inspect.signature(Stage.commit).parameters  # relink=: passed on to each output's commit
    assert "relink" in commit or any(p.kind is inspect.Parameter.VAR_KEYWORD for p in commit.values())
    assert "update_pipeline" in inspect.signature(ProjectFile.dump_stages).parameters
    assert hasattr(Stage, "addressing") and hasattr(Stage, "dvcfile")


def test_recorded_stages_are_what_dvc_commit_force_records(repo: Path, tmp_path_factory, monkeypatch):
    by_dvc = tmp_path_factory.mktemp("by-dvc") / "repo"
    shutil.copytree(repo, by_dvc)
    run(["dvc", "commit", "--force", *STAGES], by_dvc)
    monkeypatch.chdir(repo)
    LockRecorder(repo).write(list(STAGES))
    assert yaml.safe_load((repo / "dvc.lock").read_text()) == yaml.safe_load((by_dvc / "dvc.lock").read_text())
