"""Where a model came from: git commit, dvc.lock, params and data digests, as registry tags."""

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

LOCK_FILE = "dvc.lock"                      # DVC's record of every stage's inputs and outputs (not in git)
LOCK_ARTIFACT = "lineage/dvc.lock"          # its copy on a registered version's run: `cleargate reproduce` reads it
_SKOPS_ID = re.compile(r'("__id__": |"file": ")(\d+)')   # object ids (memory addresses) in a skops schema


def git_commit(root: Path) -> str:
    """HEAD's sha, suffixed `-dirty` when tracked files differ from it; `unknown` outside git."""
    try:
        sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True,
                             check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root,
                               capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return f"{sha}-dirty" if dirty else sha


def params_digest(params: DatasetParams) -> str:
    """Digest of the validated parameters (paths excluded: moving the project changes nothing)."""
    payload = params.model_dump(mode="json", exclude={"paths", "tracking", "root"})
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def lock_snapshot(root: Path) -> bytes | None:
    """dvc.lock as it is now (read once: its digest is tagged and the same bytes are logged with the version)."""
    path = root / LOCK_FILE
    return path.read_bytes() if path.is_file() else None


def lineage_tags(params: DatasetParams, root: Path, data_sha256: str, split_digest: str,
                 lock: bytes | None) -> dict[str, str]:
    return {
        "lineage.git_commit": git_commit(root),
        "lineage.dvc_lock_sha256": hashlib.sha256(lock).hexdigest() if lock is not None else "missing",
        "lineage.params_sha256": params_digest(params),
        "lineage.raw_data_sha256": data_sha256,
        "lineage.split_sha256": split_digest,
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
