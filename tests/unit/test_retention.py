"""`cleargate gc`'s decisions on real components: which MLflow runs go and which stay (a real SQLite store, runs
back-dated through MLflow's own `set_terminated(end_time=...)`), and which DVC cache objects the keep-set holds (a
real git + DVC repository, `dvc add`, its `.dir` manifests). The deletions themselves, `mlflow gc` and the
rebuild of an older version afterwards are in tests/integration/test_gc.py."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
import yaml

from cleargate.config.retention import KeepDays
from cleargate.errors import ConfigError
from cleargate.monitoring.monitoring_runs import experiment as monitoring_experiment
from cleargate.params import load_project
from cleargate.retention import collect
from cleargate.retention.cache_keep import LockText, expand, keep_set, named_hashes, workspace_locks
from cleargate.retention.cache_sweep import cache_dir, objects, plan_sweep, sweep
from cleargate.retention.expired_runs import DAY_MS, select_expired
from cleargate.retention.registered_runs import protected_runs, registered_versions
from cleargate.retention.run_kinds import run_queries
from cleargate.scoring.scoring_runs import experiment as scoring_experiment
from cleargate.tracking import connect, ensure_experiment
from cleargate.tracking.lineage import LOCK_ARTIFACT
from cleargate.tracking.model_runs import PARENT_TAG
from tests.projects import commit, run, tiny_params, write_params

NAME = "breast-cancer-classifier"
NOW_MS = int(time.time() * 1000)


@pytest.fixture
def store(tmp_path: Path):
    """A project of one dataset on its own SQLite store: (ProjectParams, MlflowClient)."""
    project = load_project(write_params(tmp_path / "params.yaml", tiny_params("breast_cancer", digits=False)))
    return project, connect(project.scope("breast_cancer"))


def ended(client, experiment_id: str, days_ago: float | None, **tags: str) -> str:
    """A run that ended `days_ago` days ago (None: still running); its id."""
    end = None if days_ago is None else NOW_MS - int(days_ago * DAY_MS)
    made = client.create_run(experiment_id, start_time=(end or NOW_MS) - 1000, tags=tags)
    if end is not None:
        client.set_terminated(made.info.run_id, "FINISHED", end_time=end)
    return made.info.run_id


def test_old_runs_of_each_kind_go_and_what_a_registered_version_rests_on_stays(store):
    project, client = store
    params = project.scope("breast_cancer")
    monitoring = ensure_experiment(params, client, monitoring_experiment(params))
    scoring = ensure_experiment(params, client, scoring_experiment(params))
    main = ensure_experiment(params, client, params.experiment)

    old_batch = ended(client, monitoring, 10)
    recent_batch = ended(client, monitoring, 1)
    open_batch = ended(client, monitoring, None)            # a long-lived run still being written to
    cited_batch = ended(client, monitoring, 10)             # a version's lineage names it
    old_score, kept_score = ended(client, scoring, 40), ended(client, scoring, 10)   # scoring keeps 30 days
    deleted_score = ended(client, scoring, 40)
    client.delete_run(deleted_score)                        # deleted by a gc whose `mlflow gc` failed
    search = ended(client, main, 10, stage="tune")
    trial = ended(client, main, 10, stage="tune-trial", **{PARENT_TAG: search})
    measurement = ended(client, main, 10, stage="stability")
    seed = ended(client, main, 10, stage="stability", **{PARENT_TAG: measurement})
    training = ended(client, main, 400, stage="train")      # never a kind gc deletes
    pipeline = ended(client, main, 400, stage="promote")

    client.create_registered_model(NAME)
    client.create_model_version(NAME, f"runs:/{training}/model", run_id=training,
                                tags={"pipeline_run_id": pipeline, "lineage.retrain_from": f"batch {cited_batch}"})
    client.create_model_version(NAME, f"runs:/{seed}/model", run_id=seed)   # a seed's run registered: its parent too

    versions = registered_versions(client)
    assert [v.label for v in versions] == [f"{NAME} v1", f"{NAME} v2"]
    protected = protected_runs(client, versions)
    assert {training, pipeline, cited_batch, seed, measurement} <= protected
    assert not {old_batch, old_score, search, trial} & protected

    keep = KeepDays(monitoring=5, scoring=30, tuning=5, stability=5)
    selection = select_expired(client, run_queries(project), keep, protected, NOW_MS)
    gone = {r.run_id: r for r in selection.expired}
    assert set(gone) == {old_batch, old_score, deleted_score, search, trial}
    assert {gone[old_batch].kind, gone[old_score].kind, gone[search].kind, gone[trial].kind} == \
        {"monitoring", "scoring", "tuning"}
    assert gone[deleted_score].deleted and not gone[old_score].deleted
    assert set(selection.protected) == {cited_batch, measurement, seed}
    assert not {recent_batch, open_batch, kept_score, training, pipeline} & set(gone)

    everything = select_expired(client, run_queries(project), KeepDays(monitoring=0, scoring=0, tuning=0,
                                                                       stability=0), protected, NOW_MS)
    assert recent_batch in {r.run_id for r in everything.expired}, "0 days: every finished run is old"
    assert open_batch not in {r.run_id for r in everything.expired}, "a run still open is never old"

    report = collect(project.model_copy(update={"retention": project.retention.model_copy(
        update={"keep_days": keep})}), client, params.tracking.uri, dry_run=True)
    assert report.dry_run and report.run_count == 5 and report.runs["tuning"] == sorted([search, trial])
    assert report.protected_runs == 3 and report.cache is None
    assert client.get_run(old_batch).info.lifecycle_stage == "active", "a dry run deletes nothing"
    assert report.lines()[-1] == "dry run: nothing deleted"


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A git + DVC repository with a tracked folder (a `.dir` object) and a file, committed."""
    root = tmp_path / "repo"
    (root / "data" / "split").mkdir(parents=True)
    run(["git", "init", "-q"], root)
    run(["dvc", "init", "-q"], root)
    for name, text in (("train.csv", "a,b\n1,2\n"), ("test.csv", "a,b\n3,4\n")):
        (root / "data" / "split" / name).write_text(text)
    (root / "data" / "raw.csv").write_text("a,b\n1,2\n3,4\n")
    run(["dvc", "add", "-q", "data/split", "data/raw.csv"], root)
    commit(root, "data")
    return root


def md5_of(dvc_file: str) -> str:
    return yaml.safe_load(dvc_file)["outs"][0]["md5"]


def test_the_keep_set_expands_folders_and_keeps_what_only_a_versions_lineage_names(repo: Path):
    cache = cache_dir(repo)
    assert cache == (repo / ".dvc" / "cache").resolve()
    first = (repo / "data" / "split.dvc").read_text()             # what an older version's lineage names
    old_dir = md5_of(first)
    manifest = cache / "files" / "md5" / old_dir[:2] / old_dir[2:]
    entries = {e["relpath"]: e["md5"] for e in json.loads(manifest.read_text())}
    old_train = entries["train.csv"]
    (repo / "data" / "split" / "train.csv").write_text("a,b\n5,6\n")   # the next run's data
    run(["dvc", "add", "-q", "data/split"], repo)
    commit(repo, "new split")

    workspace = set()
    for lock in workspace_locks(repo):
        workspace |= named_hashes(lock)
    workspace = expand(workspace, cache)
    new_dir = md5_of((repo / "data" / "split.dvc").read_text())
    assert {new_dir, entries["test.csv"], md5_of((repo / "data" / "raw.csv.dvc").read_text())} <= workspace
    assert not {old_dir, old_train} & workspace, "the workspace (and HEAD) no longer name the older data"

    lineage = expand(named_hashes(LockText("v1's lineage/dvc.lock", yaml.safe_dump(
        {"schema": "2.0", "stages": {"split@x": {"outs": [{"path": "data/split", "hash": "md5", "md5": old_dir}]}}}))),
        cache)
    assert {old_dir, old_train, entries["test.csv"]} <= lineage, "a .dir is kept with every file it lists"

    legacy = cache / "ab" / ("c" * 30)                            # a DVC 2 object no one names
    legacy.parent.mkdir()
    legacy.write_text("old")
    scratch = cache / "files" / "md5" / "ab" / "cdef.tmp"         # not an object's name: never touched
    scratch.parent.mkdir(exist_ok=True)
    scratch.write_text("in flight")

    only_workspace = plan_sweep(cache, frozenset(workspace), grace_s=0, now=time.time())
    assert {o.md5 for o in only_workspace.doomed} == {old_dir, old_train, "ab" + "c" * 30}
    kept = plan_sweep(cache, frozenset(workspace | lineage), grace_s=0, now=time.time())
    assert {o.md5 for o in kept.doomed} == {"ab" + "c" * 30}
    young = plan_sweep(cache, frozenset(workspace | lineage), grace_s=3600, now=time.time())
    assert not young.doomed and young.young == 1

    before = {o.md5 for o in objects(cache)}
    assert sweep(kept) == kept.bytes == 3
    assert not legacy.exists() and scratch.exists() and not legacy.parent.exists()
    assert {o.md5 for o in objects(cache)} == before - {"ab" + "c" * 30}


def test_the_keep_set_reads_every_registered_versions_logged_lock(store, repo: Path, tmp_path: Path):
    project, client = store
    params = project.scope("breast_cancer")
    cache = cache_dir(repo)
    old_dir = md5_of((repo / "data" / "split.dvc").read_text())
    (repo / "data" / "split" / "train.csv").write_text("a,b\n7,8\n")
    run(["dvc", "add", "-q", "data/split"], repo)
    commit(repo, "new split")

    main = ensure_experiment(params, client, params.experiment)
    built = ended(client, main, 1, stage="train")
    lock = {"schema": "2.0", "stages": {"split@breast_cancer": {"outs": [{"path": "data/split", "hash": "md5",
                                                                          "md5": old_dir}]}}}
    client.log_text(built, yaml.safe_dump(lock), LOCK_ARTIFACT)
    client.create_registered_model(NAME)
    client.create_model_version(NAME, f"runs:/{built}/model", run_id=built)
    bare = ended(client, main, 1, stage="train")
    client.create_model_version(NAME, f"runs:/{bare}/model", run_id=bare,
                                tags={"lineage.dvc_lock_sha256": "missing"})

    found = keep_set(repo, cache, client, registered_versions(client))
    assert old_dir in found.hashes
    assert any(f"{NAME} v1's {LOCK_ARTIFACT}" in s for s in found.sources)
    assert found.without_lineage == (f"{NAME} v2",)


def test_a_cache_outside_the_project_is_refused(repo: Path, tmp_path: Path):
    run(["dvc", "cache", "dir", "--local", str(tmp_path / "shared-cache")], repo)
    with pytest.raises(ConfigError, match="outside the project"):
        cache_dir(repo)


def test_on_a_tracking_server_the_purge_is_the_operators_one_line():
    from cleargate.retention.expired_runs import ExpiredRun
    from cleargate.retention.run_purge import artifact_bytes, purge

    runs = [ExpiredRun("monitoring", "a" * 32, "cleargate-x-monitoring", 0, "mlflow-artifacts:/1/aaa/artifacts",
                       False)]
    line = purge("http://mlflow.internal:5000", runs)
    assert "deleted on the tracking server http://mlflow.internal:5000" in line
    assert "mlflow gc --backend-store-uri <the server's --backend-store-uri" in line and "\n" not in line
    assert artifact_bytes(runs) is None, "a server's artifacts are not counted from here"
