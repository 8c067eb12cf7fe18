"""`cleargate reproduce NAME@ALIAS`: rebuild a registered version from its lineage and say whether it is the same.

The version's tags name the git commit and the digests of its params, data and dvc.lock (logged with it);
the commit is checked out into a temporary git worktree, DVC there uses the project's cache (or its remote)
to restore the splits the dvc.lock names (checked against the split digest), `dvc repro` rebuilds the model's
train and evaluate stages with the commit's code,
and the rebuilt metrics and weights are compared with the registered ones (`verdict.py`). The worktree and
its scratch tracking store are removed whatever happens; the project's store, registry and cache are only read.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from cleargate.errors import CleargateError
from cleargate.reproduce.rebuild import environment, probe, rebuild, restore
from cleargate.reproduce.registered import registered
from cleargate.reproduce.verdict import Verdict, compare
from cleargate.reproduce.worktree import checkout, repository, require_commit, share_storage
from cleargate.tracking.lineage import LOCK_FILE, PARAMS_FILE, environment_tags

if TYPE_CHECKING:
    from mlflow.tracking import MlflowClient

__all__ = ["Verdict", "environment_differences", "reproduce"]


def environment_differences(registered: dict[str, str], now: dict[str, str]) -> list[str]:
    """`<what> <then> now <today>` for each environment tag of the version that differs from today's."""
    found = []
    for key, value in sorted(now.items()):
        then = registered.get(key)
        if then is not None and then != value:
            what = key.removeprefix("lineage.")
            shown = (then[:12], value[:12]) if what == "env_sha256" else (then, value)
            found.append(f"{'requirements.lock' if what == 'env_sha256' else what} {shown[0]} now {shown[1]}")
    return found


def reproduce(project: Path, client: MlflowClient, model_ref: str, say: Callable[[str], None],
              strict_env: bool = False) -> Verdict:
    """Rebuild `model_ref` from the repository of `project` and compare; `say` gets one line per step. With
    `strict_env`, a version built in another environment (requirements.lock, Python, torch, ...) is refused."""
    version = registered(client, model_ref)
    label, tags = version.label, version.tags
    repo = repository(project)
    require_commit(repo, version.commit, label)
    differs = environment_differences(tags, environment_tags(project))
    if differs:
        line = f"{label}: built in another environment: {'; '.join(differs)}"
        if strict_env:
            raise CleargateError(f"{line}; --strict-env refuses to rebuild it (set the environment up from the "
                                 "version's commit: `git checkout <commit> -- requirements.lock && make setup`)")
    say(f"{label}: model {version.model}, commit {version.commit[:12]}"
        + (f", experiment {tags['lineage.dvc_exp_name']}" if "lineage.dvc_exp_baseline" in tags else ""))
    if differs:
        say(f"{line}; rebuilding anyway (--strict-env refuses)")
    with checkout(repo, version.commit) as (tree, scratch):
        tree_project = tree / project.resolve().relative_to(repo.resolve())
        (tree_project / LOCK_FILE).write_bytes(version.lock)  # the stages that made it, as DVC recorded them
        (tree_project / PARAMS_FILE).write_bytes(version.params_file)  # what it ran with (e.g. `dvc exp run -S`)
        cache = share_storage(project, tree_project)
        env = environment(tree_project, scratch)
        found = probe(tree_project, env, version.model, "checked-out")
        if found["params_sha256"] != tags.get("lineage.params_sha256"):
            raise CleargateError(f"{label}: the params differ: params.yaml at {version.commit[:12]} digests to "
                                 f"{found['params_sha256'][:12]}, the version was built with "
                                 f"{tags.get('lineage.params_sha256', 'missing')[:12]} (lineage.params_sha256); "
                                 "it was not built from its commit's params.yaml, so it cannot be rebuilt")
        source = restore(tree_project, env, found["dataset"], found["splits"], cache, label)
        say(f"restored {found['splits']}/ from {source}")
        rebuilt = rebuild(tree_project, env, version.model)
    if rebuilt.split_sha256 != tags.get("lineage.split_sha256"):
        raise CleargateError(f"{label}: the splits restored from {source} digest to {rebuilt.split_sha256[:12]}, the "
                             f"version was trained on {tags.get('lineage.split_sha256', 'missing')[:12]} "
                             "(lineage.split_sha256): the DVC storage holds other data under that name")
    verdict = compare(version, rebuilt)
    say(f"rebuilt train@{version.model} and evaluate@{version.model} in {rebuilt.seconds:.0f} s on the registered "
        f"splits; {verdict.compared} test metrics compared exactly with run {version.run_id[:12]}; weights sha256 "
        f"{rebuilt.model_sha256[:12]} (registered {tags.get('lineage.model_sha256', 'missing')[:12]})")
    return verdict
