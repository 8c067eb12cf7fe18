"""Ask DVC what is stale, once per run, and record the stages the flow ran in dvc.lock.

The flow and `dvc repro` then share one notion of "up to date": after the flow, `dvc status` is clean
and `dvc repro` does nothing; a second flow run skips exactly what `dvc repro` would skip. A stage runs
when DVC finds it stale or when a stage it depends on runs in this flow run (DVC compares with dvc.lock,
which the upstream stage has not changed yet). DVC resolves names against the working directory, so each
call runs inside the repo (the stage functions themselves use absolute paths).
"""

from __future__ import annotations

from collections.abc import Iterable
from contextlib import chdir
from dataclasses import dataclass
from pathlib import Path

from dvc.repo import Repo


@dataclass(frozen=True)
class Staleness:
    stale: set[str]                     # stages DVC finds out of date with dvc.lock
    upstream: dict[str, set[str]]       # stage -> the stages whose outputs it reads

    def needs_run(self, stage: str, ran: Iterable[str]) -> bool:
        return stage in self.stale or bool(self.upstream.get(stage, set()) & set(ran))


def staleness(root: Path) -> Staleness:
    with chdir(root), Repo(str(root)) as repo:
        stale = set(repo.status())
        upstream: dict[str, set[str]] = {}
        for downstream, dependency in repo.index.graph.edges():
            upstream.setdefault(downstream.addressing, set()).add(dependency.addressing)
    return Staleness(stale, upstream)


def commit(root: Path, stages: Iterable[str]) -> None:
    """Hash the stages' deps and outs into dvc.lock (and the local cache), as `dvc repro` would: what
    `dvc commit --force` does for each, with dvc.lock rewritten once for all of them (DVC rewrites the whole
    lock file per commit: about a second each on this project's 52 stages)."""
    names = list(stages)
    if not names:
        return
    with chdir(root), Repo(str(root)) as repo, repo.lock:
        index = {stage.addressing: stage for stage in repo.index.stages}
        chosen = [index[name] for name in names]
        for stage in chosen:
            stage.save()
            stage.commit(relink=True)
        by_file: dict = {}
        for stage in chosen:
            by_file.setdefault(stage.dvcfile, []).append(stage)
        for dvcfile, group in by_file.items():
            dvcfile.dump_stages(group, update_pipeline=False)
