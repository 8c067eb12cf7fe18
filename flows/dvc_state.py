"""Ask DVC whether a stage is stale, and record a stage the flow ran in dvc.lock.

The flow and `dvc repro` then share one notion of "up to date": after the flow, `dvc status` is clean
and `dvc repro` does nothing; a second flow run skips exactly what `dvc repro` would skip.
DVC resolves stage names and its run cache against the working directory, so each call runs inside the
repo (the stage functions themselves use absolute paths and do not care).
"""

from __future__ import annotations

from contextlib import chdir
from pathlib import Path

from dvc.repo import Repo


def is_up_to_date(root: Path, stage: str) -> bool:
    with chdir(root), Repo(str(root)) as repo:
        return not repo.status(targets=[stage])


def commit(root: Path, stage: str) -> None:
    """Hash the stage's deps and outs into dvc.lock (and the local cache), as `dvc repro` would."""
    with chdir(root), Repo(str(root)) as repo:
        repo.commit(stage, force=True)
