"""What `cleargate gc` found and did, as one record: lines for a person, one JSON object for a script."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cleargate.config.retention import RUN_KINDS


def size(n: int | None) -> str:
    if n is None:
        return "unknown size"
    for unit in ("bytes", "kB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1000   # type: ignore[assignment]
    return f"{n:.1f} TB"


@dataclass(frozen=True)
class GcReport:
    dry_run: bool
    keep_days: dict[str, int]
    runs: dict[str, list[str]]          # kind -> ids of the runs that go (or would)
    protected_runs: int                 # old enough, of a deletable kind, kept: a registered version rests on them
    run_bytes: int | None               # their artifacts, where they are files here (None: on a server)
    also_purged: list[str]              # experiments the store holds as deleted, which `mlflow gc` removes too
    purge: str                          # what purging did, or what a tracking server's operator runs
    cache: str | None                   # the DVC cache swept (None: the project has none)
    cache_objects: int                  # objects that go (or would)
    cache_bytes: int
    cache_total: int                    # objects in the cache before
    cache_kept: int                     # named by the keep-set
    cache_young: int                    # kept for being younger than the grace period
    grace_minutes: int
    keep_sources: list[str]             # what the keep-set was read from
    without_lineage: list[str]          # versions with no dvc.lock entries logged (nothing of theirs to keep)

    @property
    def run_count(self) -> int:
        return sum(len(ids) for ids in self.runs.values())

    @property
    def freed_bytes(self) -> int:
        return self.cache_bytes + (self.run_bytes or 0)

    def lines(self) -> list[str]:
        verb = "would delete" if self.dry_run else "deleted"
        days = ", ".join(f"{k} {d} d" for k, d in self.keep_days.items())
        kinds = ", ".join(f"{k} {len(self.runs.get(k, []))}" for k in RUN_KINDS)
        out = [f"MLflow runs: {verb} {self.run_count} ({kinds}; {size(self.run_bytes)} of artifacts)",
               f"  kept: runs that ended within {days}, and {self.protected_runs} older one(s) registered versions "
               "rest on"]
        if self.run_count and self.also_purged:
            out.append(f"  `mlflow gc` {'would also remove' if self.dry_run else 'also removed'} "
                       f"{len(self.also_purged)} experiment(s) already deleted in the store (e.g. "
                       f"{', '.join(self.also_purged[:3])})")
        if self.run_count and not self.dry_run:
            out.append(f"  {self.purge}")
        if self.cache is None:
            out.append("DVC cache: none (no .dvc/ in the project)")
        else:
            versions = sum(1 for s in self.keep_sources if "lineage" in s)
            out += [f"DVC cache {self.cache}: {verb} {self.cache_objects} of {self.cache_total} objects "
                    f"({size(self.cache_bytes)})",
                    f"  kept: {self.cache_kept} named by the workspace, HEAD and {versions} registered version(s)' "
                    f"lineage; {self.cache_young} younger than {self.grace_minutes} min"]
        if self.without_lineage:
            out.append(f"  registered with no dvc.lock entries (nothing of theirs to keep): "
                       f"{', '.join(self.without_lineage[:5])}{' ...' if len(self.without_lineage) > 5 else ''}")
        out.append("dry run: nothing deleted" if self.dry_run else f"freed {size(self.freed_bytes)}")
        return out

    def as_json(self) -> dict[str, Any]:
        return {"dry_run": self.dry_run, "keep_days": self.keep_days,
                "runs": {k: {"count": len(self.runs.get(k, [])), "run_ids": self.runs.get(k, [])} for k in RUN_KINDS},
                "runs_total": self.run_count, "runs_protected": self.protected_runs,
                "run_artifact_bytes": self.run_bytes, "also_purged_experiments": self.also_purged,
                "purge": None if self.dry_run else self.purge,
                "cache": None if self.cache is None else {
                    "dir": self.cache, "objects": self.cache_objects, "bytes": self.cache_bytes,
                    "total_objects": self.cache_total, "kept_objects": self.cache_kept,
                    "young_objects": self.cache_young, "grace_minutes": self.grace_minutes,
                    "kept_for": self.keep_sources, "versions_without_lineage": self.without_lineage},
                "freed_bytes": 0 if self.dry_run else self.freed_bytes,
                "would_free_bytes": self.freed_bytes if self.dry_run else 0}
