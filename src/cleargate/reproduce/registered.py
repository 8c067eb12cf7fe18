"""What the registry says a version is: its lineage tags, its test metrics and the dvc.lock it was built with."""

from __future__ import annotations

import hashlib
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from cleargate.errors import CleargateError
from cleargate.tracking.lineage import LOCK_ARTIFACT
from cleargate.tracking.model_ref import resolve_version

if TYPE_CHECKING:
    from mlflow.tracking import MlflowClient

TEST_PREFIX = "test_"   # evaluate logs the metrics file's numbers on the model's run as test_<name>
FIX_DIRTY = ("commit (or stash) every change before `make run`, then register again: only a version built "
             "from a clean commit can be rebuilt")


@dataclass(frozen=True)
class Registered:
    name: str
    version: str
    model: str                  # the key of params.yaml `train` that was trained
    commit: str
    run_id: str
    tags: dict[str, str]
    metrics: dict[str, float]   # the version run's test metrics, without the `test_` prefix
    lock: bytes                 # dvc.lock as it was when the version was registered

    @property
    def label(self) -> str:
        return f"{self.name} v{self.version}"


def registered(client: MlflowClient, model_ref: str) -> Registered:
    """The version `model_ref` names, with everything a rebuild needs; one line on what is missing."""
    name, version = resolve_version(client, model_ref)
    found = client.get_model_version(name, version)
    label, tags = f"{name} v{version}", dict(found.tags)
    commit = tags.get("lineage.git_commit", "")
    if not commit or commit == "unknown":
        raise CleargateError(f"{label}: no git commit recorded (lineage.git_commit={commit or 'missing'}): it "
                             f"was not built inside a git repository, so it cannot be rebuilt; {FIX_DIRTY}")
    if commit.endswith("-dirty"):
        raise CleargateError(f"{label}: built from uncommitted changes on top of {commit.removesuffix('-dirty')[:12]} "
                             f"(lineage.git_commit ends in -dirty), so it cannot be rebuilt; {FIX_DIRTY}")
    if "model" not in tags or not found.run_id:
        raise CleargateError(f"{label}: no `model` tag or run: it was not registered by the pipeline's promote "
                             "stage, so there is nothing to rebuild it from")
    run = client.get_run(found.run_id)
    metrics = {k.removeprefix(TEST_PREFIX): v for k, v in run.data.metrics.items() if k.startswith(TEST_PREFIX)}
    if not metrics:
        raise CleargateError(f"{label}: its run {found.run_id} has no test metrics ({TEST_PREFIX}*) to compare "
                             "a rebuild with; reproduce a version the pipeline registered")
    return Registered(name, version, tags["model"], commit, found.run_id, tags, metrics,
                      _lock(client, label, found.run_id, tags.get("lineage.dvc_lock_sha256", "missing")))


def _lock(client: MlflowClient, label: str, run_id: str, expected: str) -> bytes:
    """The dvc.lock logged with the version, checked against its digest tag."""
    import mlflow
    from mlflow.exceptions import MlflowException

    with tempfile.TemporaryDirectory(prefix="cleargate-lock-") as folder:
        try:
            path = mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path=LOCK_ARTIFACT,
                                                       dst_path=folder, tracking_uri=client.tracking_uri)
        except (MlflowException, OSError):
            raise CleargateError(f"{label}: its run {run_id} has no {LOCK_ARTIFACT} (registered before versions "
                                 "carried it), so the data it was built from cannot be restored; run the pipeline "
                                 "again to register a version that has it") from None
        lock = Path(path).read_bytes()
    if hashlib.sha256(lock).hexdigest() != expected:
        raise CleargateError(f"{label}: the {LOCK_ARTIFACT} logged on run {run_id} does not match the version's "
                             f"lineage.dvc_lock_sha256 ({expected[:12]}): the record was altered; it cannot be "
                             "trusted for a rebuild")
    return lock
