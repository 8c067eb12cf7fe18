"""What the registry says a version is: its lineage tags, its test metrics and the dvc.lock it was built with."""

from __future__ import annotations

import hashlib
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from cleargate.errors import CleargateError
from cleargate.tracking.lineage import LOCK_ARTIFACT, PARAMS_ARTIFACT
from cleargate.tracking.model_ref import resolve_version

if TYPE_CHECKING:
    from mlflow.tracking import MlflowClient

TEST_PREFIX = "test_"   # evaluate logs the metrics file's numbers on the model's run as test_<name>
FIX_DIRTY = ("commit (or stash) every change to the code before `cleargate run`, then register again: only a "
             "version built from committed code can be rebuilt (params.yaml and dvc.lock changes are logged with it)")


@dataclass(frozen=True)
class Registered:
    name: str
    version: str
    model: str                  # the key of params.yaml `train` that was trained
    commit: str
    run_id: str
    tags: dict[str, str]
    metrics: dict[str, float]   # the version run's test metrics, without the `test_` prefix
    lock: bytes                 # the dvc.lock entries of the stages that made it
    params_file: bytes          # the exact params.yaml it ran with

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
        raise CleargateError(f"{label}: built from uncommitted code on top of {commit.removesuffix('-dirty')[:12]} "
                             f"(lineage.git_commit ends in -dirty), so it cannot be rebuilt; {FIX_DIRTY}")
    if "model" not in tags or not found.run_id:
        raise CleargateError(f"{label}: no `model` tag or run: it was not registered by the pipeline's promote "
                             "stage, so there is nothing to rebuild it from")
    run = client.get_run(found.run_id)
    metrics = {k.removeprefix(TEST_PREFIX): v for k, v in run.data.metrics.items() if k.startswith(TEST_PREFIX)}
    if not metrics:
        raise CleargateError(f"{label}: its run {found.run_id} has no test metrics ({TEST_PREFIX}*) to compare "
                             "a rebuild with; reproduce a version the pipeline registered")
    lock = _artifact(client, label, found.run_id, LOCK_ARTIFACT, tags.get("lineage.dvc_lock_sha256", "missing"),
                     "dvc.lock had no entry for its dataset's split when it was registered (its stages ran outside "
                     "DVC's bookkeeping), so the data it was built from cannot be restored")
    params_file = _artifact(client, label, found.run_id, PARAMS_ARTIFACT,
                            tags.get("lineage.params_file_sha256", "missing"), "the params.yaml it ran with was not "
                            "logged with it, so it cannot be rebuilt with the same parameters")
    return Registered(name, version, tags["model"], commit, found.run_id, tags, metrics, lock, params_file)


def _artifact(client: MlflowClient, label: str, run_id: str, path: str, expected: str, missing: str) -> bytes:
    """A file logged with the version, checked against its digest tag."""
    import mlflow
    from mlflow.exceptions import MlflowException

    with tempfile.TemporaryDirectory(prefix="cleargate-lineage-") as folder:
        try:
            local = mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path=path, dst_path=folder,
                                                        tracking_uri=client.tracking_uri)
        except (MlflowException, OSError):
            raise CleargateError(f"{label}: its run {run_id} has no {path}: {missing}; run the pipeline again to "
                                 "register a version that has it") from None
        content = Path(local).read_bytes()
    if hashlib.sha256(content).hexdigest() != expected:
        raise CleargateError(f"{label}: the {path} logged on run {run_id} does not match the version's digest tag "
                             f"({expected[:12]}): the record was altered; it cannot be trusted for a rebuild")
    return content
