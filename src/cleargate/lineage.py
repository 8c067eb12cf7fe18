"""Where a model came from: git commit, dvc.lock, params and data digests, as registry tags."""

from __future__ import annotations

import hashlib
import json
import subprocess
from pathlib import Path

from cleargate.io import sha256_file
from cleargate.layout import WEIGHTS
from cleargate.params import DatasetParams
from cleargate.records import TrainRecord


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
    payload = params.model_dump(mode="json", exclude={"paths", "tracking"})
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def lineage_tags(params: DatasetParams, root: Path, data_sha256: str, split_digest: str) -> dict[str, str]:
    return {
        "lineage.git_commit": git_commit(root),
        "lineage.dvc_lock_sha256": sha256_file(root / "dvc.lock") if (root / "dvc.lock").is_file() else "missing",
        "lineage.params_sha256": params_digest(params),
        "lineage.raw_data_sha256": data_sha256,
        "lineage.split_sha256": split_digest,
    }


def model_digest(model_dir: Path) -> str:
    """Digest of the saved weights/estimator: equal digests mean the same model."""
    digest = hashlib.sha256()
    for name in sorted(WEIGHTS.values()):
        if (path := Path(model_dir) / name).is_file():
            digest.update(path.read_bytes())
    return digest.hexdigest()


def parent_tags(record: TrainRecord) -> dict[str, str]:
    """A fine-tuned model names the model it started from (the registered version, when it was one)."""
    if record.parent is None:
        return {}
    return {"lineage.parent_model": record.parent, "lineage.parent_version": record.parent_version or "none",
            "lineage.parent_sha256": record.parent_sha256 or "unknown",
            "lineage.parent_freeze": record.freeze or "none", "lineage.parent_head": record.head or "unknown"}
