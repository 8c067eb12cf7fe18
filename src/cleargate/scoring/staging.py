"""A scoring's output folder, written whole or not at all: files go to a temp folder beside it, which is
renamed into place when complete. The folder left behind is one run's: its report, and its predictions
only if that run made them; a crash leaves the previous folder (or none), never a mix."""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from pathlib import Path

import psutil

from cleargate.layout import ScoreFiles


class Staging:
    """`with Staging(files) as stage:` write to `stage.files`, then `stage.commit()`; without a commit the
    temp folder is removed when the block ends (an error, a refusal that keeps nothing)."""

    def __init__(self, final: ScoreFiles) -> None:
        self.final = final
        final.dir.parent.mkdir(parents=True, exist_ok=True)
        _remove_abandoned(final.dir)
        self.files = ScoreFiles(Path(tempfile.mkdtemp(prefix=f".{final.dir.name}.{os.getpid()}.", suffix=".tmp",
                                                      dir=final.dir.parent)))
        self.committed = False

    def __enter__(self) -> Staging:
        return self

    def __exit__(self, *exc: object) -> None:
        if not self.committed:
            shutil.rmtree(self.files.dir, ignore_errors=True)

    def commit(self) -> ScoreFiles:
        """Swap the temp folder in: an earlier folder for the same input and model version is replaced
        whole (moved aside first: a folder cannot be renamed over a non-empty one)."""
        target = self.final.dir
        for _ in range(5):  # another run may commit the same folder between our two renames
            old = None
            if target.exists():
                old = target.with_name(f".{target.name}.old-{uuid.uuid4().hex[:8]}")
                try:
                    os.replace(target, old)
                except FileNotFoundError:
                    old = None
            try:
                os.replace(self.files.dir, target)
            except OSError:
                if old is not None:
                    shutil.rmtree(old, ignore_errors=True)
                continue
            if old is not None:
                shutil.rmtree(old, ignore_errors=True)
            self.committed = True
            return self.final
        raise OSError(f"{target}: could not be replaced (another run keeps writing it)")


def _remove_abandoned(final: Path) -> None:
    """Temp folders of runs that died (kill -9, power loss) before renaming theirs: never read, removed."""
    for folder in final.parent.glob(f".{final.name}.*.tmp"):
        pid = folder.name.removeprefix(f".{final.name}.").split(".")[0]
        if pid.isdigit() and not psutil.pid_exists(int(pid)):
            shutil.rmtree(folder, ignore_errors=True)

