"""Ask DVC what is stale, once per run, and record the stages the flow ran in dvc.lock.

The flow and `dvc repro` then share one notion of "up to date": after the flow, `dvc status` is clean
and `dvc repro` does nothing; a second flow run skips exactly what `dvc repro` would skip. A stage runs
when DVC finds it stale or when a stage it depends on runs in this flow run (DVC compares with dvc.lock,
which the upstream stage has not changed yet). DVC resolves names against the working directory, so each
call runs inside the repo (the stage functions themselves use absolute paths).
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Iterator
from contextlib import chdir, contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dvc.repo import Repo, lock_repo


@dataclass(frozen=True)
class Staleness:
    stale: set[str]                     # stages DVC finds out of date with dvc.lock
    upstream: dict[str, set[str]]       # stage -> the stages whose outputs it reads

    def needs_run(self, stage: str, ran: Iterable[str]) -> bool:
        return stage in self.stale or bool(self.upstream.get(stage, set()) & set(ran))


_PREFETCHED: dict[Path, Staleness] = {}  # root -> DVC's answer asked before the flow started


def prefetch(root: Path) -> None:
    """Ask DVC now, before the flow starts; the next `staleness(root)` in this process takes this answer (once).
    Best effort: if DVC cannot answer (no DVC repo, a broken dvc.yaml), the flow asks again where it always has,
    so its failure reads as before (e.g. an unreachable Dask scheduler is reported first)."""
    with suppress(Exception):  # the flow's own call raises it in its place
        _PREFETCHED[Path(root).resolve()] = _ask(root)


def staleness(root: Path) -> Staleness:
    return _PREFETCHED.pop(Path(root).resolve(), None) or _ask(root)


def _ask(root: Path) -> Staleness:
    """`dvc status` and the stage graph under one repo lock: DVC builds its index once (each locked call
    otherwise rebuilds it, ~2 s here), reading each params file once (`_params_read_once`)."""
    with chdir(root), Repo(str(root)) as repo, lock_repo(repo), _params_read_once():
        stale = set(repo.status())
        upstream: dict[str, set[str]] = {}
        for downstream, dependency in repo.index.graph.edges():
            upstream.setdefault(downstream.addressing, set()).add(dependency.addressing)
    return Staleness(stale, upstream)


@contextmanager
def _params_read_once() -> Iterator[None]:
    """Within one status call, DVC parses params.yaml again for every stage that depends on a parameter (56
    here; ruamel, ~60 ms each: 3.5 s of a 7.4 s `repo.status()`, cProfile). The file does not change while DVC
    holds the repo lock, so each file is parsed once and every stage gets its own copy. Written here because
    DVC has no switch for it; it replaces `dvc.dependency.param.load_path` only inside this context."""
    from dvc.dependency import param

    original, parsed = param.load_path, {}

    def load_once(path: str, fs: Any, **kwargs: Any) -> Any:
        key = (path, id(fs), tuple(sorted(kwargs.items())))
        if key not in parsed:
            parsed[key] = original(path, fs, **kwargs)
        return copy.deepcopy(parsed[key])

    param.load_path = load_once
    try:
        yield
    finally:
        param.load_path = original


def commit(root: Path, stages: Iterable[str]) -> None:
    """Hash the stages' deps and outs into dvc.lock (and the local cache), as `dvc repro` would: what
    `dvc commit --force` does for each, with dvc.lock rewritten once for all of them (DVC rewrites the whole
    lock file per commit: about a second each on this project's 52 stages), params.yaml parsed once
    (`_params_read_once`)."""
    names = list(stages)
    if not names:
        return
    with chdir(root), Repo(str(root)) as repo, repo.lock, _params_read_once():
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
