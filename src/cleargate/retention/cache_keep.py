"""The DVC cache objects `cleargate gc` keeps: everything the workspace's dvc.lock and .dvc files name, the same
files as HEAD commits them, and everything each registered version's lineage/dvc.lock names (the dvc.lock entries
logged with the version, which `cleargate reproduce` restores the version's data by).

Why not `dvc gc`: it keeps what named revisions use (the workspace, branches, tags, commits, experiments) and
has no way to keep an arbitrary set of objects. A version's dvc.lock entries are logged when it is registered,
not committed: the flow writes dvc.lock before promote, and a team commits it later or never (a scheduled run, a
`dvc exp run`), so no revision `dvc gc` could be given is sure to name them, and `dvc gc --workspace` after the
next run would delete the data an older version was trained on, breaking `cleargate reproduce NAME/VERSION`. So
the keep-set is read here from the lock files themselves, and the cache is swept over its documented layout
(`cache_sweep`): an object is `files/md5/<2 hex>/<30 hex>` (DVC 2's legacy objects: `<2 hex>/<30 hex>` at the
cache root), a directory is a `.dir` object listing its files' md5s, which are kept with it.
"""

from __future__ import annotations

import json
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from cleargate.errors import CleargateError
from cleargate.retention.registered_runs import RegisteredVersion
from cleargate.tracking.lineage import LOCK_ARTIFACT, LOCK_FILE
from cleargate.tracking.store import TrackingStoreError, shown_uri

if TYPE_CHECKING:
    from mlflow.tracking import MlflowClient

DIR_SUFFIX = ".dir"
LOCK_TAG = "lineage.dvc_lock_sha256"   # "missing": the version was registered without dvc.lock entries


@dataclass(frozen=True)
class LockText:
    """One dvc.lock or .dvc file's content, and what it is (said when it cannot be read)."""

    what: str
    text: str


@dataclass(frozen=True)
class KeepSet:
    hashes: frozenset[str]        # md5s (a directory's with `.dir`) of every object kept, directories expanded
    sources: tuple[str, ...]      # what was read: the workspace's files, HEAD's, each version's lineage
    without_lineage: tuple[str, ...]   # versions registered with no dvc.lock entries: nothing of theirs to keep


def object_path(cache: Path, md5: str) -> Path | None:
    """Where the cache holds `md5`: DVC 3's `files/md5/`, else DVC 2's legacy layout; None when it holds none."""
    for base in (cache / "files" / "md5", cache):
        path = base / md5[:2] / md5[2:]
        if path.is_file():
            return path
    return None


def named_hashes(lock: LockText) -> set[str]:
    """Every md5 a dvc.lock (each stage's deps and outs) or a .dvc file (its outs and deps) names."""
    try:
        data = yaml.safe_load(lock.text) or {}
    except yaml.YAMLError as exc:
        raise CleargateError(f"{lock.what}: not valid YAML ({str(exc).splitlines()[0]}); fix or restore it, "
                             "then run `cleargate gc` again (nothing was deleted)") from None
    entries: list[Any] = []
    stages = data.get("stages") if isinstance(data, dict) else None
    if isinstance(stages, dict):
        for stage in stages.values():
            if isinstance(stage, dict):
                entries += (stage.get("deps") or []) + (stage.get("outs") or [])
    elif isinstance(data, dict):
        entries += (data.get("outs") or []) + (data.get("deps") or [])
    return {str(e["md5"]) for e in entries if isinstance(e, dict) and e.get("md5")}


def expand(hashes: set[str], cache: Path) -> set[str]:
    """The hashes with every file of each directory they name (its `.dir` manifest, read from the cache)."""
    found = set(hashes)
    for md5 in hashes:
        if not md5.endswith(DIR_SUFFIX) or (manifest := object_path(cache, md5)) is None:
            continue
        try:
            entries = json.loads(manifest.read_text())
        except (OSError, ValueError) as exc:
            raise CleargateError(f"{manifest}: a DVC directory manifest that cannot be read ({exc}); nothing was "
                                 "deleted: check the cache (`dvc status -c`) before collecting it") from None
        found.update(str(e["md5"]) for e in entries if isinstance(e, dict) and e.get("md5"))
    return found


def _git(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, check=False)


def workspace_locks(root: Path) -> list[LockText]:
    """The workspace's dvc.lock and .dvc files as they are on disk, then the tracked ones as HEAD commits them."""
    listed = _git(root, "ls-files", "-co", "--exclude-standard", "--", "*dvc.lock", "*.dvc")
    if listed.returncode != 0:   # not a git repository: the project's own dvc.lock
        paths = [LOCK_FILE] if (root / LOCK_FILE).is_file() else []
        return [LockText(f"{root / p}", (root / p).read_text()) for p in paths]
    paths = [p for p in listed.stdout.splitlines() if p and (root / p).is_file()]
    found = [LockText(f"{root / p}", (root / p).read_text()) for p in paths]
    tracked = _git(root, "ls-files", "--", "*dvc.lock", "*.dvc").stdout.splitlines()
    for path in tracked:
        shown = _git(root, "show", f"HEAD:./{path}")
        if shown.returncode == 0:
            found.append(LockText(f"{path} at HEAD", shown.stdout))
    return found


def version_lock(client: MlflowClient, version: RegisteredVersion) -> LockText | None:
    """The version's logged dvc.lock entries; None when it was registered without any. A store that fails to give
    one it has is an error: the cache must not be swept without it."""
    import mlflow
    from mlflow.exceptions import MlflowException

    if version.tags.get(LOCK_TAG) == "missing" or not version.run_id:
        return None
    folder, name = LOCK_ARTIFACT.rsplit("/", 1)
    try:
        listed = {Path(f.path).name for f in client.list_artifacts(version.run_id, folder)}
        if name not in listed:
            return None
        with tempfile.TemporaryDirectory(prefix="cleargate-gc-") as scratch:
            local = mlflow.artifacts.download_artifacts(run_id=version.run_id, artifact_path=LOCK_ARTIFACT,
                                                        dst_path=scratch, tracking_uri=client.tracking_uri)
            return LockText(f"{version.label}'s {LOCK_ARTIFACT} (run {version.run_id})", Path(local).read_text())
    except (MlflowException, OSError) as exc:
        raise TrackingStoreError(f"{shown_uri(client.tracking_uri)}: could not read {version.label}'s "
                                 f"{LOCK_ARTIFACT} (run {version.run_id}: {str(exc).splitlines()[0][:200]}); "
                                 "nothing was deleted: the DVC cache is never collected without every version's "
                                 "lineage") from None


def keep_set(root: Path, cache: Path, client: MlflowClient, versions: list[RegisteredVersion]) -> KeepSet:
    locks = workspace_locks(root)
    without = []
    for version in versions:
        lock = version_lock(client, version)
        if lock is None:
            without.append(version.label)
        else:
            locks.append(lock)
    hashes: set[str] = set()
    for lock in locks:
        hashes |= named_hashes(lock)
    return KeepSet(frozenset(expand(hashes, cache)), tuple(lock.what for lock in locks), tuple(without))
