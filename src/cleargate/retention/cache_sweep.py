"""The sweep of a project's DVC cache: every object the keep-set (`cache_keep`) does not name goes, unless it
entered the cache less than `retention.cache_grace_minutes` ago (a run may be writing it before its dvc.lock
names it). Only files named like DVC's objects are touched (`<2 hex>/<30 hex>[.dir]` under `files/md5/` and, for
DVC 2's legacy objects, the cache root): DVC's temporary files, its run-cache (`runs/`) and anything else stay.
A run-cache entry whose outputs were swept is one DVC no longer restores from (it checks that they are cached):
the stage runs instead.
"""

from __future__ import annotations

import re
import subprocess
import sys
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path

from cleargate.errors import CleargateError, ConfigError

PREFIX = re.compile(r"^[0-9a-f]{2}$")
REST = re.compile(r"^[0-9a-f]{30}(\.dir)?$")


@dataclass(frozen=True)
class CacheObject:
    md5: str
    path: Path
    size: int


@dataclass(frozen=True)
class CachePlan:
    cache: Path
    doomed: tuple[CacheObject, ...]   # what goes
    kept: int                         # objects the keep-set names
    young: int                        # objects no keep-set names, kept for being younger than the grace period

    @property
    def bytes(self) -> int:
        return sum(o.size for o in self.doomed)

    @property
    def total(self) -> int:
        return len(self.doomed) + self.kept + self.young


def cache_dir(root: Path) -> Path | None:
    """The project's DVC cache, as `dvc cache dir` names it; None for a project without DVC. A cache outside the
    project (shared by several) is refused: what the other projects need is not known here."""
    if not (root / ".dvc").is_dir():
        return None
    done = subprocess.run([sys.executable, "-m", "dvc", "cache", "dir"], cwd=root, capture_output=True, text=True,
                          check=False)
    if done.returncode != 0:
        raise ConfigError(f"{root}: `dvc cache dir` failed ({(done.stderr.strip().splitlines() or ['?'])[-1]}); "
                          "fix the project's DVC configuration (.dvc/config)")
    cache = Path(done.stdout.strip()).resolve()
    if not cache.is_relative_to(root.resolve()):
        raise ConfigError(f"{cache}: the DVC cache is outside the project {root} (shared?); `cleargate gc` collects "
                          "only a project's own cache, whose users it knows: point cache.dir back into the project")
    return cache


def objects(cache: Path) -> list[CacheObject]:
    """Every object in the cache, DVC 3's and DVC 2's legacy ones."""
    found = []
    for base in (cache / "files" / "md5", cache):
        if not base.is_dir():
            continue
        for prefix in base.iterdir():
            if not (prefix.is_dir() and PREFIX.match(prefix.name)):
                continue
            for path in prefix.iterdir():
                if REST.match(path.name) and path.is_file() and not path.is_symlink():
                    found.append(CacheObject(prefix.name + path.name, path, path.stat().st_size))
    return found


def plan_sweep(cache: Path, keep: frozenset[str], grace_s: float, now: float) -> CachePlan:
    doomed, kept, young = [], 0, 0
    for item in objects(cache):
        if item.md5 in keep:
            kept += 1
            continue
        status = item.path.stat()
        if now - max(status.st_mtime, status.st_ctime) < grace_s:
            young += 1
            continue
        doomed.append(item)
    return CachePlan(cache, tuple(sorted(doomed, key=lambda o: o.md5)), kept, young)


def sweep(plan: CachePlan) -> int:
    """Delete the plan's objects (and the folders they leave empty); returns the bytes removed."""
    removed = 0
    for item in plan.doomed:
        try:
            item.path.unlink(missing_ok=True)
        except OSError as exc:
            raise CleargateError(f"{item.path}: could not delete a DVC cache object ({exc.strerror}); fix the "
                                 f"permissions of {item.path.parent}, then run `cleargate gc` again") from None
        removed += item.size
        with suppress(OSError):   # a folder that is not empty yet
            item.path.parent.rmdir()
    return removed
