"""Where a model came from, recorded when it is registered, whatever drove the run (the flow, `dvc repro`, a
scheduled run, `dvc exp run` in the workspace, a temporary folder or a queue): the git commit of its code, the
exact params.yaml it ran with, the dvc.lock entries of the stages that made it, the data digests, and the
environment it ran in; as registry tags, with the files as artifacts of the version's run.

"Dirty" means code: a commit is recorded with `-dirty` only when tracked files other than the ones a run or an
experiment legitimately changes (params.yaml, dvc.lock: `dvc exp run -S` applies its parameters to params.yaml)
differ from it. Those two are logged with the version, so the rebuild applies them on top of the commit.
"""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import zipfile
from pathlib import Path

from cleargate.layout import WEIGHTS
from cleargate.params import DatasetParams
from cleargate.records import TrainRecord

LOCK_FILE = "dvc.lock"                      # DVC's record of every stage's inputs and outputs
PARAMS_FILE = "params.yaml"
RUN_CHANGES = (PARAMS_FILE, LOCK_FILE)      # what a run or `dvc exp run` changes in a clean checkout: not "dirty"
LOCK_ARTIFACT = "lineage/dvc.lock"          # the stages that made the version: `cleargate reproduce` restores by it
PARAMS_ARTIFACT = "lineage/params.yaml"     # the exact params.yaml it ran with: applied in the rebuild's checkout
ENVIRONMENT = ("requirements.lock",)        # the pinned environment, digested into lineage.env_sha256
VERSIONS = ("torch", "scikit-learn", "mlflow", "lightning")   # and the versions that decide a model's numbers
_SKOPS_ID = re.compile(r'("__id__": |"file": ")(\d+)')   # object ids (memory addresses) in a skops schema


def git_commit(root: Path) -> str:
    """HEAD's sha, suffixed `-dirty` when tracked files other than params.yaml and dvc.lock differ from it (the
    code changed); `unknown` outside git."""
    try:
        sha = _git(root, "rev-parse", "HEAD")
        top = Path(_git(root, "rev-parse", "--show-toplevel"))
        changed = _git(root, "status", "--porcelain", "--untracked-files=no").splitlines()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    allowed = {str((Path(root).resolve() / name).relative_to(top.resolve())) for name in RUN_CHANGES}
    code = [line for line in changed if line[3:].strip().split(" -> ")[-1] not in allowed]
    return f"{sha}-dirty" if code else sha


def _git(root: Path, *args: str) -> str:
    """git's output without its final newline (not stripped: `status --porcelain` lines start with a space)."""
    return subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, check=True).stdout.rstrip("\n")


def params_digest(params: DatasetParams) -> str:
    """Digest of the validated parameters (paths excluded: moving the project changes nothing)."""
    payload = params.model_dump(mode="json", exclude={"paths", "tracking", "root"})
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def lock_entries(root: Path, dataset: str, models: list[str]) -> bytes | None:
    """The dvc.lock entries of the stages that made a dataset's models: the dataset's own (ingest ... gate) and
    each model's train and evaluate, as DVC recorded them when they ran (`dvc repro` records each stage as it
    ends; the flow records every stage that ran before it starts a promote), in DVC's own format. None when
    dvc.lock has no entry for this dataset's split (the stages did not run under DVC's bookkeeping)."""
    import yaml

    path = root / LOCK_FILE
    if not path.is_file():
        return None
    lock = yaml.safe_load(path.read_text()) or {}
    stages = lock.get("stages") or {}
    keys = {f"@{dataset}"} | {f"@{m}" for m in models}
    kept = {name: entry for name, entry in stages.items()
            if any(name.endswith(key) for key in keys) and not name.startswith("promote@")}
    if f"split@{dataset}" not in kept:
        return None
    return yaml.safe_dump({"schema": lock.get("schema", "2.0"), "stages": kept}, sort_keys=False).encode()


def environment_tags(root: Path) -> dict[str, str]:
    """What the version was built with: the digest of the pinned environment, and the versions that decide a
    model's numbers (`cleargate reproduce` says when today's differ)."""
    import platform
    from importlib.metadata import PackageNotFoundError, version

    digest = hashlib.sha256()
    for name in ENVIRONMENT:
        digest.update((root / name).read_bytes() if (root / name).is_file() else b"missing")
    tags = {"lineage.env_sha256": digest.hexdigest(), "lineage.python": platform.python_version()}
    for package in VERSIONS:
        try:
            tags[f"lineage.{package}"] = version(package)
        except PackageNotFoundError:
            tags[f"lineage.{package}"] = "not installed"
    return tags


def experiment_tags() -> dict[str, str]:
    """Inside `dvc exp run` (workspace, --temp or --queue) DVC tells each stage the experiment's baseline commit
    and, when it has one already, its name."""
    import os

    baseline = os.environ.get("DVC_EXP_BASELINE_REV")
    if not baseline:
        return {}
    return {"lineage.dvc_exp_baseline": baseline, "lineage.dvc_exp_name": os.environ.get("DVC_EXP_NAME", "unnamed")}


def lineage_tags(params: DatasetParams, root: Path, data_sha256: str, split_digest: str, lock: bytes | None,
                 params_file: bytes) -> dict[str, str]:
    return {
        "lineage.git_commit": git_commit(root),
        "lineage.dvc_lock_sha256": hashlib.sha256(lock).hexdigest() if lock is not None else "missing",
        "lineage.params_sha256": params_digest(params),
        "lineage.params_file_sha256": hashlib.sha256(params_file).hexdigest(),
        "lineage.raw_data_sha256": data_sha256,
        "lineage.split_sha256": split_digest,
        **environment_tags(root),
        **experiment_tags(),
    }


def model_digest(model_dir: Path) -> str:
    """Digest of the saved weights/estimator: equal digests mean the same model (a refit that gives the same
    model gives the same digest: torch's archive is byte-stable, a skops archive is read canonically)."""
    digest = hashlib.sha256()
    for name in sorted(WEIGHTS.values()):
        if (path := Path(model_dir) / name).is_file():
            digest.update(_skops_content(path) if name == WEIGHTS["sklearn"] else path.read_bytes())
    return digest.hexdigest()


def _skops_content(path: Path) -> bytes:
    """A skops archive without what changes from one save of the same model to the next: zip timestamps, and
    the object ids (memory addresses) that name its arrays and memo entries, renumbered in schema order."""
    with zipfile.ZipFile(path) as archive:
        order: dict[str, int] = {}
        schema = _SKOPS_ID.sub(lambda m: f"{m.group(1)}{order.setdefault(m.group(2), len(order))}",
                               archive.read("schema.json").decode())
        content = hashlib.sha256(schema.encode())
        for name in sorted(set(archive.namelist()) - {"schema.json"}, key=lambda n: _member_key(n, order)):
            content.update(archive.read(name))
    return content.digest()


def _member_key(name: str, order: dict[str, int]) -> tuple[int, int, str]:
    """Files named by an object id (`<id>.npy`) in schema order, then the others by name."""
    stem, _, suffix = name.partition(".")
    return (0, order[stem], suffix) if stem in order else (1, 0, name)


def parent_tags(record: TrainRecord) -> dict[str, str]:
    """A fine-tuned model names the model it started from (the registered version, when it was one)."""
    if record.parent is None:
        return {}
    return {"lineage.parent_model": record.parent, "lineage.parent_version": record.parent_version or "none",
            "lineage.parent_sha256": record.parent_sha256 or "unknown",
            "lineage.parent_freeze": record.freeze or "none", "lineage.parent_head": record.head or "unknown"}
