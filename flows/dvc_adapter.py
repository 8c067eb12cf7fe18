"""The one place the flows use DVC below its command line: ask what is stale, once per run, and record the
stages the flow ran in dvc.lock, in one write.

DVC's own `Repo.status()` and the repo's stage graph answer the first; the second is `dvc commit --force` of
the stages that ran (each stage saved, its outputs committed to the cache), with DVC's per-file dump of all of
them at once instead of one rewrite of the whole dvc.lock per stage (what `Repo.commit` does for one target).
`tests/integration/test_dvc_adapter.py` checks against the installed DVC that both give what `dvc status`
and `dvc commit --force` give, and fails loudly when DVC changes the calls used here.

The flow and `dvc repro` then share one notion of "up to date": after the flow, `dvc status` is clean
and `dvc repro` does nothing; a second flow run skips exactly what `dvc repro` would skip. A stage runs
when DVC finds it stale or when a stage it depends on runs in this flow run (DVC compares with dvc.lock,
which the upstream stage has not changed yet). DVC resolves names against the working directory, so each
call runs inside the repo (the stage functions themselves use absolute paths).
"""

from __future__ import annotations

from collections.abc import Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import AbstractContextManager, chdir, nullcontext, suppress
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
    otherwise rebuilds it)."""
    with chdir(root), Repo(str(root)) as repo, lock_repo(repo):
        stale = set(repo.status())
        upstream: dict[str, set[str]] = {}
        for downstream, dependency in repo.index.graph.edges():
            upstream.setdefault(downstream.addressing, set()).add(dependency.addressing)
    return Staleness(stale, upstream)


class LockRecorder:
    """Records the stages a flow run ran in dvc.lock, as `dvc repro` would: for each, what `dvc commit --force`
    does (deps and outs hashed, outs into the local cache, the run cache), with dvc.lock written once for all of
    them (DVC rewrites the whole lock file per write, a second or so each on a project of many stages).

    The hashing starts early: `hash_soon` (called as each dataset is promoted) hashes the stages done so far on
    one thread of the flow's process, which otherwise only waits for its workers while the next dataset fits;
    `write` hashes the rest and writes dvc.lock, so the run's end waits only for the last dataset's stages. Every
    DVC call happens on that one thread, and only in the project root: DVC resolves names against the working
    directory, which a thread must not change under the others (run from elsewhere, all waits for `write`)."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root).resolve()
        self.early = Path.cwd().resolve() == self.root
        self._thread: ThreadPoolExecutor | None = None
        self._jobs: list[Future] = []
        self._repo: Any = None
        self._saved: dict[str, Any] = {}   # stage name -> its hashed DVC stage

    def hash_soon(self, names: Iterable[str]) -> None:
        if self.early and (names := list(names)):
            self._jobs.append(self._worker().submit(self._save, names))

    def write_soon(self, names: Iterable[str]) -> list[str]:
        """Start writing `names` into dvc.lock on the recorder's thread and return at once (what is left for
        `write`: nothing, or all of them when the flow runs from elsewhere, where only `write` may run DVC)."""
        names = list(names)
        if not self.early or not names:
            return names
        self._jobs.append(self._worker().submit(self._write, names))
        return []

    def write(self, names: Iterable[str]) -> None:
        """Every stage in `names` into dvc.lock, in one write, after any write started by `write_soon`; a failure
        of the early hashing or of that write is raised here."""
        names = list(names)
        if not names and not self._jobs:
            return
        try:
            for job in self._jobs:
                job.result()
            if names:
                self._worker().submit(self._write, names).result()
        finally:
            self._jobs = []
            self._close()

    def _worker(self) -> ThreadPoolExecutor:
        if self._thread is None:
            self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="dvc-lock")
        return self._thread

    def _save(self, names: list[str]) -> None:
        with self._in_root():
            if self._repo is None:
                self._repo = Repo(str(self.root))
            with self._repo.lock:
                index = {stage.addressing: stage for stage in self._repo.index.stages}
                for name in names:
                    if name not in self._saved:
                        stage = index[name]
                        stage.save()
                        stage.commit(relink=True)
                        self._saved[name] = stage

    def _write(self, names: list[str]) -> None:
        self._save(names)
        with self._in_root(), self._repo.lock:
            by_file: dict[str, list[Any]] = {}
            for name in names:
                stage = self._saved[name]
                by_file.setdefault(stage.dvcfile.path, []).append(stage)
            for group in by_file.values():
                group[0].dvcfile.dump_stages(group, update_pipeline=False)

    def _in_root(self) -> AbstractContextManager[Any]:
        return nullcontext() if self.early else chdir(self.root)

    def _close(self) -> None:
        if self._thread is not None:
            if self._repo is not None:
                self._thread.submit(self._repo.close).result()
            self._thread.shutdown(wait=True)
        self._thread, self._repo, self._saved = None, None, {}
