"""A registered version's commit checked out beside the project, with the project's DVC storage, removed after."""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from cleargate.errors import CleargateError

DVC_CONFIGS = (Path(".dvc") / "config", Path(".dvc") / "config.local")   # DVC's settings: cache, remotes, credentials
SCRATCH_PREFIX = "cleargate-reproduce-"


def command(args: list[str], cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, check=False)


def dvc(args: list[str], cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """DVC of this interpreter (the project's environment), not whichever `dvc` is first on PATH."""
    return command([sys.executable, "-m", "dvc", *args], cwd, env)


def last_line(done: subprocess.CompletedProcess[str]) -> str:
    lines = [line.strip() for line in (done.stderr + "\n" + done.stdout).splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith(("ERROR", "error:"))]
    return (errors or lines or [f"exit {done.returncode}"])[-1][:400]


def repository(project: Path) -> Path:
    done = command(["git", "rev-parse", "--show-toplevel"], project)
    if done.returncode != 0:
        raise CleargateError(f"{project}: not inside a git repository; reproduce from a clone of the project")
    return Path(done.stdout.strip())


def require_commit(repo: Path, commit: str, label: str) -> None:
    if command(["git", "cat-file", "-e", f"{commit}^{{commit}}"], repo).returncode != 0:
        raise CleargateError(f"{label}: commit {commit[:12]} is not in the history of {repo}; fetch it "
                             "(`git fetch --all`) or reproduce from the clone that built it")


def _interrupted(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


@contextmanager
def checkout(repo: Path, commit: str) -> Iterator[tuple[Path, Path]]:
    """(worktree at `commit`, a scratch folder beside it); both removed on any exit, Ctrl-C and `kill` included."""
    scratch = Path(tempfile.mkdtemp(prefix=SCRATCH_PREFIX))
    tree = scratch / "tree"
    command(["git", "worktree", "prune"], repo)   # registrations of trees a killed run left behind
    main = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _interrupted) if main else None
    try:
        added = command(["git", "worktree", "add", "--detach", str(tree), commit], repo)
        if added.returncode != 0:
            raise CleargateError(f"{repo}: could not check out {commit[:12]} into {tree} ({last_line(added)})")
        yield tree, scratch
    finally:
        command(["git", "worktree", "remove", "--force", str(tree)], repo)
        shutil.rmtree(scratch, ignore_errors=True)
        command(["git", "worktree", "prune"], repo)
        if main:
            signal.signal(signal.SIGTERM, previous)


def share_storage(project: Path, tree_project: Path) -> Path:
    """Point the checkout's DVC at the project's cache and remotes (its settings of today, not the commit's:
    where the data are stored is no part of the build); returns the cache."""
    found = dvc(["cache", "dir"], project)
    if found.returncode != 0:
        raise CleargateError(f"{project}: not a DVC project ({last_line(found)}); run `dvc init` there")
    cache = Path(found.stdout.strip()).resolve()
    for config in DVC_CONFIGS:
        if (path := project / config).is_file():
            shutil.copy2(path, tree_project / config)
    done = dvc(["config", "--local", "cache.dir", str(cache)], tree_project)
    if done.returncode != 0:
        raise CleargateError(f"{tree_project}: could not point DVC at the cache {cache} ({last_line(done)})")
    return cache
